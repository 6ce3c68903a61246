"""Generate a large region for the projection benchmark: ≥ 1 million signed events, several years.

    python scripts/generate_region.py                       # 1,000,000 events, cached under /tmp
    python scripts/generate_region.py --events 50000 --out /tmp/small.db

Every event goes through the `Ledger` (signed, hash-chained, verifiable), several commands per
transaction with `ledger.batch()` (group commit): one batch holds a few members' whole year, so the
aggregates a batch touches are loaded once. The database file is a benchmark fixture: the secret
store's SQLite connection runs with `synchronous=OFF` (a crash loses the fixture, not a ledger).

The file is cached: a second run with the same target and seed reuses it (the ledger's settings
table records a completed generation). The fixture is sealed under a master key of its own, kept
beside it (`region-….db.masterkey`, 0600): whoever reuses it runs under that key, whatever
TIMELEDGER_MASTER_KEY the shell holds (`use_fixture_key`). Deterministic for a seed except the
Ed25519 keys and the random ids the ledger draws.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from ledger.application import Actor, Ledger, setup
from ledger.demo import (
    ACTIVITIES,
    EXEMPTION_REASONS,
    FurnishedCommunity,
    PLACES,
    _name,
    _personal,
    _profile,
    _workday_after,
    at,
    enrol_demo_member,
    furnish_community,
    make_suggestions,
    simulated,
)
from ledger.domain.errors import LedgerError
from ledger.domain.scoring import POLICY_V1_RULES
from ledger.domain.values import ConsentPurpose, Role
from ledger.storage.secrets import MASTER_KEY_BYTES, MasterKeyError

DEFAULT_EVENTS = 1_000_000
CACHE_DIR = Path("/tmp/timeledger-bench")
FIRST_YEAR = 2024
YEARS_MAX = 12  # a target that needs more years than this is a typing error
EVENTS_PER_MEMBER_ESTIMATE = 64  # over the first three years (enrolment ≈ 12, then ≈ 20 a year)
MEMBERS_PER_BATCH = 8  # one transaction: a few members' year (≈ 250 events)
UNITS = 40
COMMUNITIES = 30
RESIDENTS_PER_COMMUNITY = 6
SETTING = "bench_region"
UNIT_NAMES = ["区财政局机关党委", "区人民医院党委", "区城建集团党委", "区职业技术学院党委", "区教育局机关党委",
              "区税务局党委", "区中医院党委", "区供电公司党委", "区第一中学党委", "区市场监管局党委"]
UNIT_TYPES = ["机关", "事业", "企业", "大专院校", "机关", "机关", "事业", "企业", "事业", "机关"]
STREETS = ["锁金村街道", "玄武门街道", "梅园新村街道", "新街口街道", "孝陵卫街道", "红山街道", "玄武湖街道"]
COMMUNITY_NAMES = ["紫鑫城", "玄武门", "梅园新村", "丹凤街", "孝陵卫", "樱驼村", "锁金新村", "后宰门", "龙蟠里",
                   "北京东路", "珠江路", "长江路", "太平门", "岗子村", "童家巷"]


@dataclass
class Progress:
    started: float = field(default_factory=time.perf_counter)
    last: float = 0.0

    def report(self, events: int, target: int, note: str) -> None:
        now = time.perf_counter()
        if now - self.last < 5 and note != "done":
            return
        self.last = now
        elapsed = now - self.started
        print(f"  {events:>10,} / {target:,} events  {events / max(elapsed, 1e-9):8,.0f}/s  {elapsed:6.0f} s  {note}",
              file=sys.stderr, flush=True)


@dataclass
class MemberPlan:
    actor: Actor
    unit: Actor
    community: FurnishedCommunity
    never_reports: bool
    registered: bool = False


def default_path(events: int, seed: int) -> Path:
    return CACHE_DIR / f"region-{events}-{seed}.db"


def fixture_key_path(path: Path) -> Path:
    """The fixture's own master key: where the ledger looks beside a SQLite file (`master_key_path`)."""
    return Path(f"{path}.masterkey")


def use_fixture_key(path: Path, *, create: bool = False) -> bool:
    """Run this process under the master key the fixture at `path` is sealed under (its key file),
    so a cached region opens whatever key the caller's shell exports. With `create`, a missing key
    file is made first (a new fixture). False: the fixture has no key file (it cannot be opened)."""
    key_file = fixture_key_path(path)
    if not key_file.exists():
        if not create:
            return False
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode() + "\n")
    os.environ["TIMELEDGER_MASTER_KEY"] = key_file.read_text().strip()
    os.environ.pop("TIMELEDGER_MASTER_KEY_FILE", None)
    return True


