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

How it is fast enough for its goals (≥ 100 SQLite and ≥ 20 PostgreSQL cycles in one 10-minute run):
* a zygote (`Zygote`) imports the CLI and the service once and forks every `timeledger …` run — each
  server, each verify and audit of a mutated copy — through `api.cli.main()`, the console script's
  own entry point: no interpreter start and no imports per run (seconds each on a busy machine);
* the verification after each kill is the full `verify_store` (every event from the first, every
  check), in this process, with a SignatureMemo that spares only the Ed25519 arithmetic on rows
  byte-identical to ones already verified;
* two lanes run at once: SQLite's cycles in one; PostgreSQL's cycles, then parts 2, 3 and 4 in the
  other. Each part's figures carry its seconds, the kill cycles their time per phase.

Loopback only; bounded in count and time (--budget seconds, default 570). `--quick` scales it down.
Usage: PYTHONPATH=. python scripts/torture.py [--quick] [--sqlite-cycles N] [--postgres-cycles N] …
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import functools
import json
import os
import random
import re
import select
import signal
import sqlite3
import ssl
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
# The budget's shares, as fractions of --budget from the start: each part stops at its mark (or at its goal).
SQLITE_UNTIL = 0.93  # its lane does nothing else
POSTGRES_UNTIL = 0.45  # then, in the same lane, the forged messages, the mutated rows and schemathesis
MUTATIONS_UNTIL = 0.70
SCHEMATHESIS_SECONDS_MIN = 60.0
LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)\n", re.MULTILINE)  # the whole line


@functools.cache
def loopback_tls() -> ssl.SSLContext:
    """One TLS context for every httpx client: the servers are plain http on 127.0.0.1 (it is never
    used), but httpx builds one per client by default, loading the CA bundle: ~80 ms each."""
    return ssl.create_default_context()


def log(message: str) -> None:
    print(message, flush=True)


def environment(master_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "TIMELEDGER_MASTER_KEY": master_key, "NO_PROXY": "127.0.0.1",
                "no_proxy": "127.0.0.1", "TIMELEDGER_ARGON2_TIME_COST": "1", "TIMELEDGER_ARGON2_MEMORY_KIB": "64"})
    env.pop("TIMELEDGER_DATABASE_URL", None)
    return env


ZYGOTE_IMPORTS = (  # what `timeledger serve`, `verify` and `audit` import, loaded once in the zygote
    "api.cli", "api.main", "api.services", "api.settings", "ledger.application", "ledger.storage.database",
    "ledger.verification.store", "projections.audit", "uvicorn", "uvicorn.config", "uvicorn.server",
    "uvicorn.loops.auto", "uvicorn.protocols.http.auto", "uvicorn.protocols.websockets.auto", "uvicorn.lifespan.on",
    "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql.psycopg", "psycopg",
    "api.web.core", "api.web.pages", "fastapi.templating", "fastapi_offline", "anyio._backends._asyncio",
    "anyio.streams.memory", "anyio.from_thread")  # the last line: what create_app and a first request import late


