"""Two real regions: two `timeledger serve` processes on 127.0.0.1 — 玄武区 on SQLite, 秦淮区 on
PostgreSQL — move a member over HTTP, with either service killed between phases and restarted.
Afterwards `timeledger verify` passes on both and the balance total is conserved. Each service binds
port 0 and names its port (`serve_on_any_port`): no port is picked, closed and handed on; a
restarted service comes back on a new port and re-registers its address with its peer, as a region
that moves does."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.loadgen import serve_on_any_port
from ledger.application import transfers
from ledger.application import Ledger
from ledger.demo import generate
from ledger.domain.values import ConsentPurpose
from ledger.signing import keys as ed25519
from tests.conftest import POSTGRES_URL, _POSTGRES, drop_schema
from tests.scenario import organise_region

PASSWORD = "correct-horse-battery-9"


class Service:
    """One `timeledger serve` process that can be killed and started again on the same database;
    each start binds port 0 and reads back the port the server holds."""

    def __init__(self, db: str, env: dict[str, str]) -> None:
        self.db, self.env = db, env
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.counter_id: UUID | None = None  # a counter of this region and an item of its catalogue (30 minutes)
        self.item_id: UUID | None = None

    def start(self) -> None:
        self.process, port = serve_on_any_port(["serve", "--db", self.db, "--no-access-log"], self.env, timeout=60)
        self.url = f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def token(self) -> dict[str, str]:
        answer = httpx.post(self.url + "/v1/auth/token", data={"username": "region-admin", "password": PASSWORD},
                            timeout=30)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def link(region: Service, peer: Service) -> None:
    """`region` registers `peer` (its card, at the address it serves on now) over HTTP."""
    card = httpx.get(peer.url + "/v1/region/card", headers=peer.token(), timeout=30)
    assert card.status_code == 200, card.text
    added = httpx.post(region.url + "/v1/region/peers", headers=region.token(), timeout=30,
                       json={**card.json(), "address": peer.url})
    assert added.status_code == 200, added.text


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, input=stdin, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture
def two_regions(tmp_path: Path) -> Iterator[tuple[Service, Service, UUID]]:
    if not _POSTGRES:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    xuanwu_db, qinhuai_db = f"sqlite:///{tmp_path / 'xuanwu.db'}", f"{POSTGRES_URL}?schema={schema}"
    env = dict(os.environ, TIMELEDGER_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
               TIMELEDGER_ENVIRONMENT="development",
               TIMELEDGER_PURGE_INTERVAL_SECONDS="1")  # the 通存通兑 sweep (with the purge) every second
    os.environ["TIMELEDGER_MASTER_KEY"] = env["TIMELEDGER_MASTER_KEY"]
    try:
        source = Ledger(xuanwu_db)
        summary = generate(source, members=24, seed=5)
        assert summary.root_private_key is not None
        destination = Ledger(qinhuai_db)
        destination.init_region(code="320104", name="南京市秦淮区",
                                province_key=ed25519.load_private(summary.root_private_key))
        counter_side = organise_region(destination)  # a counter in 秦淮区 for 通存通兑
        transfers.register_peer(source, transfers.region_card(destination))  # addresses: once they serve
        transfers.register_peer(destination, transfers.region_card(source))
        member_id = next(m for m in summary.member_ids
                         if source.get_member(m).has_consent(ConsentPurpose.TRANSFER, "320104"))
        source.close()
        destination.close()
        for db in (xuanwu_db, qinhuai_db):
            made = cli("logins", "admin", "--password-stdin", "--db", db, env=env, stdin=PASSWORD + "\n")
            assert made.returncode == 0, made.stdout + made.stderr
        services = Service(xuanwu_db, env), Service(qinhuai_db, env)
        services[1].counter_id, services[1].item_id = counter_side.counter.actor_id, counter_side.item_id
        try:
            for service in services:
                service.start()
            link(services[0], services[1])
            link(services[1], services[0])
            yield services[0], services[1], member_id
        finally:
            for service in services:
                if service.process is not None and service.process.poll() is None:
                    service.kill()
    finally:
        os.environ.pop("TIMELEDGER_MASTER_KEY", None)
        drop_schema(schema)


def balance(service: Service, headers: dict[str, str], member_id: UUID) -> int:
    answer = httpx.get(f"{service.url}/v1/members/{member_id}/balance", headers=headers, timeout=30)
    return int(answer.json()["balance_minutes"]) if answer.status_code == 200 else 0


def test_a_transfer_over_http_survives_either_service_dying_between_phases(two_regions) -> None:
    xuanwu, qinhuai, member_id = two_regions
    source_admin, _ = xuanwu.token(), qinhuai.token()
    before = balance(xuanwu, source_admin, member_id)
    assert before > 0

    started = httpx.post(f"{xuanwu.url}/v1/transfers", headers=source_admin, timeout=30,
                         json={"member_id": str(member_id), "destination": "320104"})
    assert started.status_code == 201, started.text
    transfer_id = started.json()["id"]

    qinhuai.kill()  # the destination is down: the push fails, the transfer stays pending
    undelivered = httpx.post(f"{xuanwu.url}/v1/transfers/{transfer_id}/send", headers=source_admin, timeout=60)
    assert undelivered.status_code == 503 and undelivered.json()["code"] == "destination_unreachable"
    assert httpx.get(f"{xuanwu.url}/v1/transfers/{transfer_id}", headers=source_admin,
                     timeout=30).json()["status"] == "pending"
    qinhuai.start()
    link(xuanwu, qinhuai)  # back on another port: the source learns the new address

    # the destination imports (a push whose answer is lost), then the source dies before completing
    bundle = httpx.post(f"{xuanwu.url}/v1/transfers/{transfer_id}/export", headers=source_admin, timeout=60)
    pushed = httpx.post(f"{qinhuai.url}/v1/federation/transfer-imports", content=bundle.content, timeout=60)
    assert pushed.status_code == 201, pushed.text
    xuanwu.kill()
    xuanwu.start()
    source_admin = xuanwu.token()

    sent = httpx.post(f"{xuanwu.url}/v1/transfers/{transfer_id}/send", headers=source_admin, timeout=60)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "completed"
    again = httpx.post(f"{xuanwu.url}/v1/transfers/{transfer_id}/send", headers=source_admin, timeout=60)
    assert again.json()["status"] == "completed"  # a replayed send changes nothing

    assert balance(xuanwu, source_admin, member_id) == 0
    assert balance(qinhuai, qinhuai.token(), member_id) == before  # conserved: nothing lost, nothing twice
    for service in (xuanwu, qinhuai):
        service.kill()
        checked = cli("verify", "--workers", "0", "--db", service.db, env=xuanwu.env)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_member_redeems_at_a_counter_of_the_other_region_over_http(two_regions, tmp_path: Path) -> None:
    """通存通兑 end to end (issue #14): 秦淮区's counter redeems for a member of 玄武区; the minutes are
    held and captured in 玄武区, exactly once across a retry; a forged request is refused; both
    regions' logs verify afterwards."""
    xuanwu, qinhuai, member_id = two_regions
    source_admin = xuanwu.token()
    before = balance(xuanwu, source_admin, member_id)
    made = httpx.post(f"{qinhuai.url}/v1/logins", headers=qinhuai.token(), timeout=30,
                      json={"username": "counter-qinhuai", "password": PASSWORD, "actor_id": str(qinhuai.counter_id)})
    assert made.status_code == 201, made.text
    token = httpx.post(qinhuai.url + "/v1/auth/token", data={"username": "counter-qinhuai", "password": PASSWORD},
                       timeout=30).json()["access_token"]
    counter = {"Authorization": f"Bearer {token}"}
    body = {"member_id": str(member_id), "home_region": "320102", "redemption_id": str(uuid.uuid4()),
            "items": [{"item_id": str(qinhuai.item_id), "quantity": 1}]}
    first = httpx.post(f"{qinhuai.url}/v1/redemptions/anywhere", headers=counter, json=body, timeout=60)
    assert first.status_code == 201, first.text
    # held at home: the goods may be given; the capture follows in the background
    assert (first.json()["status"], first.json()["minutes"], first.json()["applied"]) == ("authorised", 30, True)
    assert first.json()["balance_minutes"] == before - 30 == balance(xuanwu, source_admin, member_id)
    deadline = time.monotonic() + 20
    while (status := httpx.get(f"{qinhuai.url}/v1/redemptions/anywhere/{body['redemption_id']}", headers=counter,
                               timeout=30).json()["status"]) != "captured" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == "captured"
    again = httpx.post(f"{qinhuai.url}/v1/redemptions/anywhere", headers=counter, json=body, timeout=60)
    assert (again.status_code, again.json()["applied"]) == (201, False)
    assert balance(xuanwu, source_admin, member_id) == before - 30  # once
    too_much = httpx.post(f"{qinhuai.url}/v1/redemptions/anywhere", headers=counter, timeout=60, json={
        **body, "redemption_id": str(uuid.uuid4()), "items": [{"item_id": str(qinhuai.item_id), "quantity": 99}]})
    assert before - 30 < 99 * 30  # more than the member has
    assert too_much.status_code == 409 and too_much.json()["code"] == "balance_would_go_negative", too_much.text
    assert "余额不足" in too_much.json()["message"]["zh"]
    forged = httpx.post(f"{xuanwu.url}/v1/federation/redemptions", timeout=30, content=b'{"body":{}}')
    assert forged.status_code == 422 and forged.json()["code"].startswith("anywhere_"), forged.text
    assert balance(xuanwu, source_admin, member_id) == before - 30
    # settlement over HTTP: one call exchanges both statements (玄武 stopped, its CLI sends to 秦淮's service)
    xuanwu.kill()
    exchanged = cli("settlement", "exchange", "--peer", "320104", "--db", xuanwu.db, env=xuanwu.env)
    assert exchanged.returncode == 0, exchanged.stdout + exchanged.stderr
    assert "本区核对对方结算单：1 笔一致（对方党员在本区 0:00，本区党员在对方 0:30）" in exchanged.stdout, exchanged.stdout
    assert "对方核对本区结算单：1 笔一致（对方党员在本区 0:30，本区党员在对方 0:00）" in exchanged.stdout, exchanged.stdout
    garbled = httpx.post(f"{qinhuai.url}/v1/federation/settlements", timeout=30, content=b'{"body":{}}')
    assert garbled.status_code == 422 and garbled.json()["code"] == "settlement_unreadable", garbled.text
    for service in (xuanwu, qinhuai):
        service.kill()
        checked = cli("verify", "--workers", "0", "--db", service.db, env=xuanwu.env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # settlement: each side's signed statement verifies against the other's log, and says who owes whom
    statements = {}
    for service, peer in ((xuanwu, "320104"), (qinhuai, "320102")):
        path = tmp_path / f"settlement-with-{peer}.json"
        made = cli("settlement", "show", "--peer", peer, "--out", str(path), "--db", service.db, env=xuanwu.env)
        assert made.returncode == 0, made.stdout + made.stderr
        statements[service.db] = path
    for service, other in ((xuanwu, qinhuai), (qinhuai, xuanwu)):
        checked = cli("settlement", "verify", str(statements[other.db]), "--db", service.db, env=xuanwu.env)
        assert checked.returncode == 0 and "1 笔一致" in checked.stdout and "0:30" in checked.stdout, \
            checked.stdout + checked.stderr
    # the auditor, offline with the root public key alone: both regions' evidence, against both logs
    evidence = []
    for service, peer in ((xuanwu, "320104"), (qinhuai, "320102")):
        path = tmp_path / f"evidence-{peer}.json"
        made = cli("settlement", "evidence", "--peer", peer, "--out", str(path), "--db", service.db, env=xuanwu.env)
        assert made.returncode == 0, made.stdout + made.stderr
        evidence.append(str(path))
    root = tmp_path / "root.pub"
    exported = cli("keys", "export-root", "--out", str(root), "--db", xuanwu.db, env=xuanwu.env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    audited = cli("settlement", "audit", *evidence, "--trust", str(root), "--json", env=xuanwu.env)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    result = json.loads(audited.stdout)
    assert (result["ok"], result["agreed"], result["agreed_minutes_by_home"]) == (True, 1, {"320102": 30, "320104": 0})
    assert [side["entries_proven"] for side in result["sides"]] == [1, 1]
    swapped = cli("settlement", "audit", evidence[0], evidence[0], "--trust", str(root), env=xuanwu.env)
    assert swapped.returncode == 1 and "evidence_not_a_pair" in swapped.stdout, swapped.stdout + swapped.stderr


def _counter_login(qinhuai: Service) -> dict[str, str]:
    made = httpx.post(f"{qinhuai.url}/v1/logins", headers=qinhuai.token(), timeout=30,
                      json={"username": "counter-qinhuai", "password": PASSWORD, "actor_id": str(qinhuai.counter_id)})
    assert made.status_code in (201, 409), made.text
    token = httpx.post(qinhuai.url + "/v1/auth/token", data={"username": "counter-qinhuai", "password": PASSWORD},
                       timeout=30).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _status(qinhuai: Service, counter: dict[str, str], redemption_id: str) -> str:
    return str(httpx.get(f"{qinhuai.url}/v1/redemptions/anywhere/{redemption_id}", headers=counter,
                         timeout=30).json()["status"])


def _until(predicate: Any, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def test_either_region_killed_between_hold_and_capture_loses_nothing_and_charges_once(two_regions) -> None:
    """通存通兑 faults (issue #14): the home region is killed right after it answered the hold, and the
    counter region right after it got that answer — the background capture races each kill (it reached
    home first, or the sweep sends it after the restart, with the same signed bytes). Either way: captured
    exactly once, nothing lost, nothing charged twice, no hold left, both logs verify."""
    xuanwu, qinhuai, member_id = two_regions
    before = balance(xuanwu, xuanwu.token(), member_id)
    counter = _counter_login(qinhuai)

    # 1. home held the minutes, then died before the capture arrived: the counter keeps it authorised
    body = {"member_id": str(member_id), "home_region": "320102", "redemption_id": str(uuid.uuid4()),
            "items": [{"item_id": str(qinhuai.item_id), "quantity": 1}]}
    held = httpx.post(f"{qinhuai.url}/v1/redemptions/anywhere", headers=counter, json=body, timeout=60)
    assert held.status_code == 201, held.text
    xuanwu.kill()
    # the background capture may have got there first; if not, it waits for home
    xuanwu.start()
    link(qinhuai, xuanwu)  # home is back on another port
    assert _until(lambda: _status(qinhuai, counter, body["redemption_id"]) == "captured"), "never captured"

    # 2. the counter region dies right after home answered the hold
    second = {**body, "redemption_id": str(uuid.uuid4())}
    answered = httpx.post(f"{qinhuai.url}/v1/redemptions/anywhere", headers=counter, json=second, timeout=60)
    assert answered.status_code == 201, answered.text
    qinhuai.kill()
    qinhuai.start()
    link(xuanwu, qinhuai)
    link(qinhuai, xuanwu)
    counter = _counter_login(qinhuai)
    assert _until(lambda: _status(qinhuai, counter, second["redemption_id"]) == "captured"), "never captured"
    # a retry of the same redemption after all that changes nothing
    again = httpx.post(f"{qinhuai.url}/v1/redemptions/anywhere", headers=counter, json=second, timeout=60)
    assert (again.status_code, again.json()["applied"]) == (201, False)

    admin = xuanwu.token()
    assert balance(xuanwu, admin, member_id) == before - 60  # each redemption once
    entries = httpx.get(f"{xuanwu.url}/v1/members/{member_id}/account/entries", headers=admin,
                        params={"limit": 200}, timeout=30).json()["entries"]
    kinds = [entry["type"] for entry in entries]
    assert kinds.count("Held") == 2 and kinds.count("HoldCaptured") == 2 and "HoldReleased" not in kinds, kinds
    for service in (xuanwu, qinhuai):
        service.kill()
        checked = cli("verify", "--workers", "0", "--db", service.db, env=xuanwu.env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
