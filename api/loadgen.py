"""Loopback load generation for `scripts/bench_http.py` and the real-server test.

A minimal HTTP/1.1 keep-alive client on asyncio streams (so the load generator costs far less CPU
than the server it measures), plus the small region both use: a community with a counter per
client group, a catalogue item and a few members with certified minutes to spend. Only loopback
addresses are accepted as targets.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DURATION_SECONDS_MAX = 120.0  # a load run stops by itself


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    errors: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def merge(total: Result, part: Result) -> None:
    """Add one measured slice to a run's total (benchmarks alternate slices of what they compare)."""
    total.latencies_ms.extend(part.latencies_ms)
    total.seconds += part.seconds
    total.errors += part.errors
    for status, count in part.statuses.items():
        total.statuses[status] = total.statuses.get(status, 0) + count


def summary(name: str, result: Result, *, width: int = 11) -> dict[str, float]:
    """Print one line of figures and return them (req/s, p50, p99, requests)."""
    figures = {"req_per_s": round(result.per_second, 1), "p50_ms": round(result.percentile(0.50), 2),
               "p99_ms": round(result.percentile(0.99), 2), "requests": result.requests}
    print(f"{name:{width}} {figures['req_per_s']:8.1f} req/s   p50 {figures['p50_ms']:7.2f} ms   "
          f"p99 {figures['p99_ms']:7.2f} ms   statuses {dict(sorted(result.statuses.items()))}")
    return figures


def stop_server(process: Any) -> None:
    """Stop a benchmark's server process as Ctrl+C would (it finishes its writes), else kill it."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def request_bytes(method: str, path: str, body: Any, headers: dict[str, str]) -> bytes:
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length = 0
    for line in header_lines:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


Make = Callable[[int, int], bytes]  # (connection index, request number) -> request bytes
Seen = Callable[[int, int, int, bytes], None]  # (connection, request number, status, body)


async def _connection(host: str, port: int, index: int, make: Make, seen: Seen | None, deadline: float,
                      result: Result) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    number = 0
    try:
        while time.perf_counter() < deadline:
            data = make(index, number)
            start = time.perf_counter()
            writer.write(data)
            try:
                status, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.latencies_ms.append((time.perf_counter() - start) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if seen is not None:
                seen(index, number, status, body)
            number += 1
    finally:
        writer.close()


def run_load(host: str, port: int, *, connections: int, seconds: float, make: Make,
             seen: Seen | None = None) -> Result:
    """`connections` keep-alive clients send requests back to back for `seconds`."""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise ValueError("load is generated against loopback addresses only")
    seconds = min(seconds, DURATION_SECONDS_MAX)
    result = Result()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        await asyncio.gather(*(_connection(host, port, i, make, seen, deadline, result) for i in range(connections)))
        result.seconds = time.perf_counter() - start

    asyncio.run(main())
    return result


def wait_until_up(host: str, port: int, timeout: float = 60.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no server on {host}:{port}")


def serve_on_any_port(args: list[str], env: dict[str, str], *, timeout: float = 90.0) -> tuple[Any, int]:
    """Start `timeledger <args> --port 0` (args begin with "serve") and return the process and the port
    it bound, read from its 'listening on http://HOST:PORT' line: the server holds the port from the
    moment it is chosen (no port is picked, closed and handed on while other tests run). The rest of
    its standard output is drained in the background; standard error is inherited."""
    import re
    import sys
    import threading

    process = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", *args, "--port", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    port = None
    for raw in process.stdout:  # ends when the process closes its output (it exited)
        found = re.match(rb"listening on http://[^\s]+:(\d+)\s*$", raw)
        if found:
            port = int(found.group(1))
            break
        if time.monotonic() > deadline:
            break
    if port is None:
        process.kill()
        process.wait()
        raise RuntimeError(f"`timeledger {' '.join(args)}` named no port (exit {process.returncode})")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]  # stdout=PIPE above
    wait_until_up("127.0.0.1", port, timeout)
    return process, port


def free_port() -> int:
    """A port free now (benchmarks only: tests let the server bind port 0, see `serve_on_any_port`)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# The bench region


@dataclass
class BenchRegion:
    members: list[UUID]
    item_id: UUID
    price_minutes: int
    counter_tokens: list[str]  # one login per counter
    balances: dict[UUID, int]
    community_id: UUID
    community_token: str
    counter_ids: list[UUID]
    root_key: Any = None  # the province root's private key when this region made it (another region joins it)


def prepare_bench_region(database_url: str, *, members: int = 4, sessions_per_member: int = 2,
                         counters: int = 2, price_minutes: int = 7, code: str = "320102", name: str = "南京市玄武区",
                         province_key: Any = None) -> BenchRegion:
    """A region with `members` members holding certified minutes and `counters` counters with
    logins, written straight through the Ledger (no server needed yet). With `province_key`, the
    region joins that province (a second region of one federation)."""
    from api.auth import AuthService
    from api.settings import Settings
    from api.store import ApiStore
    from ledger.application import Actor, Ledger, setup
    from ledger.domain.limits import MINUTES_PER_SESSION_MAX
    from ledger.domain.values import Role

    ledger = Ledger(database_url)
    store = ApiStore(ledger.database)
    try:
        root_key = ledger.init_region(code=code, name=name, province_key=province_key)
        region = ledger.region_actor()
        unit, community = setup.paired_unit_and_community(ledger, region, unit_name="压测单位",
                                                          community_name="压测社区", street="街道",
                                                          declared_members=members, paired=False)
        item_id = ledger.list_catalogue_item(actor=community, name="毛巾", price_minutes=price_minutes)
        post_id = setup.first_post(ledger, community)
        counter_actors = [Actor(ledger.open_counter(actor=community, name=f"收银台{i + 1}"), Role.COUNTER)
                          for i in range(counters)]
        member_ids = []
        day = ledger.today() - timedelta(days=1)
        with ledger.batch():
            for i in range(members):
                member_ids.append(ledger.enrol_member(actor=unit, name=f"党员{i + 1}", party_status="正式"))
        for member_id in member_ids:
            with ledger.batch():
                ledger.register_member(actor=community, member_id=member_id, post_ids=[post_id])
                for _ in range(sessions_per_member):
                    setup.serve_session(ledger, community=community, member_id=member_id, activity="环境整治",
                                        content="清扫楼道", place="小区", service_date=day, start_time="04:00",
                                        end_time="20:30", minutes=MINUTES_PER_SESSION_MAX, rating="良")
        auth = AuthService(store, Settings(argon2_time_cost=1, argon2_memory_kib=8))
        office = auth.create_login(username="community-bench", password=uuid4().hex, actor=community)
        community_token = auth.issue_token(office)[0]
        tokens = []
        for counter in counter_actors:
            login = auth.create_login(username=f"counter-{counter.actor_id.hex[:8]}", password=uuid4().hex,
                                      actor=counter)
            tokens.append(auth.issue_token(login)[0])
        balances = {m: ledger.get_balance_minutes(m) for m in member_ids}
        return BenchRegion(member_ids, item_id, price_minutes, tokens, balances, community.actor_id, community_token,
                           [c.actor_id for c in counter_actors], root_key)
    finally:
        store.close()
        ledger.close()