class Zygote:
    """One interpreter that imports the CLI and the whole service once (`ZYGOTE_IMPORTS`), then forks a
    child for each `timeledger …` run. The child sets the run's environment, working directory, argv
    and standard streams and calls `api.cli.main()` — the console script's own entry point, so `serve`
    runs the same code path as `timeledger serve` — and exits as that interpreter would. The fork
    saves the new interpreter and the imports per start (seconds on a busy machine); the child is a
    real process holding the database, killed with a real SIGKILL (`Server.sigkill`).

    The zygote is single-threaded (no lock can be held mid-fork) and is the children's parent, so it
    reaps them, when asked. Until then an ended child stays a zombie and its pid its own: this process
    watches it through a pidfd (readable once it has ended), so a lane waiting for its child never
    holds up the other lane's requests to the zygote (each a quick question and answer)."""

    def __init__(self, workdir: Path) -> None:
        self.log = (workdir / "zygote.log").open("ab")
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--zygote"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                        env=environment(""), cwd=ROOT, text=True, bufsize=1)
        self.lock = threading.Lock()
        self.children_cpu = 0.0
        self.pidfds: dict[int, int] = {}
        ready = self._read()
        if ready.get("threads", 1) != 1:
            log(f"  warning: the zygote runs {ready['threads']} threads after its imports")

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the zygote died: " + Path(self.log.name).read_text()[-1500:])
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"zygote: {answer['error']}")
        return answer

    def _ask(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            return self._read()

    def start(self, args: list[str], env: dict[str, str], *, cwd: Path, stdout: Path, stderr: Path) -> int:
        """Fork `timeledger ARGS`; its pid (a child of the zygote: end with `poll` or `wait`)."""
        pid = int(self._ask(start=args, env=env, cwd=str(cwd), stdout=str(stdout), stderr=str(stderr))["pid"])
        self.pidfds[pid] = os.pidfd_open(pid)  # the child cannot be reaped (nor its pid reused) before we ask
        return pid

    def poll(self, pid: int) -> int | None:
        """The exit status (as subprocess: -N for signal N) if the child has ended (then reaped), else None."""
        if not select.select([self.pidfds[pid]], [], [], 0)[0]:
            return None
        return self._reap(pid)[0]

    def wait(self, pid: int, timeout: float = 60) -> tuple[int, float]:
        """Block until the child ends (SIGKILLed after `timeout` seconds), then reap it: its exit status
        and the CPU seconds it used (all children's add up in `children_cpu`)."""
        if not select.select([self.pidfds[pid]], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            select.select([self.pidfds[pid]], [], [], 60)
        return self._reap(pid)

    def _reap(self, pid: int) -> tuple[int, float]:
        answer = self._ask(reap=pid)
        os.close(self.pidfds.pop(pid))
        self.children_cpu += answer["cpu"]
        return int(answer["status"]), float(answer["cpu"])

    def run(self, args: list[str], env: dict[str, str], *, cwd: Path, timeout: float = 300) -> tuple[int, str]:
        """`timeledger ARGS` to its end: (exit status, standard output + standard error)."""
        out, err = cwd / "run.out", cwd / "run.err"
        pid = self.start(args, env, cwd=cwd, stdout=out, stderr=err)
        status, _ = self.wait(pid, timeout)
        text = out.read_text(errors="replace") + err.read_text(errors="replace")
        out.unlink()
        err.unlink()
        return status, text

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.log.close()


def zygote_main() -> None:
    """The zygote's side (`torture.py --zygote`): requests and answers as JSON lines on its standard
    input and output. Only forked children return from `_zygote_loop`: they run the CLI here, at the
    top of the stack, and leave the way `python -c "from api.cli import main; main()"` does."""
    import importlib

    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [entry for entry in sys.path if entry != here]  # as `python -c`: scripts/ is not importable
    for name in ZYGOTE_IMPORTS:
        importlib.import_module(name)
    job = _zygote_loop()
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    sys.argv = ["timeledger", *job["start"]]
    os._exit(_run_timeledger())


def _run_timeledger() -> int:
    """`api.cli.main()` as `python -c "from api.cli import main; main()"` runs it, to the same exit
    status and output: SystemExit gives the status (a message: printed, 1), any other exception its
    traceback and 1; then non-daemon threads are joined, the atexit handlers run and the streams are
    flushed. Skipped: the interpreter's teardown of the zygote's whole heap (module by module, and a
    last collection touching every page), about 0.6 s of CPU per run for nothing the command does."""
    import atexit
    import traceback

    from api.cli import main as timeledger

    try:
        timeledger()
        code = 0
    except SystemExit as leaving:
        if leaving.code is None or isinstance(leaving.code, int):
            code = leaving.code or 0
        else:
            print(leaving.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - as the interpreter does: print it, exit 1
        traceback.print_exc()
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # noqa: SLF001 - the handlers the interpreter would run, before os._exit
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _zygote_loop() -> dict[str, Any]:
    requests = os.fdopen(os.dup(0), "r")
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)  # a stray print must not reach the answers

    def answer(**values: Any) -> None:
        answers.write(json.dumps(values) + "\n")
        answers.flush()

    answer(ready=True, threads=threading.active_count())
    for line in requests:
        request = json.loads(line)
        try:
            if "start" in request:
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    requests.close()
                    answers.close()
                    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
                        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), fd)
                    return dict(request)
                answer(pid=pid)
            elif "reap" in request:  # the child has ended (the caller saw its pidfd): no wait
                _, raw, usage = os.wait4(request["reap"], 0)
                answer(status=os.waitstatus_to_exitcode(raw), cpu=usage.ru_utime + usage.ru_stime)
            else:
                answer(error=f"unknown request {sorted(request)}")
        except OSError as error:
            answer(error=f"{type(error).__name__}: {error}")
    sys.exit(0)


