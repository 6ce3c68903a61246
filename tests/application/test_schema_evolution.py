"""The worked example of docs/schema-evolution.md: `Suggestion.Forwarded` gained `reference` at
class version 2. A store written before (tests/vectors/events/, every stored event of a tiny region,
verbatim, by the code of main at 81c0e7a) still verifies — signatures, hash chains, replay — and its
version 1 event decodes with the default; nothing in it is rewritten. New events are signed at
version 2 and say so in their payload."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.domain.orders import Suggestion
from ledger.storage.mapper import CLASS_VERSION, decode_event, upcast_payload
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.verification.store import verify_store
from tests.scenario import build_region

OLD_STORE = Path(__file__).parents[1] / "vectors" / "events" / "store-before-suggestion-forwarded-v2.json"
FORWARDED_TOPIC = "ledger.domain.orders:Suggestion.Forwarded"


@pytest.fixture(scope="module")
def old_store() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OLD_STORE.read_text(encoding="utf-8"))
    return document


@pytest.fixture
def loaded(old_store: dict[str, Any]) -> Iterator[Ledger]:
    """A fresh store holding the old store's events, byte for byte."""
    ledger = Ledger("memory:")
    ledger.recorder.insert_events([
        StoredEvent(originator_id=UUID(row["originator_id"]), originator_version=row["originator_version"],
                    topic=row["topic"], state=base64.b64decode(row["state"])) for row in old_store["events"]])
    yield ledger
    ledger.close()