def cached_summary(url: str) -> dict[str, Any] | None:
    """The summary of a completed generation in this database, if any."""
    ledger = Ledger(url)
    try:
        value = ledger.secrets.get_setting(SETTING)
    finally:
        ledger.close()
    return json.loads(value) if value else None


def ensure_region(path: Path, *, events: int = DEFAULT_EVENTS, seed: int = 2014) -> dict[str, Any]:
    """Reuse the generated file at `path`, or (re)generate it; either way this process then runs
    under the fixture's own master key (`use_fixture_key`)."""
    url = f"sqlite:///{path}"
    if path.exists():
        summary = reusable_summary(path)
        if summary is not None and summary["events"] >= events and summary["seed"] == seed:
            return summary
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    use_fixture_key(path, create=True)
    return generate(url, events=events, seed=seed)


def reusable_summary(path: Path) -> dict[str, Any] | None:
    """The completed generation at `path`, opened under its own key; None when it has no key file,
    its key does not open it, or it is unfinished (then it is generated again)."""
    if not path.exists() or not use_fixture_key(path):
        return None
    try:
        return cached_summary(f"sqlite:///{path}")
    except MasterKeyError:
        return None


def generate(url: str, *, events: int, seed: int, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write a region of at least `events` events into an empty database."""
    rng = random.Random(seed)
    ledger = Ledger(url)
    _fast_secret_store(ledger)
    progress = Progress()
    try:
        if ledger.region_code is not None:
            raise SystemExit(f"{url} already holds a region: give a new file")
        members_count = max(50, math.ceil(events / EVENTS_PER_MEMBER_ESTIMATE))
        region, units, communities = _set_up(ledger, rng)
        plans = _enrol_plans(rng, members_count, units, communities)
        year = FIRST_YEAR
        while True:
            _region_year(ledger, region, year)
            for start in range(0, len(plans), MEMBERS_PER_BATCH):
                chunk = plans[start:start + MEMBERS_PER_BATCH]
                with ledger.batch():
                    for plan in chunk:
                        _member_year(ledger, rng, plan, year)
                progress.report(_count(ledger), events, f"year {year}")
            if year == FIRST_YEAR:
                _declare_members(ledger, rng, plans, units)
            total = _count(ledger)
            if total >= events or year - FIRST_YEAR + 1 >= YEARS_MAX:
                break
            year += 1
        summary = {"events": total, "seed": seed, "members": len(plans), "units": len(units),
                   "communities": len(communities), "years": list(range(FIRST_YEAR, year + 1)),
                   "seconds": round(time.perf_counter() - progress.started, 1)}
        ledger.secrets.set_setting(SETTING, json.dumps(summary))
        progress.report(total, events, "done")
        return summary
    finally:
        ledger.close()


def _count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def _fast_secret_store(ledger: Ledger) -> None:
    """Benchmark fixture only: the secret store commits each new key and data key on its own."""
    if ledger.database.kind == "sqlite":
        with ledger.secrets.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA synchronous=OFF")


def _set_up(ledger: Ledger, rng: random.Random) -> tuple[Actor, list[Actor], list[FurnishedCommunity]]:
    with simulated(at(date(FIRST_YEAR, 1, 2), 9)):
        setup.init_region(ledger)
    region = ledger.region_actor()
    units: list[Actor] = []
    communities: list[FurnishedCommunity] = []
    with simulated(at(date(FIRST_YEAR, 1, 5), 9)), ledger.batch():
        ledger.change_region_settings(actor=region, storage_cap_minutes=1500 * 60)
        for index in range(UNITS):
            name = f"{UNIT_NAMES[index % len(UNIT_NAMES)]}第{index // len(UNIT_NAMES) + 1}支部"
            units.append(setup.register_unit(ledger, region, name=name, unit_type=UNIT_TYPES[index % len(UNIT_TYPES)],
                                             declared_members=0))
    community_actors = []
    with simulated(at(date(FIRST_YEAR, 1, 5), 10)), ledger.batch():
        for index in range(COMMUNITIES):
            name = f"{COMMUNITY_NAMES[index % len(COMMUNITY_NAMES)]}{'' if index < len(COMMUNITY_NAMES) else '二'}社区"
            community_actors.append(setup.register_community(ledger, region, name=name,
                                                             street=STREETS[index % len(STREETS)]))
    for community in community_actors:
        communities.append(furnish_community(ledger, community, rng, moment=at(date(FIRST_YEAR, 2, 3), 9),
                                             residents=RESIDENTS_PER_COMMUNITY, batch=True))
    for index, unit in enumerate(units):
        with simulated(at(date(FIRST_YEAR, 1, 8), 10)):
            setup.pair(ledger, unit, communities[index % len(communities)].actor)
    return region, units, communities


def _enrol_plans(rng: random.Random, count: int, units: list[Actor],
                 communities: list[FurnishedCommunity]) -> list[MemberPlan]:
    plans = []
    for index in range(count):
        unit = units[index % len(units)]
        community = communities[index % len(communities)] if rng.random() < 0.7 else rng.choice(communities)
        plans.append(MemberPlan(actor=Actor(UUID(int=rng.getrandbits(128), version=4), Role.MEMBER), unit=unit,
                                community=community, never_reports=rng.random() < 0.03))
    return plans


def _declare_members(ledger: Ledger, rng: random.Random, plans: list[MemberPlan], units: list[Actor]) -> None:
    """Each unit declares its members in service (在职党员总数): a few more than it enrolled."""
    with simulated(at(date(FIRST_YEAR, 12, 20), 9)), ledger.batch():
        for unit in units:
            enrolled = sum(1 for plan in plans if plan.unit == unit)
            ledger.declare_unit_members(actor=unit, unit_id=unit.actor_id, count=enrolled + rng.randint(0, 5))


def _region_year(ledger: Ledger, region: Actor, year: int) -> None:
    """Deadlines every year; policy v2 from the second year (while it is open); in the third year a
    v3 "from the first year" that must not change the closed years' stars."""
    with simulated(at(date(year, 1, 3), 9)):
        ledger.set_report_deadline(actor=region, year=year, deadline=date(year, 8, 31))
        if year == FIRST_YEAR + 1:
            rules = {**POLICY_V1_RULES, "points_per_certified_session": 6, "star_thresholds": [60, 120, 240, 480, 960]}
            ledger.publish_scoring_policy(actor=region, version=2, rules=rules, note="区积分办法 v2（提高门槛）",
                                          from_year=year)
        if year == FIRST_YEAR + 2:
            rules = {**POLICY_V1_RULES, "points_per_adopted_suggestion": 15}
            ledger.publish_scoring_policy(actor=region, version=3, rules=rules, note="区积分办法 v3",
                                          from_year=FIRST_YEAR)


def _member_year(ledger: Ledger, rng: random.Random, plan: MemberPlan, year: int) -> None:
    member = plan.actor
    if year == FIRST_YEAR:
        _enrol(ledger, rng, plan, year)
    if rng.random() < 0.015:
        with simulated(at(date(year, 3, 1), 15)):
            ledger.grant_exemption(actor=plan.unit, member_id=member.actor_id, year=year,
                                   reason=rng.choice(EXEMPTION_REASONS))
    if not plan.registered:
        return
    start = date(year, 1, 10) if year > FIRST_YEAR else ledger.get_member(member.actor_id).reported_on
    assert start is not None
    start += timedelta(days=1)
    end = date(year, 12, 15)
    if start >= end - timedelta(days=20):
        return
    for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6, 8])):
        _session(ledger, rng, plan, start, end)
    day = start + timedelta(days=rng.randint(5, max(6, (end - start).days - 20)))
    make_suggestions(ledger, rng, member=member, community=plan.community.actor, day=day, until=end,
                     adopted_note="已纳入年度计划")
    balance = ledger.get_balance_minutes(member.actor_id)
    for _ in range(rng.choice([0, 1, 1, 2])):
        item_id, price = rng.choice(plan.community.catalogue)
        if price > balance:
            break
        with simulated(at(min(day + timedelta(days=rng.randint(1, 20)), end), 15, rng.randint(0, 59))):
            try:
                result = ledger.redeem(actor=plan.community.counter, member_id=member.actor_id,
                                       redemption_id=UUID(int=rng.getrandbits(128), version=4), items=[(item_id, 1)])
            except LedgerError:
                break
        balance = result.balance_minutes