class Server:
    """`timeledger serve --port 0`, forked by the zygote; the port comes from its 'listening on' line,
    readiness from /healthz (answered once the service's lifespan has started)."""

    def __init__(self, db: str, env: dict[str, str], workdir: Path, zygote: Zygote) -> None:
        self.zygote = zygote
        self.stdout = workdir / f"server-{uuid.uuid4().hex}.out"
        self.stderr = workdir / "server.log"
        self.pid = zygote.start(["serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--no-access-log",
                                 "--log-level", "warning"], env, cwd=workdir, stdout=self.stdout, stderr=self.stderr)
        self.status: int | None = None
        self.cpu = 0.0  # CPU seconds the server used, known once reaped
        self.base = ""
        deadline = time.monotonic() + 60
        checked = time.monotonic()
        while not self.base and time.monotonic() < deadline:
            found = LISTENING.search(self.stdout.read_text(errors="replace")) if self.stdout.exists() else None
            if found:
                self.base = found.group(1)
            elif time.monotonic() - checked > 0.2:
                checked = time.monotonic()
                if self.exited():
                    break
            else:
                time.sleep(0.005)
        if not self.base:
            self.kill()
            raise RuntimeError(f"the server did not start (status {self.status}): "
                               + self.stderr.read_text(errors="replace")[-1500:])
        with httpx.Client(timeout=2, verify=loopback_tls()) as http:
            while time.monotonic() < deadline:
                try:
                    if http.get(self.base + "/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    time.sleep(0.01)
        self.kill()
        raise RuntimeError("the server never answered /healthz")

    def exited(self) -> bool:
        if self.status is None:
            self.status = self.zygote.poll(self.pid)
        return self.status is not None

    def sigkill(self) -> None:
        """kill -9: the zygote has not reaped the child yet, so its pid is still its own."""
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """kill -9, then wait until the process is gone (no longer holding the database)."""
        self.sigkill()
        if self.status is None:
            self.status, self.cpu = self.zygote.wait(self.pid, timeout=30)
        self.stdout.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# 1. kill -9 cycles


def kill_cycles(kind: str, cycles: int, deadline: float, workdir: Path, rng: random.Random,
                zygote: Zygote) -> dict[str, Any]:
    """The cycles on one store. They run beside the other lane (see `main`): every store of the run is
    sealed under the run's master key, set once in this process's TIMELEDGER_MASTER_KEY (the Ledgers
    opened here read it)."""
    from api.loadgen import prepare_bench_region

    env = environment(os.environ["TIMELEDGER_MASTER_KEY"])
    schema = None
    if kind == "sqlite":
        db = f"sqlite:///{workdir / 'torture.db'}"
    else:
        schema = f"torture_{uuid.uuid4().hex[:12]}"
        db = f"{POSTGRES_URL}?schema={schema}"
    region = prepare_bench_region(db, members=20, sessions_per_member=4, counters=3, price_minutes=7)
    figures: dict[str, Any] = {"store": kind, "cycles": 0, "acknowledged": 0, "lost": 0, "verify_failures": 0,
                               "start_failures": 0, "verified_events": 0}
    phases = dict.fromkeys(("start", "recheck", "hammer", "kill", "verify", "server_cpu"), 0.0)  # where time goes

    def timed(phase: str, started: float) -> float:
        now = time.monotonic()
        phases[phase] += now - started
        return now

    from ledger.verification.store import SignatureMemo

    memo = SignatureMemo()
    began = time.monotonic()
    pending: list[tuple[dict[str, Any], str]] = []  # acknowledged in the last cycle, checked after restart
    try:
        for cycle in range(cycles):
            if time.monotonic() > deadline:
                log(f"  {kind}: time budget reached after {cycle} cycles")
                break
            mark = time.monotonic()
            try:
                server = Server(db, env, workdir, zygote)
            except RuntimeError as error:
                figures["start_failures"] += 1
                log(f"  {kind} cycle {cycle}: {error}")
                break
            mark = timed("start", mark)
            try:
                figures["lost"] += recheck(server.base, pending)
                mark = timed("recheck", mark)
                pending = hammer(server, region, rng, seconds=rng.uniform(0.05, 0.6))
                mark = timed("hammer", mark)
            finally:
                server.kill()
            mark = timed("kill", mark)
            phases["server_cpu"] += server.cpu
            figures["acknowledged"] += len(pending)
            figures["cycles"] += 1
            problems, events = verify_inline(db, memo)  # every restart starts from a store that verifies
            timed("verify", mark)
            figures["verified_events"] = events
            if problems:
                figures["verify_failures"] += 1
                log(f"  {kind} cycle {cycle}: verify FAILED: {problems[:3]}")
            if cycle % 10 == 0:
                log(f"  {kind}: cycle {cycle + 1}/{cycles}, acknowledged so far {figures['acknowledged']}, "
                    f"lost {figures['lost']}, {events} events verified")
        if pending:  # the last cycle's writes, once more
            server = Server(db, env, workdir, zygote)
            try:
                figures["lost"] += recheck(server.base, pending)
            finally:
                server.kill()
        figures["seconds"] = round(time.monotonic() - began, 1)
        figures["phase_seconds"] = {phase: round(seconds, 1) for phase, seconds in phases.items()}
    finally:
        if schema is not None:
            import psycopg
            from psycopg import sql

            with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return figures


def verify_inline(db: str, memo: Any = None) -> tuple[list[str], int]:
    """What `timeledger verify` checks (ledger.verification.store.verify_store: every event, from the
    first), in this process: no interpreter start per cycle. `memo` (a SignatureMemo kept across the
    cycles) spares only the Ed25519 arithmetic on rows byte-identical to ones verified before; every
    other check runs on every row, and a changed row is verified afresh. Returns the problems (none:
    the store verifies) and the number of events checked."""
    from ledger.application import Ledger
    from ledger.verification.store import verify_store

    ledger = Ledger(db)
    try:
        report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                              region_code=ledger.region_code, recorder=ledger.recorder, workers=0, memo=memo)
        problems = [str(problem) for problem in report.problems]
        return (problems if problems or report.ok else ["the report is not ok"]), report.events_checked
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
        with httpx.Client(base_url=server.base, timeout=5, headers={"Authorization": f"Bearer {token}"},
                          verify=loopback_tls()) as http:
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
    server.sigkill()  # mid-flight
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return acknowledged


