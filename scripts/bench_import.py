"""Import throughput: `timeledger import sessions` (补录) against plain ledger writes of the same sessions.

Both sides write the same sessions for the same members of one community, on the same kind of store
(a fresh SQLite file each, in a temporary folder), in the same run:

* import — `ledger.commands.paper.import_sessions` on a CSV of `--rows` lines: read and check every
  row, run them all through the ledger's rules in a batch that is thrown away, then write them
  (record, rate, certify, credit; `CHUNK_ROWS` lines per transaction);
* baseline — the office's own commands for each session (`record_session`, `rate_session`,
  `certify_session`) in batches of the same size: what the ledger writes for a typed record.

    python scripts/bench_import.py                 # 10,000 rows
    python scripts/bench_import.py --rows 2000

The last line is JSON: {"ratio": import rows/s ÷ baseline rows/s, ...}. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.application import Actor, Ledger, setup
from ledger.commands import paper

MEMBERS = 100
DAYS = 300


def region(url: str) -> tuple[Ledger, Actor, list[Actor]]:
    ledger = Ledger(url)
    setup.init_region(ledger)
    unit, community = setup.paired_unit_and_community(ledger, ledger.region_actor(), unit_name="省财政厅机关党委",
                                                      community_name="紫鑫城社区", street="锁金村街道")
    post_id = setup.first_post(ledger, community)
    members = [setup.add_member(ledger, unit=unit, community=community, name=f"党员{index:03d}", post_ids=[post_id],
                                job_title="科员", profile={}, personal={}) for index in range(MEMBERS)]
    return ledger, community, members


def rows(members: list[Actor], count: int, year: int) -> list[list[str]]:
    """`count` distinct card lines: member by member, day by day, a slot of the day each round."""
    lines = []
    for index in range(count):
        member = members[index % MEMBERS]
        day = date(year, 1, 2) + timedelta(days=(index // MEMBERS) % DAYS)
        hour = 8 + (index // (MEMBERS * DAYS)) * 2
        lines.append([str(member.actor_id), "", day.isoformat(), f"{hour:02d}:00", f"{hour + 1:02d}:30",
                      "清理楼道杂物、宣传垃圾分类", "紫鑫城社区3栋", "90", ("优", "良", "一般")[index % 3], "王主任"])
    return lines


def as_csv(lines: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(paper.HEADERS), *lines])
    return buffer.getvalue().encode("utf-8-sig")


def baseline(ledger: Ledger, community: Actor, lines: list[list[str]]) -> None:
    from uuid import UUID

    for start in range(0, len(lines), paper.CHUNK_ROWS):
        with ledger.batch():
            for line in lines[start:start + paper.CHUNK_ROWS]:
                session_id = ledger.record_session(
                    actor=community, member_id=UUID(line[0]), activity=line[5][:16], content=line[5], place=line[6],
                    service_date=date.fromisoformat(line[2]), start_time=line[3], end_time=line[4],
                    minutes=int(line[7]))
                ledger.rate_session(actor=community, session_id=session_id, rating=line[8])
                ledger.certify_session(actor=community, session_id=session_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="card lines to import (default 10,000)")
    options = parser.parse_args()
    os.environ.setdefault("TIMELEDGER_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    year = date.today().year - 1  # last year's cards: every date is in the past
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        figures = {}
        for side in ("baseline", "import"):
            ledger, community, members = region(f"sqlite:///{Path(folder) / side}.db")
            try:
                lines = rows(members, options.rows, year)
                data = as_csv(lines)
                began = time.perf_counter()
                if side == "import":
                    outcome = paper.import_sessions(ledger, community, data, "cards.csv")
                    assert outcome.problems == [] and outcome.written == options.rows, outcome.problems[:3]
                else:
                    baseline(ledger, community, lines)
                seconds = time.perf_counter() - began
            finally:
                ledger.close()
            figures[side] = {"seconds": round(seconds, 2), "rows_per_s": round(options.rows / seconds, 1)}
            print(f"{side:<9} {options.rows} rows in {seconds:6.2f} s = {options.rows / seconds:8.1f} rows/s")
    ratio = figures["import"]["rows_per_s"] / figures["baseline"]["rows_per_s"]
    print(f"ratio (import / plain ledger writes, rows per second): {ratio:.3f}")
    print(json.dumps({"ratio": round(ratio, 3), "rows": options.rows, **{f"{side}_{key}": value
                      for side, values in figures.items() for key, value in values.items()}}))


if __name__ == "__main__":
    main()
