"""Import throughput: `timeledger import sessions|members` (补录) against plain ledger writes of the same facts.

Both sides write the same sessions for the same members of one community, on the same kind of store
(a fresh SQLite file each, in a temporary folder), in the same run:

* import — `ledger.commands.paper.import_sessions` on a CSV of `--rows` lines: read and check every
  row, run them all through the ledger's rules in a batch that is thrown away, then write them
  (record, rate, certify, credit; `CHUNK_ROWS` lines per transaction);
* baseline — the office's own commands for each session (`record_session`, `rate_session`,
  `certify_session`) in batches of the same size: what the ledger writes for a typed record.

With `--kind members` the rows are paper 登记表 (附件2) of members the unit enrolled and sent with a
报到单: import — `paper.import_file(paper_forms.MEMBERS, …)`; baseline — `register_member` for each
(same fields, personal ones sealed; slip and receipt) in batches of `CHUNK_ROWS`. Enrolling the
members is set-up on both sides and not timed.

    python scripts/bench_import.py                 # 10,000 rows
    python scripts/bench_import.py --rows 2000
    python scripts/bench_import.py --kind members --rows 2000

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
from ledger.commands import paper, paper_forms

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


FORM = {"性别": "女", "民族": "汉族", "健康状况": "健康", "学历": "本科", "出生年月": "1980-05", "入党时间": "2008-07",
        "工作单位及职务": "省财政厅 科员", "单位地址": "北京东路63号", "家庭住址": "锁金村7号", "报到社区": "紫鑫城社区",
        "能参加社区服务的时间": "周末", "是否愿意参加社区其他服务": "是", "工作单位联系电话": "025-83331234",
        "本人联系电话/手机": "13912345678", "专业特长": "法律咨询", "兴趣爱好": "书法", "填表日期": ""}


def enrolled(ledger: Ledger, count: int) -> tuple[Actor, list[tuple[str, str]], str]:
    """A community, `count` members its paired unit enrolled and sent to it (code, name), and a post name."""
    from ledger.domain.values import STANDARD_POSTS

    unit, community = setup.paired_unit_and_community(ledger, ledger.region_actor(), unit_name="另一单位",
                                                      community_name="锁金新村社区", street="锁金村街道")
    members = []
    for start in range(0, count, paper.CHUNK_ROWS):
        with ledger.batch():
            for index in range(start, min(count, start + paper.CHUNK_ROWS)):
                name = f"报到{index:05d}"
                member_id, _ = setup.enrol_with_slip(ledger, unit=unit, community=community, name=name)
                members.append((str(member_id), name))
    return community, members, STANDARD_POSTS[0]


def bench_members(ledger: Ledger, side: str, count: int, year: int) -> float:
    from uuid import UUID

    community, members, post = enrolled(ledger, count)
    form = {**FORM, "报到社区": "锁金新村社区", "认领岗位": post, "填表日期": f"{year}-09-01"}
    headers = paper_forms.MEMBERS.headers
    began = time.perf_counter()
    if side == "import":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([list(headers), *[[{**form, "党员编号": code, "姓名": name}[column]
                                                        for column in headers] for code, name in members]])
        outcome = paper.import_file(paper_forms.MEMBERS, ledger, community, buffer.getvalue().encode("utf-8-sig"),
                                    "登记表.csv")
        assert outcome.problems == [] and outcome.written == count, outcome.problems[:3]
        return time.perf_counter() - began
    post_id = next(post_id for post_id, name in ledger.get_community(community.actor_id).posts.items() if name == post)
    profile = {"sex": "女", "education": "本科", "party_joined": "2008-07", "available_time": "周末",
               "specialities": "法律咨询", "hobbies": "书法"}
    personal = {"ethnicity": "汉族", "health": "健康", "birth_month": "1980-05", "unit_address": "北京东路63号",
                "home_address": "锁金村7号", "unit_phone": "025-83331234", "mobile": "13912345678"}
    for start in range(0, count, paper.CHUNK_ROWS):
        with ledger.batch():
            for code, _ in members[start:start + paper.CHUNK_ROWS]:
                member_id = UUID(code)
                slip = ledger.get_member(member_id).report_slip
                assert slip is not None  # enrolled with a slip
                ledger.register_member(actor=community, member_id=member_id, post_ids=[post_id], profile=profile,
                                       personal=personal, willing_other_service=True, slip_id=slip[0],
                                       reported_on=date(year, 9, 1))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="card lines to import (default 10,000)")
    parser.add_argument("--kind", choices=("sessions", "members"), default="sessions",
                        help="record cards (附件5) or 登记表 (附件2)")
    options = parser.parse_args()
    os.environ.setdefault("TIMELEDGER_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    year = date.today().year - 1  # last year's cards: every date is in the past
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        figures = {}
        for side in ("baseline", "import"):
            ledger, community, members = region(f"sqlite:///{Path(folder) / side}.db")
            try:
                if options.kind == "members":
                    seconds = bench_members(ledger, side, options.rows, year)
                    figures[side] = {"seconds": round(seconds, 2), "rows_per_s": round(options.rows / seconds, 1)}
                    print(f"{side:<9} {options.rows} rows in {seconds:6.2f} s = {options.rows / seconds:8.1f} rows/s")
                    continue
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
    print(json.dumps({"ratio": round(ratio, 3), "kind": options.kind, "rows": options.rows, **{f"{side}_{key}": value
                      for side, values in figures.items() for key, value in values.items()}}))


if __name__ == "__main__":
    main()
