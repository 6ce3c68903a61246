"""Benchmark the read side on a generated region of ≥ 1 million events.

    python scripts/bench_projections.py                  # generates (or reuses) /tmp/timeledger-bench/…
    python scripts/bench_projections.py --events 100000  # a smaller region
    python scripts/bench_projections.py --db postgresql://postgres@127.0.0.1:5432/test?schema=bench

Prints, side by side: the raw rate of reading and decoding every stored event (the same reader and
decoder the projector uses, and the mapper's typed decoding for comparison), the rate of a rebuild
of every read model from position 0, and their ratio; the time to produce the whole set of annual
reports (PDF and XLSX); one member's card as PDF in milliseconds; the peak memory (RSS) during the
rebuild. The last line is one JSON object with at least `events_per_s`, `ratio`, `peak_rss_mb`.
Timings are not asserted anywhere: they depend on the machine (and on whatever else runs on it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from generate_region import DEFAULT_EVENTS, default_path, ensure_region

from ledger.application import Ledger
from projections import queries, reports
from projections import schema as t
from projections.decode import decode
from projections.projector import PAGE_EVENTS, Views
from projections.render import render

MAPPER_SAMPLE_EVENTS = 100_000  # the mapper is slow: time it on a sample
CARD_RUNS = 15
RSS_SAMPLE_S = 0.05
ANNUAL_REPORTS = ("unit-stats", "register", "feedback", "eligibility", "stars", "balances", "overview")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples this process's resident set size in a thread while the block runs."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, rss_bytes())
            self._stop.wait(RSS_SAMPLE_S)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, rss_bytes())


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_SIZE


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def raw_read(views: Views, page_events: int) -> tuple[int, float]:
    """Every notification read and fully decoded, nothing kept."""
    def run() -> int:
        position = count = 0
        while True:
            notifications = views.reader.page(position + 1, page_events)
            if not notifications:
                return count
            for notification in notifications:
                decode(notification)
            position = notifications[-1].id
            count += len(notifications)
    return timed(run)


def mapper_read(ledger: Ledger, views: Views, page_events: int) -> tuple[int, float]:
    def run() -> int:
        position = count = 0
        while count < MAPPER_SAMPLE_EVENTS:
            notifications = views.reader.page(position + 1, page_events)
            if not notifications:
                break
            for notification in notifications:
                ledger.mapper.to_domain_event(notification)
            position = notifications[-1].id
            count += len(notifications)
        return count
    return timed(run)


def latest_year(views: Views) -> int:
    with views.engine.connect() as connection:
        year = connection.execute(sa.select(sa.func.max(t.sessions.c.year))).scalar()
    return int(year or time.localtime().tm_year)


def annual_reports(views: Views, year: int) -> tuple[dict[str, dict[str, float]], int]:
    """Every annual report for the whole region: seconds to build the document (the read side) and
    to render it as PDF and as XLSX (the rendering layer)."""
    seconds: dict[str, dict[str, float]] = {}
    size = 0
    for kind in ANNUAL_REPORTS:
        document, build_s = timed(lambda: reports.build(kind, views, year=year))  # noqa: B023 - called at once, inside the loop
        seconds[kind] = {"build": build_s}
        for fmt in ("pdf", "xlsx"):
            data, render_s = timed(lambda: render(document, fmt))  # type: ignore[arg-type]  # fmt comes from the formats list  # noqa: B023 - called at once, inside the loop
            seconds[kind][fmt] = render_s
            size += len(data)
    return seconds, size


def busiest_member(views: Views, year: int) -> str:
    with views.engine.connect() as connection:
        return str(connection.execute(
            sa.select(t.member_years.c.member_id).where(t.member_years.c.year == year)
            .order_by(t.member_years.c.sessions.desc(), t.member_years.c.member_id).limit(1)).scalar_one())


def card_ms(views: Views, year: int, member_id: str) -> tuple[float, int]:
    runs = []
    pages = 0
    for _ in range(CARD_RUNS):
        started = time.perf_counter()
        pdf = render(reports.card(views, year=year, member_id=member_id), "pdf")
        runs.append((time.perf_counter() - started) * 1000)
        pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page")
    return statistics.median(runs), pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--db", help="benchmark this database instead of the generated SQLite region")
    parser.add_argument("--page-events", type=int, default=PAGE_EVENTS)
    parser.add_argument("--skip-reports", action="store_true")
    args = parser.parse_args(argv)

    if args.db:
        url, generation = args.db, {"events": None, "cached": None}
    else:
        path = default_path(args.events, args.seed)
        cached = path.exists()
        generation, generate_s = timed(lambda: ensure_region(path, events=args.events, seed=args.seed))
        generation = {**generation, "cached": cached, "wall_s": round(generate_s, 1)}
        url = f"sqlite:///{path}"
    print(f"region: {url}  {json.dumps(generation, ensure_ascii=False)}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (this box is shared)")

    ledger = Ledger(url)
    views = Views(ledger)
    cpu_before = time.process_time()
    raw_events, raw_s = raw_read(views, args.page_events)
    raw_cpu_s = time.process_time() - cpu_before
    raw_rate = raw_events / raw_s
    mapper_events, mapper_s = mapper_read(ledger, views, args.page_events)
    mapper_rate = mapper_events / mapper_s
    rss_before = rss_bytes()
    cpu_before = time.process_time()
    with PeakRss() as peak:
        result, rebuild_s = timed(lambda: views.rebuild(page_events=args.page_events))
    rebuild_cpu_s = time.process_time() - cpu_before
    rate = result.events / rebuild_s
    ratio = rate / raw_rate

    print()
    print(f"{'events in the log':<46}{raw_events:>14,}")
    print(f"{'raw read + decode (statement bytes)':<46}{raw_rate:>14,.0f} events/s  ({raw_s:.1f} s)")
    print(f"{'raw read + mapper.to_domain_event (sample)':<46}{mapper_rate:>14,.0f} events/s  "
          f"({mapper_events:,} events)")
    print(f"{'rebuild of every read model from 0':<46}{rate:>14,.0f} events/s  ({rebuild_s:.1f} s, "
          f"{result.pages:,} pages of {args.page_events:,})")
    print(f"{'ratio rebuild / raw':<46}{ratio:>14.2f}")
    print(f"{'  the same in CPU time of this process':<46}{result.events / rebuild_cpu_s:>14,.0f} vs "
          f"{raw_events / raw_cpu_s:,.0f} events per CPU-second, ratio "
          f"{(result.events / rebuild_cpu_s) / (raw_events / raw_cpu_s):.2f}")
    print(f"{'RSS before rebuild / peak during rebuild':<46}{rss_before / 2**20:>11.0f} MB / "
          f"{peak.peak_bytes / 2**20:.0f} MB")

    figures: dict[str, Any] = {
        "events": raw_events, "events_per_s": round(rate), "raw_events_per_s": round(raw_rate),
        "ratio": round(ratio, 3), "mapper_events_per_s": round(mapper_rate), "rebuild_s": round(rebuild_s, 2),
        "rebuild_cpu_s": round(rebuild_cpu_s, 2), "raw_cpu_s": round(raw_cpu_s, 2),
        "page_events": args.page_events, "peak_rss_mb": round(peak.peak_bytes / 2**20, 1),
        "store": views.database.kind}
    if not args.skip_reports:
        year = latest_year(views)
        members = len(queries.members(views, year=year))
        per_kind, size = annual_reports(views, year)
        total = sum(sum(parts.values()) for parts in per_kind.values())
        built = sum(parts["build"] for parts in per_kind.values())
        member_id = busiest_member(views, year)
        card, card_pages = card_ms(views, year, member_id)
        print(f"{'annual reports ' + str(year) + ' (PDF + XLSX, ' + str(members) + ' members)':<46}"
              f"{total:>14.1f} s  ({size / 2**20:.1f} MB; documents built in {built:.2f} s)")
        for kind, parts in per_kind.items():
            print(f"    {kind:<42}{sum(parts.values()):>14.2f} s  (build {parts['build']:.2f}, "
                  f"pdf {parts['pdf']:.2f}, xlsx {parts['xlsx']:.2f})")
        print(f"{'one card (附件5) as PDF, median of ' + str(CARD_RUNS):<46}{card:>14.0f} ms  ({card_pages} page(s))")
        figures.update(year=year, reports_s=round(total, 2), reports_build_s=round(built, 2),
                       reports_by_kind_s={k: {p: round(x, 2) for p, x in v.items()} for k, v in per_kind.items()},
                       card_pdf_ms=round(card, 1))
    figures["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["load_average"] = round(os.getloadavg()[0], 2)
    views.close()
    ledger.close()
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
