#!/usr/bin/env python3
"""Reliability figures for issue #10, printed as they come and ending with ONE JSON line.

1. kill -9 cycles: a real `timeledger serve` (127.0.0.1, port 0) on SQLite and on PostgreSQL takes
   redemptions from a few client threads; at a random moment it is killed with SIGKILL. Every
   redemption the server acknowledged (201) is then sent again to the restarted server: it must come
   back `applied: false` (already there). One that is applied anew was lost. After every kill the
   store is verified (`timeledger verify`) before the next start.
2. Forged federation messages: garbled, re-signed-looking and nested bundles pushed to the anonymous
   `POST /v1/federation/transfer-imports` and `…/transfer-status` (alternately); counted as accepted when
   answered 2xx, and 5xx separately.
3. Mutated rows: a copy of the SQLite store with one stored event's bytes flipped, truncated, emptied
   or swapped with another's; `timeledger verify` and `timeledger audit` must exit non-zero without a
   traceback. Counted: tried, undetected, crashes.
4. 5xx under schemathesis as every role: tests/api/test_property_openapi.py (every operation, every
   role) with TIMELEDGER_API_FUZZ_EXAMPLES examples; counted: failing operations that answered 5xx.

Loopback only; bounded in count and time (--budget seconds, default 540). `--quick` scales it down.
Usage: PYTHONPATH=. python scripts/torture.py [--quick] [--sqlite-cycles N] [--postgres-cycles N] …
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TIMELEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)$")


def log(message: str) -> None:
    print(message, flush=True)


def environment(master_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "TIMELEDGER_MASTER_KEY": master_key, "NO_PROXY": "127.0.0.1",
                "no_proxy": "127.0.0.1", "TIMELEDGER_ARGON2_TIME_COST": "1", "TIMELEDGER_ARGON2_MEMORY_KIB": "64"})
    env.pop("TIMELEDGER_DATABASE_URL", None)
    return env


def cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class Server:
    """`timeledger serve --port 0` in a subprocess; the port comes from its 'listening on' line."""

    def __init__(self, db: str, env: dict[str, str], workdir: Path) -> None:
        self.out = (workdir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--db", db, "--host", "127.0.0.1",
             "--port", "0", "--no-access-log", "--log-level", "warning"],
            env=env, stdout=subprocess.PIPE, stderr=self.out, cwd=workdir)
        self.base = ""
        deadline = time.monotonic() + 60
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            found = LISTENING.match(raw.decode(errors="replace").strip())
            if found:
                self.base = found.group(1)
                break
            if time.monotonic() > deadline:
                break
        if not self.base:
            self.kill()
            raise RuntimeError("the server did not start: " + (workdir / "server.log").read_text()[-1500:])
        threading.Thread(target=self._drain, daemon=True).start()
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the server never answered /healthz")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.out.close()


# ---------------------------------------------------------------------------------------------
# 1. kill -9 cycles


def kill_cycles(kind: str, cycles: int, deadline: float, workdir: Path, rng: random.Random) -> dict[str, Any]:
    from api.loadgen import prepare_bench_region

    master_key = base64.b64encode(os.urandom(32)).decode()
    env = environment(master_key)
    os.environ["TIMELEDGER_MASTER_KEY"] = master_key  # prepare_bench_region seals in this process
    schema = None
    if kind == "sqlite":
        db = f"sqlite:///{workdir / 'torture.db'}"
    else:
        schema = f"torture_{uuid.uuid4().hex[:12]}"
        db = f"{POSTGRES_URL}?schema={schema}"
    region = prepare_bench_region(db, members=20, sessions_per_member=4, counters=3, price_minutes=7)
    figures = {"store": kind, "cycles": 0, "acknowledged": 0, "lost": 0, "verify_failures": 0, "start_failures": 0}
    began = time.monotonic()
    pending: list[tuple[dict[str, Any], str]] = []  # acknowledged in the last cycle, checked after restart
    try:
        for cycle in range(cycles):
            if time.monotonic() > deadline:
                log(f"  {kind}: time budget reached after {cycle} cycles")
                break
            try:
                server = Server(db, env, workdir)
            except RuntimeError as error:
                figures["start_failures"] += 1
                log(f"  {kind} cycle {cycle}: {error}")
                break
            try:
                figures["lost"] += recheck(server.base, pending)
                pending = hammer(server, region, rng, seconds=rng.uniform(0.05, 0.6))
            finally:
                server.kill()
            figures["acknowledged"] += len(pending)
            figures["cycles"] += 1
            problems = verify_inline(db)
            if problems:
                figures["verify_failures"] += 1
                log(f"  {kind} cycle {cycle}: verify FAILED: {problems[:3]}")
            if cycle % 10 == 0:
                log(f"  {kind}: cycle {cycle + 1}/{cycles}, acknowledged so far {figures['acknowledged']}, "
                    f"lost {figures['lost']}")
        if pending:  # the last cycle's writes, once more
            server = Server(db, env, workdir)
            try:
                figures["lost"] += recheck(server.base, pending)
            finally:
                server.kill()
        figures["seconds"] = round(time.monotonic() - began, 1)
    finally:
        if schema is not None:
            import psycopg
            from psycopg import sql

            with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return figures


def verify_inline(db: str) -> list[str]:
    """What `timeledger verify` checks (ledger.verification.store.verify_store), in this process: no interpreter
    start per cycle. Returns the problems (none: the store verifies)."""
    from ledger.application import Ledger
    from ledger.verification.store import verify_store

    ledger = Ledger(db)
    try:
        report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                              region_code=ledger.region_code, recorder=ledger.recorder, workers=0)
        problems = [str(problem) for problem in report.problems]
        return problems if problems or report.ok else ["the report is not ok"]
    finally:
        ledger.close()


def hammer(server: Server, region: Any, rng: random.Random, *, seconds: float) -> list[tuple[dict[str, Any], str]]:
    """Redemptions from one thread per counter until the kill; returns the acknowledged ones."""
    acknowledged: list[tuple[dict[str, Any], str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    seeds = [rng.randrange(2**32) for _ in region.counter_tokens]

    def client(token: str, seed: int) -> None:
        local = random.Random(seed)
        with httpx.Client(base_url=server.base, timeout=5, headers={"Authorization": f"Bearer {token}"}) as http:
            while not stop.is_set():
                body = {"member_id": str(local.choice(region.members)), "redemption_id": str(uuid.uuid4()),
                        "items": [{"item_id": str(region.item_id), "quantity": 1}]}
                try:
                    response = http.post("/v1/redemptions", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 201:
                    with lock:
                        acknowledged.append((body, token))

    threads = [threading.Thread(target=client, args=(token, seed)) for token, seed in zip(region.counter_tokens, seeds)]
    for thread in threads:
        thread.start()
    warm = time.monotonic() + 15
    while not acknowledged and time.monotonic() < warm:  # writes are flowing before the kill is timed
        time.sleep(0.01)
    time.sleep(seconds)
    os.kill(server.process.pid, signal.SIGKILL)  # mid-flight
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return acknowledged


def recheck(base: str, acknowledged: list[tuple[dict[str, Any], str]]) -> int:
    """Send every acknowledged redemption again: each must be a retry of an applied one."""
    lost = 0
    with httpx.Client(base_url=base, timeout=30) as http:
        for body, token in acknowledged:
            response = http.post("/v1/redemptions", json=body, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 201 or response.json().get("applied") is not False:
                lost += 1
                log(f"  LOST: {body['redemption_id']} → {response.status_code} {response.text[:200]}")
    return lost


# ---------------------------------------------------------------------------------------------
# 2. forged federation messages


def forged_messages(count: int, workdir: Path, rng: random.Random) -> dict[str, Any]:
    from api.loadgen import prepare_bench_region

    master_key = base64.b64encode(os.urandom(32)).decode()
    env = environment(master_key)
    os.environ["TIMELEDGER_MASTER_KEY"] = master_key
    db = f"sqlite:///{workdir / 'federation.db'}"
    prepare_bench_region(db, members=2, sessions_per_member=1, counters=1)
    figures = {"tried": 0, "accepted": 0, "server_errors": 0}
    server = Server(db, env, workdir)
    try:
        for index in range(count):
            body = forged_body(rng, index)
            figures["tried"] += 1
            try:
                endpoint = ("/v1/federation/transfer-imports", "/v1/federation/transfer-status")[index % 2]
                response = httpx.post(server.base + endpoint, content=body, timeout=30,
                                      headers={"Content-Type": "application/json"})
            except httpx.HTTPError as error:  # the connection died: count it, bring the server back if gone
                figures["server_errors"] += 1
                log(f"  no answer to forged message {index} ({body[:40]!r}…): {type(error).__name__}")
                if server.process.poll() is not None:
                    server.kill()
                    server = Server(db, env, workdir)
                continue
            if 200 <= response.status_code < 300:
                figures["accepted"] += 1
                log(f"  ACCEPTED forged message {index}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 500:
                figures["server_errors"] += 1
                log(f"  5xx on forged message {index} ({body[:40]!r}…): {response.status_code}")
    finally:
        server.kill()
    return figures


def forged_body(rng: random.Random, index: int) -> bytes:
    b64 = lambda n: base64.b64encode(rng.randbytes(n)).decode()  # noqa: E731 - a one-line helper beside its uses
    transfer_id = str(uuid.UUID(int=rng.getrandbits(128)))
    bundle = {"format": "timeledger-transfer/v1", "transfer_id": transfer_id,
              "source": {"code": "320104", "key_id": rng.randbytes(16).hex(), "public_key": b64(32)},
              "destination": "320102", "member_id": str(uuid.UUID(int=rng.getrandbits(128))),
              "balance_minutes": rng.randint(0, 10**6), "events": [{"statement": b64(200), "signature": b64(64)}
                                                                    for _ in range(rng.randint(0, 5))],
              "checkpoint": b64(120), "signature": b64(64)}
    shapes = [
        lambda: json.dumps(bundle),
        lambda: json.dumps({**bundle, "source": {"code": [1]}}),
        lambda: json.dumps({"rejection": {"transfer_id": transfer_id, "reason": "x"}, "signature": b64(64)}),
        lambda: "[" * rng.randint(100, 2000) + "]" * rng.randint(0, 2000),
        lambda: json.dumps(bundle)[: rng.randint(1, 200)],
        lambda: json.dumps({k: v for k, v in bundle.items() if rng.random() < 0.6}),
        lambda: json.dumps({**bundle, "balance_minutes": 10**30}),
        lambda: rng.randbytes(rng.randint(0, 512)).decode("latin-1"),
        lambda: json.dumps({**bundle, "destination": "32０１０２"}),
    ]
    return shapes[index % len(shapes)]().encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------------
# 3. mutated rows


def mutated_rows(count: int, deadline: float, workdir: Path, rng: random.Random) -> dict[str, Any]:
    from api.loadgen import prepare_bench_region

    master_key = base64.b64encode(os.urandom(32)).decode()
    env = environment(master_key)
    os.environ["TIMELEDGER_MASTER_KEY"] = master_key
    original = workdir / "mutate.db"
    prepare_bench_region(f"sqlite:///{original}", members=3, sessions_per_member=2, counters=1)
    with sqlite3.connect(original) as connection:
        rows = [row[0] for row in connection.execute("SELECT rowid FROM stored_events ORDER BY rowid")]
    figures = {"tried": 0, "undetected": 0, "crashes": 0}
    for index in range(count):
        if time.monotonic() > deadline:
            log(f"  mutated rows: time budget reached after {index}")
            break
        copy = workdir / f"mutated-{index}.db"
        with sqlite3.connect(original) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        how = mutate(copy, rows, rng, index)
        figures["tried"] += 1
        for command in (["verify", "--workers", "0"], ["audit"]):
            result = cli([*command, "--db", f"sqlite:///{copy}"], env, timeout=120)
            text = result.stdout + result.stderr
            if "Traceback" in text or result.returncode not in (1, 2, 3):
                if result.returncode == 0:
                    figures["undetected"] += 1
                    log(f"  UNDETECTED by {command[0]}: {how}")
                else:
                    figures["crashes"] += 1
                    log(f"  CRASH of {command[0]} (exit {result.returncode}) on {how}: {text[-300:]}")
        copy.unlink()
    return figures


def mutate(path: Path, rows: list[int], rng: random.Random, index: int) -> str:
    with sqlite3.connect(path) as connection:
        row = rng.choice(rows)
        state = bytes(connection.execute("SELECT state FROM stored_events WHERE rowid=?", (row,)).fetchone()[0])
        kind = ["flip", "truncate", "empty", "swap", "surrogate"][index % 5]
        if kind == "flip" and state:
            position = rng.randrange(len(state))
            state = state[:position] + bytes([state[position] ^ (1 << rng.randrange(8))]) + state[position + 1:]
        elif kind == "truncate":
            state = state[: rng.randrange(max(1, len(state)))]
        elif kind == "empty":
            state = b""
        elif kind == "swap":
            other = rng.choice([r for r in rows if r != row])
            other_state = connection.execute("SELECT state FROM stored_events WHERE rowid=?", (other,)).fetchone()[0]
            connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (state, other))
            state = bytes(other_state)
        else:
            state = state.replace(b'"', b'"\\ud800', 1)
        connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (state, row))
    return f"{kind} of row {row}"


# ---------------------------------------------------------------------------------------------
# 4. schemathesis as every role


def schemathesis_5xx(examples: int, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TIMELEDGER_API_FUZZ_EXAMPLES=str(examples),
               HYPOTHESIS_PROFILE="ci")
    env.pop("TIMELEDGER_MASTER_KEY", None)  # the test makes its own stores
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider",
                                 "--tb=line", "tests/api/test_property_openapi.py"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"examples_per_operation": examples, "operations": None, "operations_with_5xx": None,
                "other_failures": None, "timed_out": True}
    text = result.stdout + result.stderr
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", text)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", text)) else 0
    failed += int(m.group(1)) if (m := re.search(r"(\d+) errors?\b", text)) else 0
    with_5xx = len(set(re.findall(r"AssertionError: \((5\d\d),", text)))
    five = len(re.findall(r"AssertionError: \(5\d\d,", text))
    return {"examples_per_operation": examples, "operations": passed + failed, "operations_with_5xx": five,
            "distinct_5xx_statuses": with_5xx, "other_failures": failed - five, "timed_out": False}


# ---------------------------------------------------------------------------------------------


def sub(workdir: Path, name: str) -> Path:
    folder = workdir / name
    folder.mkdir(exist_ok=True)
    return folder


def postgres_up() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            return True
    except Exception:  # noqa: BLE001 - any failure to connect means: no PostgreSQL here
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 SQLite and 3 PostgreSQL cycles, fewer of the rest")
    parser.add_argument("--sqlite-cycles", type=int)
    parser.add_argument("--postgres-cycles", type=int)
    parser.add_argument("--forged", type=int)
    parser.add_argument("--mutations", type=int)
    parser.add_argument("--api-examples", type=int)
    parser.add_argument("--budget", type=float, default=540.0, help="seconds for the whole run (default 540)")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    quick = options.quick
    sqlite_cycles = options.sqlite_cycles if options.sqlite_cycles is not None else (10 if quick else 100)
    postgres_cycles = options.postgres_cycles if options.postgres_cycles is not None else (3 if quick else 20)
    forged = options.forged if options.forged is not None else (45 if quick else 450)
    mutations = options.mutations if options.mutations is not None else (10 if quick else 60)
    api_examples = options.api_examples if options.api_examples is not None else (3 if quick else 8)
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    started = time.monotonic()
    end = started + options.budget
    log(f"torture: seed {seed}, budget {options.budget:.0f}s{' (quick)' if quick else ''}")
    result: dict[str, Any] = {"seed": seed, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="timeledger-torture-") as folder:
        workdir = Path(folder)
        # shares of the budget: the kill cycles get most of it
        log(f"kill -9 cycles on SQLite (goal {sqlite_cycles}) …")
        result["sqlite"] = kill_cycles("sqlite", sqlite_cycles, started + options.budget * 0.55,
                                       sub(workdir, "s"), rng)
        log(f"  {result['sqlite']}")
        if postgres_up():
            log(f"kill -9 cycles on PostgreSQL (goal {postgres_cycles}) …")
            result["postgres"] = kill_cycles("postgres", postgres_cycles, started + options.budget * 0.72,
                                             sub(workdir, "p"), rng)
        else:
            result["postgres"] = {"store": "postgres", "skipped": "PostgreSQL is not running on 127.0.0.1:5432"}
        log(f"  {result['postgres']}")
        log(f"forged federation messages ({forged}) …")
        result["forged_federation"] = forged_messages(forged, sub(workdir, "f"), rng)
        log(f"  {result['forged_federation']}")
        log(f"mutated rows ({mutations}) …")
        result["mutated_rows"] = mutated_rows(mutations, started + options.budget * 0.85,
                                              sub(workdir, "m"), rng)
        log(f"  {result['mutated_rows']}")
    remaining = max(30.0, end - time.monotonic())
    if api_examples > 0:
        log(f"schemathesis as every role ({api_examples} examples per operation, at most {remaining:.0f}s) …")
        result["schemathesis"] = schemathesis_5xx(api_examples, remaining)
    else:
        result["schemathesis"] = {"skipped": "--api-examples 0"}
    log(f"  {result['schemathesis']}")
    result["seconds"] = round(time.monotonic() - started, 1)
    sqlite, postgres = result["sqlite"], result["postgres"]
    result["ok"] = (sqlite["lost"] == 0 and sqlite["verify_failures"] == 0
                    and postgres.get("lost", 0) == 0 and postgres.get("verify_failures", 0) == 0
                    and result["forged_federation"]["accepted"] == 0
                    and result["forged_federation"]["server_errors"] == 0
                    and result["mutated_rows"]["crashes"] == 0 and result["mutated_rows"]["undetected"] == 0
                    and result["schemathesis"].get("operations_with_5xx", 0) == 0)
    print(json.dumps(result, ensure_ascii=False, sort_keys=True), flush=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
