"""`timeledger serve` in a subprocess on 127.0.0.1; 64 concurrent counter clients redeem against a
few members for a bounded time. Afterwards `timeledger verify` passes, no balance is negative, and
the accepted redemptions add up exactly to the balance decreases (retries are applied once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from api.loadgen import prepare_bench_region, request_bytes, run_load, serve_on_any_port
from ledger.application import Ledger

CONNECTIONS = 64
SECONDS = float(os.environ.get("TIMELEDGER_REAL_SERVER_SECONDS", "4"))
RETRY_EVERY = 10  # a client's 2nd, 12th, 22nd … request is a retry of its previous one (same key and body):
# early, so that every client that gets two answers in on a slow machine has tried one (was the 10th: flaky)
RETRY_AT = 1

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)]


def _timeledger(*args: str) -> list[str]:
    return [sys.executable, "-c", "from api.cli import main; main()", *args]


def test_64_clients_never_overdraw_and_the_store_verifies(database_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))  # shared with the server
    env = dict(os.environ)
    region = prepare_bench_region(database_url, members=4, sessions_per_member=1, counters=2)
    process, port = serve_on_any_port(["serve", "--db", database_url, "--no-access-log", "--log-level", "warning"],
                                      env)
    accepted: dict[UUID, int] = {m: 0 for m in region.members}
    replays: list[bool] = []
    bad: list[str] = []
    lock = threading.Lock()
    last: dict[int, tuple[bytes, UUID]] = {}

    def make(connection: int, number: int) -> bytes:
        if number % RETRY_EVERY == RETRY_AT and connection in last:
            return last[connection][0]  # the same request again: same Idempotency-Key, same body
        member = region.members[(connection + number) % len(region.members)]
        data = request_bytes("POST", "/v1/redemptions", {
            "member_id": str(member), "redemption_id": str(uuid4()),
            "items": [{"item_id": str(region.item_id), "quantity": 1}]}, {
            "Authorization": f"Bearer {region.counter_tokens[connection % len(region.counter_tokens)]}",
            "Idempotency-Key": str(uuid4())})
        last[connection] = (data, member)
        return data

    def seen(connection: int, number: int, status: int, body: bytes) -> None:
        document = json.loads(body)
        is_retry = number % RETRY_EVERY == RETRY_AT and connection in last
        with lock:
            if status == 201 and not is_retry:
                accepted[UUID(document["member_id"]) if "member_id" in document else last[connection][1]] += \
                    document["minutes"]
            elif status == 201:
                replays.append(True)
            elif not (status == 409 and document["code"] == "balance_would_go_negative"):
                bad.append(f"{status} {document}")

    try:
        result = run_load("127.0.0.1", port, connections=CONNECTIONS, seconds=SECONDS, make=make, seen=seen)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert not bad, bad[:5]
    assert result.errors == 0 and result.requests > CONNECTIONS
    assert result.statuses.get(201, 0) > 0 and replays

    verify = subprocess.run(_timeledger("verify", "--db", database_url), env=env, capture_output=True, text=True, check=False,
                            timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    ledger = Ledger(database_url)
    try:
        for member in region.members:
            balance = ledger.get_balance_minutes(member)
            assert balance >= 0
            assert region.balances[member] - balance == accepted[member], member
            assert ledger.get_account(member).redeemed_minutes_total == accepted[member]
    finally:
        ledger.close()
    print(f"\n{result.requests} requests in {result.seconds:.1f}s ({result.per_second:.0f}/s), "
          f"p50 {result.percentile(0.5):.1f} ms, p99 {result.percentile(0.99):.1f} ms, statuses {result.statuses}")
