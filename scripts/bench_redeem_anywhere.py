"""通存通兑 benchmark: redemptions at a counter of region B for members of region A, against local
redemptions at A's own counters, measured in the same run (issue #14).

Two `timeledger serve` processes on 127.0.0.1 — 玄武区 (A, the members' home) and 秦淮区 (B, the
counters) — registered as peers of one province. The same keep-alive client (`api.loadgen`) with the
same number of connections loads, in alternating slices:

* cross-region — POST /v1/redemptions/anywhere at B: B signs an authorise request, A verifies it,
  holds the minutes and signs its answer, B records it, then the same for the capture (two signed
  round trips to A and three commits at each side per redemption);
* local (the baseline) — POST /v1/redemptions at A's own counters for the same members.

    python scripts/bench_redeem_anywhere.py                       # SQLite files in a temp folder
    python scripts/bench_redeem_anywhere.py --seconds 20 --connections 16

Aim (issue #14): the p99 of a cross-region redemption ≤ 3 × a local one at the same offered load.
The last line is JSON: {"ratio", "p50_ms", "p99_ms", "req_per_s", "local_…", "p99_ratio", …}
(ratio = cross-region / local req/s; p99_ratio = cross-region / local p99).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.loadgen import Result, free_port, merge, prepare_bench_region, request_bytes, run_load, stop_server, summary, wait_until_up

SECONDS_MAX = 120.0
CONNECTIONS_MAX = 256


def start(database_url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--db", database_url,
                             "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def link(database_url: str, peer_url: str, address: str) -> None:
    """Register the peer region (its card, at its loopback address) in `database_url`'s registry."""
    from ledger.application import Ledger, transfers

    here, there = Ledger(database_url), Ledger(peer_url)
    try:
        transfers.register_peer(here, transfers.region_card(there, address=address))
    finally:
        here.close()
        there.close()


def load(port: int, path: str, *, tokens: list[str], members: list[UUID], item_id: UUID, home: str | None,
         connections: int, seconds: float) -> Result:
    def make(connection: int, number: int) -> bytes:
        body: dict[str, object] = {"member_id": str(members[(connection + number) % len(members)]),
                                   "redemption_id": str(uuid.uuid4()),
                                   "items": [{"item_id": str(item_id), "quantity": 1}]}
        if home is not None:
            body["home_region"] = home
        return request_bytes("POST", path, body, {"Authorization": f"Bearer {tokens[connection % len(tokens)]}"})

    return run_load("127.0.0.1", port, connections=connections, seconds=seconds, make=make)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per kind (max 120)")
    parser.add_argument("--connections", type=int, default=8, help="client connections (the offered load)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating slices per kind")
    parser.add_argument("--members", type=int, default=32)
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), SECONDS_MAX)
    connections = min(max(args.connections, 1), CONNECTIONS_MAX)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TIMELEDGER_MASTER_KEY_FILE": str(Path(folder) / "master.key"), "PYTHONPATH": str(ROOT)}
        os.environ["TIMELEDGER_MASTER_KEY_FILE"] = env["TIMELEDGER_MASTER_KEY_FILE"]
        home_db, counter_db = f"sqlite:///{Path(folder) / 'xuanwu.db'}", f"sqlite:///{Path(folder) / 'qinhuai.db'}"
        # every redemption costs 1 minute: the members hold far more than a run can spend
        home = prepare_bench_region(home_db, members=args.members, sessions_per_member=4, counters=2, price_minutes=1)
        counters = prepare_bench_region(counter_db, members=1, sessions_per_member=1, counters=2, price_minutes=1,
                                        code="320104", name="南京市秦淮区", province_key=home.root_key)
        home_port, counter_port = free_port(), free_port()
        link(home_db, counter_db, f"http://127.0.0.1:{counter_port}")
        link(counter_db, home_db, f"http://127.0.0.1:{home_port}")
        servers = [start(home_db, home_port, env), start(counter_db, counter_port, env)]
        try:
            wait_until_up("127.0.0.1", home_port)
            wait_until_up("127.0.0.1", counter_port)
            cross, local = Result(), Result()
            for _ in range(args.rounds):
                slice_seconds = seconds / args.rounds
                merge(cross, load(counter_port, "/v1/redemptions/anywhere", tokens=counters.counter_tokens,
                                  members=home.members, item_id=counters.item_id, home="320102",
                                  connections=connections, seconds=slice_seconds))
                merge(local, load(home_port, "/v1/redemptions", tokens=home.counter_tokens, members=home.members,
                                  item_id=home.item_id, home=None, connections=connections, seconds=slice_seconds))
        finally:
            for server in servers:
                stop_server(server)
    print(f"{connections} connections, {seconds:.0f} s per kind in {args.rounds} alternating slices, "
          f"{args.members} members, SQLite, two services on 127.0.0.1")
    cross_figures = summary("cross-region", cross, width=13)
    local_figures = summary("local", local, width=13)
    ratio = cross_figures["req_per_s"] / local_figures["req_per_s"] if local_figures["req_per_s"] else 0.0
    p99_ratio = cross_figures["p99_ms"] / local_figures["p99_ms"] if local_figures["p99_ms"] else 0.0
    print(f"ratio (cross-region / local req/s): {ratio:.3f}; p99 cross-region / local: {p99_ratio:.2f} (aim ≤ 3)")
    print(json.dumps({"ratio": round(ratio, 3), "p99_ratio": round(p99_ratio, 2),
                      "req_per_s": cross_figures["req_per_s"], "p50_ms": cross_figures["p50_ms"],
                      "p99_ms": cross_figures["p99_ms"], "local_req_per_s": local_figures["req_per_s"],
                      "local_p50_ms": local_figures["p50_ms"], "local_p99_ms": local_figures["p99_ms"],
                      "connections": connections, "seconds": seconds, "database": "sqlite",
                      "statuses": {str(k): v for k, v in sorted(cross.statuses.items())}}))


if __name__ == "__main__":
    main()
