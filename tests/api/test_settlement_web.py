"""通存通兑 settlement on the region's 联盟地区 page (issue #14): what was redeemed both ways with each
peer, this region's signed statement as a download, and a peer's statement checked against this
region's own log — agreed, or each redemption in dispute named; bad files refused in Chinese."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import anywhere, settlement
from ledger.signing.canonical import canonical_bytes
from tests.api.regions import HOME, as_region, two_regions
from tests.api.world import World
from tests.scenario import Region


@pytest.fixture
def regions() -> Iterator[tuple[TestClient, World, Region]]:
    """This region (the app's, with counters) and a peer whose member redeemed here for 30 minutes."""
    with two_regions() as (client, world, home):
        yield client, world, home


def test_the_peers_page_shows_both_ways_and_a_peers_statement_is_checked(regions: Any) -> None:
    client, world, home = regions
    csrf = as_region(client, world)
    page = client.get("/region/peers")
    assert page.status_code == 200
    row = page.text[page.text.index("南京市秦淮区"):]
    assert "0 笔 · 0:00" in row and "1 笔 · 0:30" in row and "对方应付 0:30" in row
    # this region's statement: a signed download the peer verifies against its own log
    mine = client.post(f"/region/peers/{HOME}/settlement", data={CSRF_FIELD: csrf})
    assert mine.status_code == 200 and "attachment" in mine.headers["content-disposition"]
    assert settlement.verify_statement(home.ledger, mine.content).ok
    # the peer's statement, checked here: they agree
    theirs = settlement.make_statement(home.ledger, world.ledger.region_code)
    checked = client.post("/region/peers/settlement", data={CSRF_FIELD: csrf},
                          files={"file": ("s.json", theirs, "application/json")})
    assert checked.status_code == 200 and "1 笔一致" in checked.text and "双方记录一致" in checked.text
    # a statement that names a redemption this region never recorded: it is named in dispute
    document = json.loads(theirs)["body"]
    document["as_home"].append([str(uuid4()), 45, document["checkpoint"]["size"] - 1])
    document["totals"]["as_home_minutes"] += 45  # a statement consistent in itself, about a redemption
    document["totals"]["net_minutes"] -= 45  # this region never recorded
    forged_but_signed = anywhere.sign_message(home.ledger, document)
    disputed = client.post("/region/peers/settlement", data={CSRF_FIELD: csrf},
                           files={"file": ("s.json", forged_but_signed, "application/json")})
    assert disputed.status_code == 200 and 'id="disputes"' in disputed.text and "无记录" in disputed.text
    assert document["as_home"][-1][0] in disputed.text


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG not a statement", "无法读取结算单"),
    (b"", "请选择对方地区出具的结算单文件"),
])
def test_a_bad_statement_file_is_refused_in_chinese(regions: Any, content: bytes, message: str) -> None:
    client, world, _ = regions
    csrf = as_region(client, world)
    answer = client.post("/region/peers/settlement", data={CSRF_FIELD: csrf},
                         files={"file": ("s.json", content, "application/json")})
    assert answer.status_code == 422 and message in answer.text


def test_only_the_region_makes_a_statement(regions: Any) -> None:
    client, world, _ = regions
    token = world.tokens[world.a.counter.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    answer = client.post(f"/region/peers/{HOME}/settlement", data={CSRF_FIELD: csrf_token(token)})
    assert answer.status_code == 403, answer.status_code


def test_the_auditor_checks_a_peers_statement_on_the_audit_page(regions: Any) -> None:
    client, world, home = regions
    token = world.tokens[world.auditor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    theirs = settlement.make_statement(home.ledger, world.ledger.region_code)
    checked = client.post("/audit", data={CSRF_FIELD: csrf_token(token)},
                          files={"file": ("settlement.json", theirs, "application/json")})
    assert checked.status_code == 200 and 'id="settlement"' in checked.text and "1 笔一致" in checked.text
    document = json.loads(theirs)
    document["body"]["as_counter"] = [[str(uuid4()), 30, 7]]  # altered after signing
    tampered = client.post("/audit", data={CSRF_FIELD: csrf_token(token)},
                           files={"file": ("settlement.json", canonical_bytes(document), "application/json")})
    assert tampered.status_code == 422 and "结算单的签名无法核验" in tampered.text


def _as_auditor(client: TestClient, world: World) -> str:
    token = world.tokens[world.auditor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def test_the_auditor_takes_this_regions_evidence_and_checks_both_regions_offline(regions: Any) -> None:
    client, world, home = regions
    csrf = _as_auditor(client, world)
    page = client.get("/audit")
    assert page.status_code == 200 and f'action="/audit/settlement/{HOME}/evidence"' in page.text
    mine = client.post(f"/audit/settlement/{HOME}/evidence", data={CSRF_FIELD: csrf})
    assert mine.status_code == 200 and "attachment" in mine.headers["content-disposition"]
    theirs = settlement.make_evidence(home.ledger, world.ledger.region_code)
    checked = client.post("/audit/settlement", data={CSRF_FIELD: csrf},
                          files={"first": ("a.json", mine.content, "application/json"),
                                 "second": ("b.json", theirs, "application/json")})
    assert checked.status_code == 200 and "两地证据均已核验，逐笔一致。" in checked.text, checked.text
    assert "1 笔一致" in checked.text and "南京市秦淮区（320104）的党员" in checked.text
    # one byte of the peer's file changed: a finding in Chinese, never a pass
    document = json.loads(theirs)
    document["statement"] = document["statement"].replace('"as_home_minutes":30', '"as_home_minutes":31')
    tampered = client.post("/audit/settlement", data={CSRF_FIELD: csrf},
                           files={"first": ("a.json", mine.content, "application/json"),
                                  "second": ("b.json", canonical_bytes(document), "application/json")})
    assert tampered.status_code == 200 and 'data-code="statement_signature_invalid"' in tampered.text
    assert "结算单的签名无法核验（出具后被改动）。" in tampered.text and "两地证据均已核验" not in tampered.text


def test_evidence_missing_or_a_bad_root_is_refused_in_chinese_keeping_what_was_typed(regions: Any) -> None:
    client, world, home = regions
    csrf = _as_auditor(client, world)
    theirs = settlement.make_evidence(home.ledger, world.ledger.region_code)
    one = client.post("/audit/settlement", data={CSRF_FIELD: csrf, "other_root": "abc"},
                      files={"first": ("a.json", theirs, "application/json")})
    assert one.status_code == 422 and "请选择两个地区的证据包文件。" in one.text and 'value="abc"' in one.text
    bad_root = client.post("/audit/settlement", data={CSRF_FIELD: csrf, "other_root": "abc"},
                           files={"first": ("a.json", theirs, "application/json"),
                                  "second": ("b.json", theirs, "application/json")})
    assert bad_root.status_code == 422 and "另一方的省级根公钥格式不对" in bad_root.text


def test_only_the_region_and_its_auditor_take_evidence_away(regions: Any) -> None:
    client, world, _ = regions
    token = world.tokens[world.a.counter.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    answer = client.post(f"/audit/settlement/{HOME}/evidence", data={CSRF_FIELD: csrf_token(token)})
    assert answer.status_code == 403
    assert 'action="/audit/settlement/' not in client.get("/audit").text
