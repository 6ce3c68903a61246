"""HTTP benchmark: redemptions through the full stack against a trivial FastAPI endpoint.

Both are served the same way (`api.cli.commands.run_server`: uvicorn, one process, no access log) on
127.0.0.1 in the same run, measured in alternating slices (so that other load on the machine falls
on both alike), and loaded by the same keep-alive client (`api.loadgen`, asyncio) with the same
number of connections for the same bounded time:

* full stack — `timeledger serve`: bearer-token auth, authorisation, Idempotency-Key, the group-commit
  writer, Ed25519 signing, the hash chain, the event store (SQLite file by default) and the
  idempotency record; POST /v1/redemptions against a few members;
* baseline — a FastAPI app with one sync POST endpoint taking the same pydantic body and answering
  a small JSON document.

    python scripts/bench_http.py                                  # SQLite file in a temp folder
    python scripts/bench_http.py --db postgresql://postgres@127.0.0.1:5432/test --seconds 10

The last line is JSON: {"ratio", "req_per_s", "p50_ms", "p99_ms", ...} (ratio = full / baseline req/s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI
from pydantic import BaseModel, Field

from api.loadgen import Result, free_port, merge, prepare_bench_region, request_bytes, run_load, stop_server, summary, wait_until_up


class Line(BaseModel):
    item_id: UUID
    quantity: int = Field(1, ge=1, le=99)


class Body(BaseModel):
    member_id: UUID
    redemption_id: UUID
    items: list[Line] = Field(min_length=1, max_length=50)


class Out(BaseModel):
    redemption_id: UUID
    minutes: int
    applied: bool


REQUESTS_PER_SECOND_MAX = 4000  # sizes the members' balances so that nobody runs dry during the run


def baseline_app() -> FastAPI:
    """The trivial endpoint: a pydantic body in, a small JSON document out, nothing else."""
    app = FastAPI()

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/redemptions", status_code=201, response_model=Out)
    def redeem(body: Body) -> Out:
        return Out(redemption_id=body.redemption_id, minutes=sum(line.quantity for line in body.items), applied=True)

    return app


def serve_baseline(port: int) -> None:
    from api.cli.commands import run_server

    run_server(baseline_app(), host="127.0.0.1", port=port, access_log=False, log_level="warning")


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def load(port: int, *, tokens: list[str], members: list[UUID], item_id: UUID, connections: int,
         seconds: float, warm_up: bool) -> Result:
    def make(connection: int, number: int) -> bytes:
        member = members[(connection + number) % len(members)]
        return request_bytes("POST", "/v1/redemptions", {
            "member_id": str(member), "redemption_id": str(uuid.uuid4()),
            "items": [{"item_id": str(item_id), "quantity": 1}]}, {
            "Authorization": f"Bearer {tokens[connection % len(tokens)]}", "Idempotency-Key": str(uuid.uuid4())})

    if warm_up:
        run_load("127.0.0.1", port, connections=connections, seconds=1.0, make=make)
    return run_load("127.0.0.1", port, connections=connections, seconds=seconds, make=make)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server (max 120)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating slices per server")
    parser.add_argument("--members", type=int, default=64, help="members redeemed against (accounts)")
    parser.add_argument("--counters", type=int, default=4)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TIMELEDGER_MASTER_KEY_FILE": str(Path(folder) / "master.key"),
               "PYTHONPATH": str(ROOT)}
        os.environ["TIMELEDGER_MASTER_KEY_FILE"] = env["TIMELEDGER_MASTER_KEY_FILE"]
        database_url = args.db or f"sqlite:///{Path(folder) / 'bench.db'}"
        if database_url.startswith("postgres") and "schema=" not in database_url:
            database_url += ("&" if "?" in database_url else "?") + f"schema=bench_{uuid.uuid4().hex[:8]}"
        minutes_each = args.seconds * 1.25 * REQUESTS_PER_SECOND_MAX / args.members  # 1 minute per redemption
        sessions = max(1, int(minutes_each // 960) + 1)
        region = prepare_bench_region(database_url, members=args.members, sessions_per_member=sessions,
                                      counters=args.counters, price_minutes=1)
        full_port, base_port = free_port(), free_port()
        full = start(["-c", "from api.cli import main; main()", "serve", "--db", database_url, "--port",
                      str(full_port), "--no-access-log", "--log-level", "warning"], env)
        base = start([__file__, "--serve-baseline", str(base_port)], env)
        try:
            wait_until_up("127.0.0.1", full_port)
            wait_until_up("127.0.0.1", base_port)
            stack, baseline = Result(), Result()
            # Alternate short slices of both, so that load from anything else on the machine falls on
            # both alike; an idle server costs nothing while the other one is measured.
            for round_number in range(args.rounds):
                for port, total in ((full_port, stack), (base_port, baseline)):
                    part = load(port, tokens=region.counter_tokens, members=region.members, item_id=region.item_id,
                                connections=args.connections, seconds=args.seconds / args.rounds,
                                warm_up=round_number == 0)
                    merge(total, part)
        finally:
            stop_server(full)
            stop_server(base)
        if database_url.startswith("postgres") and (not args.db or "schema=" not in args.db):
            _drop_schema(database_url)
    print(f"{args.connections} connections, {args.seconds:.0f} s each in {args.rounds} alternating slices, "
          f"{args.members} members, "
          f"database {database_url.split(':')[0]}")
    stack_figures = summary("full stack", stack)
    base_figures = summary("baseline", baseline)
    ratio = stack_figures["req_per_s"] / base_figures["req_per_s"] if base_figures["req_per_s"] else 0.0
    print(f"ratio (full stack / baseline req/s): {ratio:.3f}")
    print(json.dumps({"ratio": round(ratio, 3), "req_per_s": stack_figures["req_per_s"],
                      "p50_ms": stack_figures["p50_ms"], "p99_ms": stack_figures["p99_ms"],
                      "baseline_req_per_s": base_figures["req_per_s"], "baseline_p50_ms": base_figures["p50_ms"],
                      "baseline_p99_ms": base_figures["p99_ms"], "connections": args.connections,
                      "seconds": args.seconds, "database": database_url.split(":")[0],
                      "statuses": {str(k): v for k, v in sorted(stack.statuses.items())}}))


def _drop_schema(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    from ledger.storage.database import parse_database_url

    database = parse_database_url(database_url)
    with psycopg.connect(database.libpq_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(database.schema or "")))


if __name__ == "__main__":
    time.sleep(0)
    main()