def _enrol(ledger: Ledger, rng: random.Random, plan: MemberPlan, year: int) -> None:
    unit, community, member = plan.unit, plan.community, plan.actor
    enrol_day = date(year, 3, 2) + timedelta(days=rng.randint(0, 20))
    with simulated(at(enrol_day, 9, rng.randint(0, 59))):
        _, slip_id = enrol_demo_member(ledger, rng, unit=unit, community=community.actor, name=_name(rng, set()),
                                       member_id=member.actor_id)
    if plan.never_reports:
        return
    late = rng.random() < 0.06
    report_day = (date(year, 9, 1) + timedelta(days=rng.randint(1, 30)) if late
                  else enrol_day + timedelta(days=rng.randint(3, 120)))
    claimed = rng.sample(sorted(community.posts.values()), rng.choice([1, 1, 2]))
    with simulated(at(min(report_day, date(year, 9, 30)), 10, rng.randint(0, 59))):
        ledger.register_member(actor=community.actor, member_id=member.actor_id, post_ids=claimed, slip_id=slip_id,
                               profile=_profile(rng), personal=_personal(rng),
                               willing_other_service=rng.random() < 0.7)
        ledger.join_team(actor=community.actor, member_id=member.actor_id, team_id=rng.choice(community.teams))
        if rng.random() < 0.85:
            ledger.give_consent(actor=member, member_id=member.actor_id, purpose=ConsentPurpose.UNIT_FEEDBACK,
                                recipient=str(unit.actor_id))
    plan.registered = True


