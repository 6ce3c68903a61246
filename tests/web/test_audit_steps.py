"""The auditor page's step-by-step verdicts (no browser needed): a transfer bundle between two regions
under one province root verifies; damage to it or to a certificate is reported at the step that
catches it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from api.web.pages.audit import BUNDLE_STEPS, CERTIFICATE_STEPS, certificate_step_of, verify_file
from ledger.application import transfers
from ledger.application import Ledger
from ledger.application.certificates import issue_certificate
from tests.scenario import build_region, serve


@pytest.fixture
def bundle_and_root() -> Iterator[tuple[bytes, bytes, Any]]:
    source = Ledger("memory:")
    region = build_region(source, members=1)
    destination = Ledger("memory:")
    province = source.province_actor()
    destination.init_region(code="320104", name="南京市秦淮区", province_key=source._signers[province.actor_id][2])
    transfers.register_peer(source, transfers.region_card(destination))
    member = region.members[0]
    serve(region, member, 120)
    source.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient="320104")
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    yield transfers.export_bundle(source, transfer_id), base64.b64decode(source.root_public_key()), region
    destination.close()
    source.close()


def _states(result: dict[str, Any]) -> list[str]:
    return [step["state"] for step in result["steps"]]


def test_a_transfer_bundle_passes_every_step(bundle_and_root: tuple[bytes, bytes, Any]) -> None:
    bundle, root, _ = bundle_and_root
    result = verify_file(bundle, root, "", "transfer.json")
    assert result["kind"] == "bundle" and result["ok"], result.get("reason")
    assert _states(result) == ["ok"] * len(BUNDLE_STEPS)
    assert result["bundle"].balance_minutes == 120 and result["destination"] == "320104"


def test_a_bundle_missing_an_event_fails_after_the_form_check(
        bundle_and_root: tuple[bytes, bytes, Any]) -> None:
    bundle, root, _ = bundle_and_root
    document = json.loads(bundle)
    document["events"] = document["events"][:-1]  # drop an event: the history no longer replays
    result = verify_file(json.dumps(document).encode(), root, "", "transfer.json")
    assert not result["ok"]
    assert "failed" in _states(result) and _states(result)[0] == "ok"


def test_a_certificate_from_another_province_fails_at_the_events(bundle_and_root: tuple[bytes, bytes, Any]) -> None:
    _, root, region = bundle_and_root
    issued = issue_certificate(region.ledger, region.members[0].actor_id)
    assert verify_file(issued.bundle, root, "", "c.json")["ok"]
    other_root = bytes(32)
    result = verify_file(issued.bundle, other_root, "", "c.json")
    assert not result["ok"] and _states(result)[:2] == ["ok", "failed"]
    assert len(result["steps"]) == len(CERTIFICATE_STEPS)


@pytest.mark.parametrize(("message", "step"), [
    ("the file is not in canonical JSON form (it was edited or re-encoded)", 0),
    ("event Member.Enrolled 0b6e v1 (leaf 3): bad signature", 1),
    ("the checkpoint is not signed by a key of region 320102 certified by the trust root", 2),
    ("event ServiceSession.Certified x v2 (leaf 9): not proven to be in the region's log (checkpoint size 9)", 3),
    ("the certificate claims 2 session(s) and 120 minutes, but its signed events certify 2 session(s) and 60", 4),
    ("the region's seal does not verify: the number … was changed after issue", 5),
])
def test_each_refusal_is_shown_at_its_step(message: str, step: int) -> None:
    assert certificate_step_of(message) == step
