"""通存通兑 settlement over HTTP (issue #14 step 4): one call to `POST /v1/federation/settlements`
exchanges both regions' signed statements, each checked against the other's log, and each region keeps
its last verdict per peer (a signed Region event the 联盟地区 page shows). Forged or garbled statements
are refused with their codes and nothing is recorded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from api.web.core import CSRF_FIELD
from ledger.application import anywhere, settlement
from tests.api.regions import HOME, as_region, two_regions
from tests.api.world import World
from tests.scenario import Region

PATH = settlement.FEDERATION_SETTLEMENT_PATH


@pytest.fixture
def regions() -> Iterator[tuple[TestClient, TestClient, World, Region]]:
    """Two services: this region (with counters) and a peer whose member redeemed here for 30 minutes."""
    with two_regions() as (here, world, home):
        with TestClient(create_app(settings_for_tests(), home.ledger), raise_server_exceptions=False) as there:
            yield here, there, world, home


def _to(client: TestClient) -> Any:
    def post(url: str, body: bytes) -> tuple[int, bytes]:
        assert url == f"http://{HOME}{PATH}"
        answer = client.post(PATH, content=body, headers={"Content-Type": "application/json"})
        return answer.status_code, answer.content
    return post


def test_one_call_exchanges_both_statements_and_each_side_keeps_its_verdict(regions: Any) -> None:
    here, there, world, home = regions
    sent = settlement.make_statement(world.ledger, HOME)
    answer = there.post(PATH, content=sent)
    assert answer.status_code == 200
    body = answer.json()
    # the peer checked ours against its log: its member's 30 minutes here, which it owes; it signed the
    # verdict as a whole, bound to the very statement it judged
    verdict = json.loads(body["verdict"])
    assert verdict["key_id"] == home.ledger.signer_of(home.ledger.region_actor())[0]
    assert verdict["body"] == {"format": settlement.VERDICT_FORMAT, "from": HOME, "to": world.ledger.region_code,
                               "statement_sha256": hashlib.sha256(sent).hexdigest(),
                               "peer": world.ledger.region_code, "ok": True, "agreed": 1,
                               "agreed_minutes_they_owe": 0, "agreed_minutes_we_owe": 30, "disputes": []}
    theirs = settlement.verify_statement(world.ledger, body["statement"].encode())
    assert theirs.ok and theirs.agreed == 1 and theirs.agreed_minutes_they_owe == 30
    kept = settlement.last_verdicts(home.ledger, [world.ledger.region_code])[world.ledger.region_code]
    assert (kept["agreed"], kept["disputes"], kept["we_owe_minutes"], kept["sent"]) == (1, 0, 30, False)
    # the same from this side, started here: both verdicts, and this region's kept too
    done = settlement.exchange(world.ledger, HOME, _to(there), lambda step: step())
    assert done.ours.ok and done.ours.agreed_minutes_they_owe == 30 and done.theirs["ok"] is True
    mine = settlement.last_verdicts(world.ledger, [HOME])[HOME]
    assert (mine["agreed"], mine["disputes"], mine["they_owe_minutes"], mine["sent"]) == (1, 0, 30, True)


def _forged(home: Region, here_code: str) -> bytes:
    """A statement signed by the peer, consistent in itself, naming a redemption this region never saw."""
    document = json.loads(settlement.make_statement(home.ledger, here_code))["body"]
    document["as_home"].append([str(uuid4()), 45, document["checkpoint"]["size"] - 1])
    document["totals"]["as_home_minutes"] += 45
    document["totals"]["net_minutes"] -= 45
    return anywhere.sign_message(home.ledger, document)


def test_a_dispute_is_named_and_kept_with_its_count(regions: Any) -> None:
    here, there, world, home = regions
    answer = here.post(PATH, content=_forged(home, world.ledger.region_code))
    assert answer.status_code == 200
    verdict = json.loads(answer.json()["verdict"])["body"]
    assert verdict["ok"] is False and [d["theirs"] for d in verdict["disputes"]] == [45]
    assert settlement.verify_statement(home.ledger, answer.json()["statement"].encode()).ok  # ours is still true
    assert settlement.last_verdicts(world.ledger, [HOME])[HOME]["disputes"] == 1


@pytest.mark.parametrize("mangle, code", [
    (lambda s: b"not json", "settlement_unreadable"),
    (lambda s: s.replace(b'"from":"', b'"from":"x', 1), "settlement_unknown_region"),
    (lambda s: s[:-40] + b"A" * 20 + s[-20:], "settlement_signature_invalid"),
], ids=["garbled", "unknown-sender", "tampered"])
def test_a_forged_or_garbled_statement_is_refused_and_nothing_is_kept(regions: Any, mangle: Any, code: str) -> None:
    here, there, world, home = regions
    statement = settlement.make_statement(home.ledger, world.ledger.region_code)
    before = world.ledger.recorder.max_notification_id()
    answer = here.post(PATH, content=mangle(statement))
    assert answer.status_code == 422 and answer.json()["code"] == code, answer.text
    assert settlement.last_verdicts(world.ledger, world.ledger.get_region().peers) == {}
    assert world.ledger.recorder.max_notification_id() == before


def test_a_statement_signed_by_this_region_itself_is_not_a_peers(regions: Any) -> None:
    here, there, world, home = regions
    ours = settlement.make_statement(world.ledger, HOME)  # addressed to the peer, not to this region
    answer = here.post(PATH, content=ours)
    assert answer.status_code == 422 and answer.json()["code"] == "settlement_wrong_region"


def test_the_peers_page_button_settles_and_shows_the_last_settlement(regions: Any, monkeypatch: Any) -> None:
    here, there, world, home = regions
    csrf = as_region(here, world)
    assert "尚未对账" in here.get("/region/peers").text
    monkeypatch.setattr("api.peer_http.post_settlement", _to(there))
    page = here.post(f"/region/peers/{HOME}/exchange", data={CSRF_FIELD: csrf})
    assert page.status_code == 200 and "1 笔一致" in page.text and "双方记录一致" in page.text
    assert "上次对账：2026-" in page.text and "一致" in page.text
    assert settlement.last_verdicts(home.ledger, [world.ledger.region_code])[world.ledger.region_code]["sent"] is False


def test_the_button_says_in_chinese_when_the_peer_does_not_answer(regions: Any, monkeypatch: Any) -> None:
    here, there, world, home = regions
    csrf = as_region(here, world)

    def down(url: str, body: bytes) -> tuple[int, bytes]:
        raise OSError("connection refused")

    monkeypatch.setattr("api.peer_http.post_settlement", down)
    page = here.post(f"/region/peers/{HOME}/exchange", data={CSRF_FIELD: csrf})
    assert page.status_code == 422 and "无法连接对方地区" in page.text
    assert settlement.last_verdicts(world.ledger, world.ledger.get_region().peers) == {}


@pytest.mark.parametrize("status, answer, error, code", [
    (422, b'{"code":"settlement_unknown_region"}', settlement.SettlementRefused, "settlement_peer_refused"),
    (503, b"", settlement.PeerUnreachable, "settlement_peer_unreachable"),
    (200, b'{"statement":"garbled","verdict":{}}', settlement.SettlementRefused, "settlement_unreadable"),
], ids=["refused", "unavailable", "garbled-answer"])
def test_an_exchange_the_peer_refuses_or_garbles_records_nothing_here(regions: Any, status: int, answer: bytes,
                                                                        error: Any, code: str) -> None:
    here, there, world, home = regions
    with pytest.raises(error) as raised:
        settlement.exchange(world.ledger, HOME, lambda url, body: (status, answer), lambda step: step())
    assert raised.value.code == code
    assert settlement.last_verdicts(world.ledger, world.ledger.get_region().peers) == {}


def test_the_service_exchanges_statements_with_its_peers_on_a_schedule(regions: Any) -> None:
    """Once an interval (the purger's thread), with each peer that has an address; not before."""
    from api.services import SettlementScheduler, services_of

    here, there, world, home = regions
    now = [0.0]
    scheduler = SettlementScheduler(world.ledger, services_of(here.app).writer.submit, interval_seconds=3600,
                                    post=_to(there), clock=lambda: now[0])
    assert scheduler.run_once() == {}  # not due yet: the first exchange is one interval after the start
    assert settlement.last_verdicts(world.ledger, [HOME]) == {}
    now[0] = 3600.0
    assert scheduler.run_once() == {HOME: "agreed"}
    assert settlement.last_verdicts(world.ledger, [HOME])[HOME]["agreed"] == 1  # kept on both sides
    assert settlement.last_verdicts(home.ledger, [world.ledger.region_code])[world.ledger.region_code]["agreed"] == 1
    assert scheduler.run_once() == {}  # and not again until the next interval
    off = SettlementScheduler(world.ledger, services_of(here.app).writer.submit, interval_seconds=0,
                              post=_to(there), clock=lambda: 10.0 ** 9)
    assert off.run_once() == {}  # 0: on demand only


@pytest.mark.parametrize("mangle", ["unsigned", "about-other-bytes", "altered", "signed-by-us"])
def test_a_peers_verdict_that_is_not_signed_about_our_statement_is_refused(regions: Any, mangle: str) -> None:
    """The peer's verdict is believed only signed by its key, about the very statement sent: an unsigned
    one, one about another statement (a replay), one altered on the way, or one in our own name is refused
    and nothing is recorded here."""
    here, there, world, home = regions
    real = _to(there)

    def post(url: str, body: bytes) -> tuple[int, bytes]:
        status, answer = real(url, body)
        document = json.loads(answer)
        verdict = json.loads(document["verdict"])
        if mangle == "unsigned":
            document["verdict"] = verdict["body"]
        elif mangle == "about-other-bytes":
            document["verdict"] = anywhere.sign_message(home.ledger, dict(
                verdict["body"], statement_sha256=hashlib.sha256(b"an earlier statement").hexdigest())).decode()
        elif mangle == "altered":
            verdict["body"]["disputes"] = [{"redemption_id": str(uuid4()), "ours": 30, "theirs": None,
                                            "direction": "our_members"}]
            document["verdict"] = json.dumps(verdict)
        else:
            document["verdict"] = anywhere.sign_message(world.ledger, verdict["body"]).decode()
        return status, json.dumps(document).encode()

    with pytest.raises(settlement.SettlementRefused) as raised:
        settlement.exchange(world.ledger, HOME, post, lambda step: step())
    assert raised.value.code == "settlement_verdict_invalid"
    assert settlement.last_verdicts(world.ledger, world.ledger.get_region().peers) == {}