def _session(ledger: Ledger, rng: random.Random, plan: MemberPlan, start: date, end: date) -> None:
    member, community = plan.actor, plan.community
    service_day = start + timedelta(days=rng.randint(0, max(1, (end - start).days - 15)))
    activity, content, post_name = rng.choice(ACTIVITIES)
    order_id = None
    resident = rng.choice(community.residents)
    if rng.random() < 0.2:
        with simulated(at(service_day - timedelta(days=2), 8)):
            order_id = ledger.place_order(actor=resident, community_id=community.actor.actor_id,
                                          menu_item_id=rng.choice(community.menu), note="请尽快安排")
            ledger.dispatch_order(actor=community.actor, order_id=order_id, member_id=member.actor_id)
        with simulated(at(service_day - timedelta(days=1), 20)):
            ledger.accept_order(actor=member, order_id=order_id)
    start_hour = rng.choice([8, 9, 14, 15, 18])
    span = rng.choice([60, 90, 120, 150, 180, 240])
    minutes = span - rng.choice([0, 0, 0, 10, 15, 30])
    recorded_after = rng.choice([0, 1, 2, 3, 5]) if rng.random() > 0.08 else rng.randint(15, 30)
    record_day = min(_workday_after(service_day, recorded_after), end)
    end_minutes = start_hour * 60 + span
    with simulated(at(record_day, 19, rng.randint(0, 59))):
        session_id = ledger.record_session(
            actor=member, member_id=member.actor_id, activity=activity, content=content, place=rng.choice(PLACES),
            service_date=service_day, start_time=f"{start_hour:02d}:00",
            end_time=f"{end_minutes // 60:02d}:{end_minutes % 60:02d}", minutes=minutes,
            post_id=community.posts.get(post_name) if order_id is None else None, order_id=order_id,
            organiser="社区党委", recipient="服务对象" if order_id else "社区居民")
    decide_day = min(record_day + timedelta(days=rng.randint(1, 6)), end)
    with simulated(at(decide_day, 10, rng.randint(0, 59))):
        ledger.rate_session(actor=resident if order_id else community.actor, session_id=session_id,
                            rating=rng.choices(["优", "良", "一般"], weights=[5, 4, 1])[0])
        if rng.random() < 0.05:
            ledger.reject_session(actor=community.actor, session_id=session_id, reason="活动未在社区备案，无法核实")
            return
        ledger.certify_session(actor=community.actor, session_id=session_id)
    roll = rng.random()
    if roll < 0.04:
        with simulated(at(min(decide_day + timedelta(days=7), end), 16)):
            ledger.correct_session(actor=community.actor, session_id=session_id,
                                   changes={"minutes": max(30, minutes - 30)}, reason="党员申请更正：实际服务时间少半小时")
    elif roll < 0.055:
        with simulated(at(min(decide_day + timedelta(days=10), end), 16)):
            ledger.uphold_complaint(actor=community.actor, session_id=session_id, reason="居民投诉属实：服务未实际开展")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="at least this many events")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--out", type=Path, help=f"SQLite file (default {CACHE_DIR}/region-EVENTS-SEED.db)")
    parser.add_argument("--force", action="store_true", help="regenerate even if the file is complete")
    args = parser.parse_args(argv)
    path = args.out or default_path(args.events, args.seed)
    if args.force:
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    started = time.perf_counter()
    summary = ensure_region(path, events=args.events, seed=args.seed)
    print(json.dumps({"path": str(path), **summary, "wall_s": round(time.perf_counter() - started, 1)},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