def _payload(state: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = parse_signed_bytes(unpack(state)[1]).payload
    return payload


def test_the_old_store_holds_a_version_1_forwarded_event(old_store: dict[str, Any]) -> None:
    forwarded = [row for row in old_store["events"] if row["topic"] == FORWARDED_TOPIC]
    assert len(forwarded) == 1
    assert _payload(base64.b64decode(forwarded[0]["state"])) == {"agency": "区住建局"}  # no marker, no reference


def test_an_old_store_still_verifies_and_its_version_1_event_decodes_with_the_default(
        old_store: dict[str, Any], loaded: Ledger) -> None:
    report = verify_store(loaded.database, root_public_key=base64.b64decode(old_store["root_public_key"]),
                          region_code=old_store["region_code"], recorder=loaded.recorder, workers=0)
    assert report.ok, [str(problem) for problem in report.problems]
    assert report.events_checked == len(old_store["events"]) and report.by_type["Suggestion.Forwarded"] == 1
    suggestion = loaded.repository.get(UUID(old_store["suggestion_id"]))
    assert isinstance(suggestion, Suggestion)
    assert (suggestion.status, suggestion.outcome_note, suggestion.outcome_reference) == ("forwarded", "区住建局", "")
    stored = loaded.recorder.select_notifications(start=1, limit=1000)
    assert [base64.b64encode(row.state).decode() for row in stored] == [row["state"] for row in old_store["events"]]
    event = loaded.mapper.to_domain_event(next(row for row in stored if row.topic == FORWARDED_TOPIC))
    assert type(event) is Suggestion.Forwarded and (event.agency, event.reference) == ("区住建局", "")
    assert CLASS_VERSION not in vars(event)


def test_a_new_forwarded_event_is_signed_at_version_2_and_the_store_verifies() -> None:
    ledger = Ledger("memory:")
    region = build_region(ledger, members=1)
    suggestion_id = ledger.submit_suggestion(actor=region.members[0], content="建议增设休息座椅")
    ledger.forward_suggestion(actor=region.community, suggestion_id=suggestion_id, agency="区城管局",
                              reference="玄城管〔2026〕3号")
    row = next(row for row in ledger.recorder.select_notifications(start=1, limit=1000)
               if row.topic == FORWARDED_TOPIC)
    assert _payload(row.state) == {"agency": "区城管局", "reference": "玄城管〔2026〕3号", CLASS_VERSION: 2}
    assert ledger.get_suggestion(suggestion_id).outcome_reference == "玄城管〔2026〕3号"
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, [str(problem) for problem in report.problems]
    ledger.close()


def test_upcasting_runs_each_step_from_the_stored_version_and_refuses_a_newer_one() -> None:
    assert upcast_payload(Suggestion.Forwarded, {"agency": "区住建局"}) == {"agency": "区住建局", "reference": ""}
    current = {"agency": "区住建局", "reference": "A-1", CLASS_VERSION: 2}
    assert upcast_payload(Suggestion.Forwarded, current) == {"agency": "区住建局", "reference": "A-1"}
    for unknown in (3, 0, "2", True):
        with pytest.raises(ValueError, match="class version"):
            upcast_payload(Suggestion.Forwarded, {"agency": "区住建局", CLASS_VERSION: unknown})
    unversioned = {"note": "已纳入社区年度计划"}
    assert upcast_payload(Suggestion.Adopted, unversioned) is unversioned  # version 1 classes: no copy
    event = decode_event(Suggestion.Forwarded, uuid4(), 2, "2026-11-02T02:00:00+00:00", {"agency": "区住建局"},
                         chain="0" * 64)
    assert event.reference == ""


# -- issue #12: the region's setting events carry their reason (class version 2) -------------------------

REGION_STORE = Path(__file__).parents[1] / "vectors" / "events" / "store-before-region-reasons-v2.json"
REASONED = ("Region.SettingsChanged", "Region.ReportDeadlineSet", "Region.YearRescored", "Region.TransferTimeoutSet")


def test_a_store_from_before_region_reasons_verifies_and_decodes_with_no_reason() -> None:
    from ledger.domain.region import Region

    document = json.loads(REGION_STORE.read_text(encoding="utf-8"))
    ledger = Ledger("memory:")
    ledger.recorder.insert_events([
        StoredEvent(originator_id=UUID(row["originator_id"]), originator_version=row["originator_version"],
                    topic=row["topic"], state=base64.b64decode(row["state"])) for row in document["events"]])
    report = verify_store(ledger.database, root_public_key=base64.b64decode(document["root_public_key"]),
                          region_code=document["region_code"], recorder=ledger.recorder, workers=0)
    assert report.ok, [str(problem) for problem in report.problems]
    stored = ledger.recorder.select_notifications(start=1, limit=1000)
    old = [row for row in stored if row.topic.split(":")[1] in REASONED]
    assert sorted(row.topic.split(":")[1] for row in old) == sorted(REASONED)
    for row in old:
        assert "reason" not in _payload(row.state) and CLASS_VERSION not in _payload(row.state)
        assert ledger.mapper.to_domain_event(row).reason == ""  # type: ignore[attr-defined]  # v2 events have it
    region = ledger.repository.get(Region.create_id("320102"))
    assert (region.display_name, region.storage_cap_minutes, region.transfer_timeout_days) == ("玄武时间银行", 90000, 45)
    ledger.close()


def test_a_region_setting_change_is_signed_at_version_2_with_its_reason() -> None:
    from datetime import date

    ledger = Ledger("memory:")
    region = build_region(ledger, members=1)
    ledger.set_transfer_timeout(actor=region.region, days=60, reason="跨省转移回执较慢")
    ledger.set_report_deadline(actor=region.region, year=2027, deadline=date(2027, 9, 30), reason="推迟一个月")
    rows = [row for row in ledger.recorder.select_notifications(start=1, limit=1000)
            if row.topic.endswith(("Region.TransferTimeoutSet", "Region.ReportDeadlineSet"))]
    payloads = [_payload(row.state) for row in rows]
    assert {"days": 60, "reason": "跨省转移回执较慢", CLASS_VERSION: 2} in payloads
    assert any(p.get("reason") == "推迟一个月" and p[CLASS_VERSION] == 2 for p in payloads)
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, [str(problem) for problem in report.problems]
    ledger.close()
