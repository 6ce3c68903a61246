"""Page-load benchmark: every role's pages on the demo region, server time to the whole HTML document.

`timeledger serve --demo` (the demo region of the README, SQLite file in a temp folder, pinned year and
clock) on 127.0.0.1 with port 0. For each role the script signs in through the API (the page cookie
holds the same bearer token), starts at the role's home page and follows every same-site link on it
that answers HTML (one level: the pages a person reaches from their menu; no ids, downloads or
PDFs). Each page is then fetched `--rounds` times in rounds, each round also fetching `/healthz` (the
same-run baseline: one trivial request through the same server and client), so that other load on
the machine falls on both alike. Timings are printed, never asserted.

    python scripts/bench_pages.py                 # about a minute
    python scripts/bench_pages.py --rounds 50

The last line is JSON: {"pages", "median_ms_max", "p95_ms_max", "slowest", "healthz_median_ms",
"ratio_max", "over_300ms"} (ratio = a page's median / the baseline's median).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
LINK = re.compile(r'<a\s[^>]*href="(/[^"#?]*)"')
HOMES = {"counter": "/counter", "community": "/community", "member": "/me", "unit": "/unit", "region": "/region",
         "resident": "/resident", "auditor": "/audit"}
SKIP = re.compile(r"/(logout|login|activate)$|\.(pdf|csv|xlsx|json|png|svg)$|/v1/|/reports/")
DEMO_YEAR = 2026
CLOCK_START = "2026-12-01T02:00:00+00:00"
BUDGET_MS = 300


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str, list[dict[str, str]]]:
    env = dict(os.environ)
    env.update({"TIMELEDGER_MASTER_KEY_FILE": str(home / "master.key"), "TIMELEDGER_CLOCK_START": CLOCK_START,
                "TIMELEDGER_ARGON2_TIME_COST": "1", "TIMELEDGER_ARGON2_MEMORY_KIB": "64", "PYTHONPATH": str(ROOT)})
    env.pop("TIMELEDGER_DATABASE_URL", None)
    logins_file = home / "logins.csv"
    log_path = home / "server.log"
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--demo", "--year", str(DEMO_YEAR),
               "--db", f"sqlite:///{home / 'pages.db'}", "--logins-out", str(logins_file), "--host", "127.0.0.1",
               "--port", "0", "--no-access-log", "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    deadline = time.monotonic() + 300
    base = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("timeledger serve exited: " + log_path.read_text()[-2000:])
        if not base and (found := LISTENING.search(log_path.read_bytes())):
            base = found.group(1).decode()
        if base and logins_file.exists():
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    with logins_file.open(encoding="utf-8") as handle:
                        return process, base, list(csv.DictReader(handle))
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("timeledger serve did not start in 300 s")


def client_for(base: str, login: dict[str, str]) -> httpx.Client:
    token = httpx.post(base + "/v1/auth/token", data={"username": login["username"], "password": login["password"]},
                       timeout=30).json()["access_token"]
    return httpx.Client(base_url=base, cookies={"tl_session": token}, timeout=30, follow_redirects=False)


def pages_of(client: httpx.Client, home: str) -> list[str]:
    """The role's home page and the HTML pages its links lead to (one level)."""
    first = client.get(home)
    if first.status_code != 200:
        return []
    found = [home]
    for href in LINK.findall(first.text):
        path = urllib.parse.unquote(href)
        if path in found or SKIP.search(path) or re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", path):
            continue
        answer = client.get(path)
        if answer.status_code == 200 and answer.headers.get("content-type", "").startswith("text/html"):
            found.append(path)
    return found


def timed(client: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - began) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"{path} answered {answer.status_code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed fetches of each page (default 20)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        process, base, logins = start_server(Path(folder))
        try:
            clients: dict[str, httpx.Client] = {}
            targets: list[tuple[str, str]] = []
            for role, home in HOMES.items():
                login = next((row for row in logins if row["role"] == role), None)
                if login is None:
                    continue
                clients[role] = client_for(base, login)
                targets += [(role, path) for path in pages_of(clients[role], home)]
            baseline = clients[targets[0][0]]
            for role, path in targets:  # warm-up: templates compiled, caches filled
                timed(clients[role], path)
            times: dict[tuple[str, str], list[float]] = {target: [] for target in targets}
            healthz: list[float] = []
            for _ in range(options.rounds):
                healthz.append(timed(baseline, "/healthz"))
                for role, path in targets:
                    times[(role, path)].append(timed(clients[role], path))
            for client in clients.values():
                client.close()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    base_median = statistics.median(healthz)
    rows = []
    print(f"{'role':<10} {'page':<32} {'median ms':>10} {'p95 ms':>8} {'ratio':>7}")
    for (role, path), values in sorted(times.items(), key=lambda item: -statistics.median(item[1])):
        median = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]
        rows.append({"role": role, "page": path, "median_ms": round(median, 1), "p95_ms": round(p95, 1)})
        print(f"{role:<10} {path:<32} {median:>10.1f} {p95:>8.1f} {median / base_median:>7.1f}")
    print(f"baseline /healthz median {base_median:.1f} ms; {len(rows)} pages, {options.rounds} rounds")
    slowest = rows[0]
    print(json.dumps({"pages": len(rows), "rounds": options.rounds, "median_ms_max": slowest["median_ms"],
                      "p95_ms_max": max(row["p95_ms"] for row in rows), "slowest": slowest["page"],
                      "healthz_median_ms": round(base_median, 2),
                      "ratio_max": round(slowest["median_ms"] / base_median, 1),
                      "over_300ms": [row["page"] for row in rows if row["median_ms"] > BUDGET_MS]},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
