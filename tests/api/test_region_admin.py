"""Region administration through the API and the CLI (issue #12): the transfer timeout, which had no
way in, and the reason every region setting change now carries (signed into the event)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from ledger.application import Ledger
from ledger.storage.mapper import CLASS_VERSION
from ledger.signing.statement import parse_signed_bytes, unpack
from tests.api.world import World

runner = CliRunner()


def _last_payload(ledger: Ledger, event_type: str) -> dict[str, object]:
    rows = [row for row in ledger.recorder.select_notifications(start=1, limit=10_000)
            if row.topic.endswith(":" + event_type)]
    assert rows, event_type
    payload: dict[str, object] = parse_signed_bytes(unpack(rows[-1].state)[1]).payload
    return payload


def test_the_region_sets_the_transfer_timeout_with_a_reason(client: TestClient, world: World) -> None:
    headers = world.headers(world.region)
    assert client.get("/v1/region", headers=headers).json()["transfer_timeout_days"] == 30
    response = client.put("/v1/region/transfer-timeout", headers=headers, json={"days": 45, "reason": "跨省回执较慢"})
    assert response.status_code == 200, response.text
    assert client.get("/v1/region", headers=headers).json()["transfer_timeout_days"] == 45
    assert _last_payload(world.ledger, "Region.TransferTimeoutSet") == {"days": 45, "reason": "跨省回执较慢",
                                                                        CLASS_VERSION: 2}


def test_a_transfer_timeout_without_a_reason_or_out_of_range_changes_nothing(client: TestClient,
                                                                             world: World) -> None:
    headers = world.headers(world.region)
    before = world.ledger.recorder.max_notification_id()
    for body in ({"days": 45}, {"days": 45, "reason": ""}, {"days": 0, "reason": "x"}, {"days": 366, "reason": "x"}):
        response = client.put("/v1/region/transfer-timeout", headers=headers, json=body)
        assert response.status_code == 422, (body, response.text)
    assert world.ledger.recorder.max_notification_id() == before
    assert world.ledger.get_region().transfer_timeout_days == 30


def test_settings_deadlines_and_rescoring_carry_their_reason(client: TestClient, world: World) -> None:
    headers = world.headers(world.region)
    assert client.post("/v1/region/settings", headers=headers,
                       json={"display_name": "玄武时间银行", "reason": "金融监管要求"}).status_code == 200
    assert _last_payload(world.ledger, "Region.SettingsChanged")["reason"] == "金融监管要求"
    assert client.put("/v1/region/report-deadlines/2027", headers=headers,
                      json={"deadline": "2027-09-30", "reason": "推迟一个月"}).status_code == 200
    assert _last_payload(world.ledger, "Region.ReportDeadlineSet")["reason"] == "推迟一个月"
    assert client.post("/v1/region/rescoring", headers=headers,
                       json={"year": 2026, "version": 1, "reason": "复核"}).status_code == 200
    assert _last_payload(world.ledger, "Region.YearRescored")["reason"] == "复核"


def test_the_cli_sets_the_transfer_timeout(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert runner.invoke(cli, ["init", "--region", "320102", "--name", "南京市玄武区", "--db", db]).exit_code == 0
    done = runner.invoke(cli, ["region", "set-transfer-timeout", "--days", "60", "--reason", "跨省转移", "--db", db])
    assert done.exit_code == 0, done.output
    refused = runner.invoke(cli, ["region", "set-transfer-timeout", "--days", "0", "--reason", "x", "--db", db])
    assert refused.exit_code != 0
    no_reason = runner.invoke(cli, ["region", "set-transfer-timeout", "--days", "20", "--reason", " ", "--db", db])
    assert no_reason.exit_code != 0
    ledger = Ledger(db)
    assert ledger.get_region().transfer_timeout_days == 60
    ledger.close()


def test_the_region_opens_a_counter_for_a_community_and_the_store_verifies(client: TestClient,
                                                                             world: World) -> None:
    from ledger.verification.store import verify_store

    community_id = world.b.community.actor_id
    response = client.post(f"/v1/communities/{community_id}/counters", headers=world.headers(world.region),
                           json={"name": "乙社区第二收银台"})
    assert response.status_code == 201, response.text
    counter = world.ledger.get_counter(UUID(response.json()["id"]))
    assert counter.community_id == community_id and counter.name == "乙社区第二收银台"
    report = verify_store(world.ledger.database, root_public_key=_root(world.ledger),
                          region_code=world.ledger.region_code, recorder=world.ledger.recorder, workers=0)
    assert report.ok, [str(problem) for problem in report.problems]


def _root(ledger: Ledger) -> bytes:
    import base64

    return base64.b64decode(ledger.root_public_key())
