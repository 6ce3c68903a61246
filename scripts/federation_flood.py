"""Measure what a 50 MB anonymous push to the federation endpoint costs a running service.

Starts one `timeledger serve` on 127.0.0.1 over a fresh SQLite store, keeps a region admin writing
(POST /v1/units, through the group-commit writer) and samples the server's resident memory, then
pushes 50 MB of garbage to POST /v1/federation/transfer-imports: once with a Content-Length, once
chunked (no length), and four chunked pushes at once. Prints one JSON line: the answers, how long
each push took, the writer's latency before and during the pushes, and the server's RSS.

    PYTHONPATH=$PWD python scripts/federation_flood.py            # this tree
    SERVER_PYTHONPATH=/other/tree python scripts/federation_flood.py  # another tree's server

Loopback only; bounded: every request has a timeout and the whole run stops after ~60 s.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PUSH_BYTES = 50 * 1000 * 1000
CHUNK_BYTES = 64 * 1024
PASSWORD = "correct-horse-battery-9"
PATH = "/v1/federation/transfer-imports"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def garbage_chunks() -> Iterator[bytes]:
    """One JSON array of 25 million zeros, 50 MB, in 64 KiB chunks: valid JSON, so a server that reads
    it all also parses it all."""
    chunk = b"0," * (CHUNK_BYTES // 2)
    yield b"["
    sent = 1
    while sent + len(chunk) < PUSH_BYTES:
        yield chunk
        sent += len(chunk)
    yield b"0]"


def push(url: str, *, chunked: bool) -> dict[str, object]:
    started = time.monotonic()
    try:
        if chunked:
            answer = httpx.post(url + PATH, content=garbage_chunks(), timeout=30)
        else:
            answer = httpx.post(url + PATH, content=b"[" + b"0," * (PUSH_BYTES // 2 - 1) + b"0]", timeout=30)
        outcome: dict[str, object] = {"status": answer.status_code, "code": answer.json().get("code")}
    except httpx.HTTPError as error:  # the server may close the connection once it has answered
        outcome = {"status": None, "error": type(error).__name__}
    outcome["seconds"] = round(time.monotonic() - started, 2)
    return outcome


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="flood-"))
    tree = os.environ.get("SERVER_PYTHONPATH", os.environ.get("PYTHONPATH", os.getcwd()))
    env = dict(os.environ, TIMELEDGER_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
               TIMELEDGER_ENVIRONMENT="development", PYTHONPATH=tree)
    db = f"sqlite:///{work / 'region.db'}"
    setup = ("from ledger.application import Ledger\n"
             f"ledger = Ledger({db!r}); ledger.init_region(code='320104', name='南京市秦淮区'); ledger.close()\n")
    subprocess.run([sys.executable, "-c", setup], env=env, check=True, cwd=work, timeout=120)
    subprocess.run([sys.executable, "-m", "api.cli", "logins", "admin", "--password-stdin", "--db", db],
                   env=env, input=PASSWORD + "\n", text=True, check=True, capture_output=True, cwd=work, timeout=120)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--db", db,
                               "--no-access-log"], env=env, cwd=work, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        token = httpx.post(url + "/v1/auth/token", data={"username": "region-admin", "password": PASSWORD},
                           timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        result: dict[str, object] = {"server_tree": tree}
        latencies: dict[str, list[float]] = {"before": [], "during": []}
        phase = ["before"]
        stop = threading.Event()
        peak = [0.0]

        def write() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                started = time.monotonic()
                answer = httpx.post(url + "/v1/units", headers=headers, timeout=30,
                                    json={"name": f"单位{n}", "unit_type": "机关", "declared_members": 1})
                assert answer.status_code == 201, answer.text
                latencies[phase[0]].append(time.monotonic() - started)
                time.sleep(0.02)

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mib(server.pid))
                time.sleep(0.05)

        threads = [threading.Thread(target=write), threading.Thread(target=sample)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        result["rss_before_mib"] = round(rss_mib(server.pid), 1)
        phase[0] = "during"
        result["push_with_length"] = push(url, chunked=False)
        result["push_chunked"] = push(url, chunked=True)
        answers: list[dict[str, object]] = []
        four = [threading.Thread(target=lambda: answers.append(push(url, chunked=True))) for _ in range(4)]
        for thread in four:
            thread.start()
        for thread in four:
            thread.join(60)
        result["four_chunked_at_once"] = answers
        time.sleep(1)
        stop.set()
        for thread in threads:
            thread.join(30)
        result["rss_after_mib"] = round(rss_mib(server.pid), 1)
        result["rss_peak_mib"] = round(peak[0], 1)
        for name, values in latencies.items():
            if values:
                result[f"write_ms_{name}"] = {"count": len(values), "median": round(statistics.median(values) * 1000),
                                              "max": round(max(values) * 1000)}
        print(json.dumps(result, ensure_ascii=False))
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