def recheck(base: str, acknowledged: list[tuple[dict[str, Any], str]]) -> int:
    """Send every acknowledged redemption again: each must be a retry of an applied one. One thread per
    counter (as they were sent), each counter's redemptions in their order."""
    by_token: dict[str, list[dict[str, Any]]] = {}
    for body, token in acknowledged:
        by_token.setdefault(token, []).append(body)
    lost = [0] * len(by_token)

    def counter(index: int, token: str, bodies: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"},
                          verify=loopback_tls()) as http:
            for body in bodies:
                try:
                    response = http.post("/v1/redemptions", json=body)
                except httpx.HTTPError as error:
                    lost[index] += 1
                    log(f"  NOT CHECKED (counted lost): {body['redemption_id']} → {type(error).__name__}")
                    continue
                if response.status_code != 201 or response.json().get("applied") is not False:
                    lost[index] += 1
                    log(f"  LOST: {body['redemption_id']} → {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=counter, args=(index, token, bodies))
               for index, (token, bodies) in enumerate(by_token.items())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(lost)


# ---------------------------------------------------------------------------------------------
# 2. forged federation messages


def forged_messages(count: int, workdir: Path, rng: random.Random, zygote: Zygote) -> dict[str, Any]:
    from api.loadgen import prepare_bench_region

    env = environment(os.environ["TIMELEDGER_MASTER_KEY"])  # the run's key (main): the other lane reads it too
    db = f"sqlite:///{workdir / 'federation.db'}"
    prepare_bench_region(db, members=2, sessions_per_member=1, counters=1)
    figures = {"tried": 0, "accepted": 0, "server_errors": 0}
    server = Server(db, env, workdir, zygote)
    try:
        for index in range(count):
            body = forged_body(rng, index)
            figures["tried"] += 1
            try:
                endpoint = ("/v1/federation/transfer-imports", "/v1/federation/transfer-status")[index % 2]
                response = httpx.post(server.base + endpoint, content=body, timeout=30, verify=loopback_tls(),
                                      headers={"Content-Type": "application/json"})
            except httpx.HTTPError as error:  # the connection died: count it, bring the server back if gone
                figures["server_errors"] += 1
                log(f"  no answer to forged message {index} ({body[:40]!r}…): {type(error).__name__}")
                if server.exited():
                    server.kill()
                    server = Server(db, env, workdir, zygote)
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


def mutated_rows(count: int, deadline: float, workdir: Path, rng: random.Random, zygote: Zygote) -> dict[str, Any]:
    from api.loadgen import prepare_bench_region

    env = environment(os.environ["TIMELEDGER_MASTER_KEY"])  # the run's key (main): the other lane reads it too
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
            status, text = zygote.run([*command, "--db", f"sqlite:///{copy}"], env, cwd=workdir, timeout=120)
            if "Traceback" in text or status not in (1, 2, 3):
                if status == 0:
                    figures["undetected"] += 1
                    log(f"  UNDETECTED by {command[0]}: {how}")
                else:
                    figures["crashes"] += 1
                    log(f"  CRASH of {command[0]} (exit {status}) on {how}: {text[-300:]}")
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
    parser.add_argument("--budget", type=float, default=570.0, help="seconds for the whole run (default 570; "
                        "the last part may run on to at least a minute of its own: the run stays under 10 minutes)")
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
        zygote = Zygote(workdir)
        log(f"zygote ready ({time.monotonic() - started:.1f}s): each start below is a fork of it")
        os.environ["TIMELEDGER_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()  # the run's, every store's
        # Two lanes at once, all parts independent (own stores, servers, verifiers): SQLite's kill cycles,
        # which take longest, in one; in the other PostgreSQL's kill cycles, then the forged messages, the
        # mutated rows and schemathesis. While one lane waits (a server starting, writes in flight, a
        # kill), the other works.
        sqlite_rng, other_rng = random.Random(rng.randrange(2**32)), random.Random(rng.randrange(2**32))

        def sqlite_lane() -> None:
            log(f"kill -9 cycles on SQLite (goal {sqlite_cycles}) …")
            result["sqlite"] = kill_cycles("sqlite", sqlite_cycles, started + options.budget * SQLITE_UNTIL,
                                           sub(workdir, "s"), sqlite_rng, zygote)
            log(f"  {result['sqlite']}")

        def other_lane() -> None:
            if postgres_up():
                log(f"kill -9 cycles on PostgreSQL (goal {postgres_cycles}) …")
                result["postgres"] = kill_cycles("postgres", postgres_cycles,
                                                 started + options.budget * POSTGRES_UNTIL, sub(workdir, "p"),
                                                 other_rng, zygote)
            else:
                result["postgres"] = {"store": "postgres", "skipped": "PostgreSQL is not running on 127.0.0.1:5432"}
            log(f"  {result['postgres']}")
            log(f"forged federation messages ({forged}) …")
            mark = time.monotonic()
            result["forged_federation"] = forged_messages(forged, sub(workdir, "f"), other_rng, zygote)
            result["forged_federation"]["seconds"] = round(time.monotonic() - mark, 1)
            log(f"  {result['forged_federation']}")
            log(f"mutated rows ({mutations}) …")
            mark = time.monotonic()
            result["mutated_rows"] = mutated_rows(mutations, started + options.budget * MUTATIONS_UNTIL,
                                                  sub(workdir, "m"), other_rng, zygote)
            result["mutated_rows"]["seconds"] = round(time.monotonic() - mark, 1)
            log(f"  {result['mutated_rows']}")
            remaining = max(SCHEMATHESIS_SECONDS_MIN, end - time.monotonic())
            if api_examples > 0:
                log(f"schemathesis as every role ({api_examples} examples per operation, at most {remaining:.0f}s) …")
                mark = time.monotonic()
                result["schemathesis"] = schemathesis_5xx(api_examples, remaining)
                result["schemathesis"]["seconds"] = round(time.monotonic() - mark, 1)
            else:
                result["schemathesis"] = {"skipped": "--api-examples 0"}
            log(f"  {result['schemathesis']}")

        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                for lane in [pool.submit(sqlite_lane), pool.submit(other_lane)]:
                    lane.result()
        finally:
            zygote.close()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["cpu_seconds"] = {"torture": round(time.process_time(), 1), "forked_runs": round(zygote.children_cpu, 1),
                             "load_average": round(os.getloadavg()[0], 1)}
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
    if sys.argv[1:] == ["--zygote"]:  # started by Zygote (not an option for people)
        zygote_main()
    else:
        main()
