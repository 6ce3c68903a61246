"""Audit benchmark: full-log verification against the raw Ed25519 rate, and one certificate's verification.

    python scripts/bench_audit.py                      # ≥ 1,000,000 events, SQLite file cached under /tmp
    python scripts/bench_audit.py --events 100000      # a smaller log

The region comes from `scripts/generate_region.py` (every event signed through the `Ledger`, group
commit); a completed file of that script's cache is copied, else one is generated, under
/tmp/timeledger-bench/audit-region-EVENTS-SEED.db (the Merkle log and checkpoints are added to the
copy, never to the shared fixture).

Measured in the same run, on every core (`os.cpu_count()` processes):
* raw: `cryptography`'s Ed25519 `verify` over real statements of the log (their own keys and bytes),
  nothing else, in as many processes as there are cores;
* full log: `ledger.verification.store.verify_store` — read every row, parse and check the canonical statement,
  the row, the key chain and revocations, the hash chain, the Ed25519 signature, and replay each
  aggregate with the domain classes;
* certificate: issue one for the member with the median number of recorded sessions, for the log's
  last year (and one for all years), then `verify_certificate` (offline, root key only) repeatedly;
  the median is reported.

The last line is JSON: {"ratio": full-log events/s ÷ raw verifies/s, "events_per_s", "raw_verify_per_s",
"certificate_verify_ms", …}. Wall-clock figures need an otherwise idle machine; "cpu_ratio" (CPU per raw
verify ÷ CPU per verified event, all processes counted) and "certificate_verify_cpu_ms" are what the
same figures would be without other load, and "load_average" says how busy the machine was.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(ROOT))
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from ledger.application import Ledger
from ledger.storage.raw_events import iter_raw_events

CACHE_DIR = Path("/tmp/timeledger-bench")
RAW_SAMPLE = 4000  # distinct real statements the raw benchmark verifies over and over
RAW_SECONDS = 6.0  # wall time of the raw benchmark, split in two halves around the full-log run


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------------------------- the region


def ensure_database(events: int, seed: int) -> Path:
    import generate_region

    path = CACHE_DIR / f"audit-region-{events}-{seed}.db"
    if generate_region.reusable_summary(path):  # this process now runs under the copy's key
        return path
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    shared = generate_region.default_path(events, seed)
    if not Path(f"{shared}-wal").exists():
        summary = generate_region.reusable_summary(shared)
        if summary and summary["events"] >= events:
            say(f"copying the generated region {shared} …")
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(generate_region.fixture_key_path(shared), generate_region.fixture_key_path(path))  # 0600 kept
            shutil.copyfile(shared, path)
            generate_region.use_fixture_key(path)
            return path
    say(f"generating a region of ≥ {events:,} events into {path} (cached for later runs) …")
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_region.ensure_region(path, events=events, seed=seed)
    return path


# ---------------------------------------------------------------------------------------------- raw Ed25519


def _raw_worker(items: list[tuple[bytes, bytes, bytes]], seconds: float) -> tuple[int, float, float]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = {public: Ed25519PublicKey.from_public_bytes(public) for public, _, _ in items}
    prepared = [(keys[public], signature, message) for public, signature, message in items]
    done = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for key, signature, message in prepared:
            key.verify(signature, message)
        done += len(prepared)
    return done, time.perf_counter() - started, time.process_time() - cpu_started


def raw_sample(ledger: Ledger) -> list[tuple[bytes, bytes, bytes]]:
    """Real (public key, signature, signed bytes) triples from across the log."""
    from ledger.signing import keys as ed25519
    from ledger.signing.statement import parse_signed_bytes, unpack

    public_keys: dict[str, bytes] = {}
    rows: list[bytes] = []
    total = ledger.recorder.max_notification_id() or 1
    step = max(1, total // RAW_SAMPLE)
    for raw in iter_raw_events(ledger.database, recorder=ledger.recorder, order="position"):
        if raw.topic.endswith("Key.Registered"):
            payload = parse_signed_bytes(unpack(raw.state)[1], strict=False).payload
            public_keys[payload["key_id"]] = ed25519.unb64(payload["public_key"])
        if raw.position % step == 0 and len(rows) < RAW_SAMPLE:
            rows.append(raw.state)
    sample = []
    for state in rows:
        signature, signed_bytes = unpack(state)
        statement = parse_signed_bytes(signed_bytes, strict=False)
        sample.append((public_keys[statement.key], signature, signed_bytes))
    return sample


def raw_rate(pool: ProcessPoolExecutor, workers: int, sample: list[tuple[bytes, bytes, bytes]],
             seconds: float) -> tuple[float, float]:
    """(verifies per second on all workers together, CPU seconds per verify)."""
    results = list(pool.map(_raw_worker, [sample] * workers, [seconds] * workers))
    return (sum(done / elapsed for done, elapsed, _ in results),
            sum(cpu for _, _, cpu in results) / sum(done for done, _, _ in results))


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events (default 1M)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    parser.add_argument("--certificate-runs", type=int, default=50)
    args = parser.parse_args(argv)

    from ledger.application.certificates import issue_certificate
    from ledger.verification.certificates import verify_certificate
    from ledger.application.checkpoints import sign_checkpoint
    from ledger.storage.merkle_log import MerkleLog
    from ledger.verification.store import verify_store

    path = ensure_database(args.events, args.seed)
    ledger = Ledger(f"sqlite:///{path}")
    root = base64.b64decode(ledger.root_public_key())
    events = ledger.recorder.max_notification_id() or 0
    say(f"region {ledger.region_code}: {events:,} events in {path}")

    sample = raw_sample(ledger)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        raw_before, raw_cpu_before = raw_rate(pool, args.workers, sample, RAW_SECONDS / 2)
        say(f"raw Ed25519 verify, {args.workers} processes: {raw_before:,.0f}/s "
            f"({raw_cpu_before * 1e6:.1f} µs CPU each)")
        started, cpu_started = time.perf_counter(), cpu_seconds()
        report = verify_store(ledger.database, root_public_key=root, region_code=ledger.region_code,
                              recorder=ledger.recorder, workers=args.workers)
        verify_s, verify_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        raw_after, raw_cpu_after = raw_rate(pool, args.workers, sample, RAW_SECONDS / 2)
    raw = (raw_before + raw_after) / 2
    raw_cpu = (raw_cpu_before + raw_cpu_after) / 2
    rate = report.events_checked / verify_s
    cpu_per_event = verify_cpu / report.events_checked
    say(f"verify_store: {report.events_checked:,} events in {verify_s:.1f} s = {rate:,.0f} events/s "
        f"({'OK' if report.ok else f'{len(report.problems)} problems'}), {cpu_per_event * 1e6:.1f} µs CPU per "
        f"event; raw again {raw_after:,.0f}/s")

    log = MerkleLog(ledger)
    started = time.perf_counter()
    appended = log.catch_up(page_events=5000).appended
    log_s = time.perf_counter() - started
    checkpoint = sign_checkpoint(ledger, log, reuse_latest=True)
    say(f"Merkle log: {appended:,} leaves appended in {log_s:.1f} s; checkpoint {checkpoint.checkpoint_id} "
        f"size {checkpoint.size:,}")

    import generate_region

    summary = generate_region.cached_summary(f"sqlite:///{path}") or {}
    year = (summary.get("years") or [time.localtime().tm_year])[-1]
    member, sessions = median_member(log)
    measured = {}
    for label, period in (("year", year), ("all years", None)):
        issued = issue_certificate(ledger, member, year=period, log=log)
        timings, cpu_timings = [], []
        for _ in range(args.certificate_runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            verified = verify_certificate(issued.bundle, root)
            timings.append((time.perf_counter() - started) * 1000)
            cpu_timings.append((time.process_time() - cpu_started) * 1000)
        measured[label] = (issued, verified, statistics.median(timings), statistics.median(cpu_timings))
        say(f"certificate {issued.number} ({label if period is None else year}): {len(verified.sessions)} sessions, "
            f"{verified.events} events, {len(issued.bundle):,} bytes; verify median "
            f"{statistics.median(timings):.2f} ms (CPU {statistics.median(cpu_timings):.2f} ms), "
            f"min {min(timings):.2f} ms (of {args.certificate_runs})")
    issued, verified, certificate_ms, certificate_cpu_ms = measured["year"]
    result: dict[str, Any] = {
        "ratio": round(rate / raw, 3),
        "events_per_s": round(rate),
        "raw_verify_per_s": round(raw),
        "certificate_verify_ms": round(certificate_ms, 2),
        "cpu_ratio": round(raw_cpu / cpu_per_event, 3),
        "cpu_us_per_event": round(cpu_per_event * 1e6, 1),
        "raw_cpu_us_per_verify": round(raw_cpu * 1e6, 1),
        "certificate_verify_cpu_ms": round(certificate_cpu_ms, 2),
        "load_average": os.getloadavg()[0],
        "certificate_year": year,
        "certificate_all_years_verify_ms": round(measured["all years"][2], 2),
        "certificate_all_years_events": measured["all years"][1].events,
        "events": report.events_checked,
        "verify_ok": report.ok,
        "verify_s": round(verify_s, 1),
        "workers": args.workers,
        "log_build_s": round(log_s, 1),
        "certificate_events": verified.events,
        "certificate_sessions": len(verified.sessions),
        "certificate_bytes": len(issued.bundle),
        "member_sessions_recorded": sessions,
    }
    ledger.close()
    print(json.dumps(result))
    return 0


def median_member(log: Any) -> tuple[str, int]:
    """The member with the median number of recorded sessions (among members with at least one)."""
    import sqlalchemy as sa

    from ledger.storage import log_tables as t

    with log.engine.connect() as connection:
        rows = connection.execute(
            sa.select(t.leaves.c.member_id, sa.func.count().label("n"))
            .where(t.leaves.c.event_type == "ServiceSession.Recorded")
            .group_by(t.leaves.c.member_id).order_by("n", t.leaves.c.member_id)).all()
    member, count = rows[len(rows) // 2]
    return member, int(count)


if __name__ == "__main__":
    raise SystemExit(main())
