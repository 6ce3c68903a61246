"""Write throughput: the signed ledger against plain, unsigned eventsourcing on the same store.

Both sides run the counter's redemption command over the same aggregates (Counter, Community,
TimeAccount) on the same kind of store in the same run: load the counter, the community (for the
price) and the account, redeem, save. The signed side also builds the canonical statement, chains
it and signs it with Ed25519. "single" saves each command in its own transaction; "batched" saves
`--batch` commands per transaction (group commit, as the HTTP service does under load).

    python scripts/bench_write.py                 # SQLite file in a temporary folder
    python scripts/bench_write.py --db postgresql://postgres@127.0.0.1:5432/test

The last line is JSON: {"ratio": batched signed / batched unsigned, ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable
from uuid import UUID

from eventsourcing.application import Application

from ledger.application import Actor, Ledger, setup
from ledger.domain.organisations import Community, Counter
from ledger.domain.time_account import TimeAccount
from ledger.domain.values import Role
from ledger.storage.database import parse_database_url

ACCOUNTS = 200
PRICE_MINUTES = 1
SETUP_MINUTES = 480


class PlainLedger(Application[UUID]):
    """The same aggregates and command, unsigned, with eventsourcing's default mapper."""

    name = "Plain"
    env = dict(Ledger.env)

    def redeem(self, *, counter_id: UUID, member_id: UUID, item_id: UUID, save: bool = True,
               loaded: dict[UUID, Any] | None = None) -> list[Any]:
        """`loaded` is the batch's identity map, as the ledger keeps one inside `batch()`."""
        loaded = {} if loaded is None else loaded

        def get(aggregate_id: UUID) -> Any:
            if aggregate_id not in loaded:
                loaded[aggregate_id] = self.repository.get(aggregate_id)
            return loaded[aggregate_id]

        counter = get(counter_id)
        community = get(counter.community_id)
        _, price = community.require_item(item_id)
        account = get(TimeAccount.create_id(member_id))
        account.redeem(redemption_id=uuid.uuid4(), counter_id=counter_id,
                       lines=[{"item_id": str(item_id), "quantity": 1, "price_minutes": price}], minutes=price)
        if save:
            self.save(account)
        return [account]


def store_env(url: str, name: str) -> tuple[str, dict[str, str]]:
    """A fresh database of the given kind for one side of the benchmark."""
    database = parse_database_url(url)
    if database.kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench_write_"))
        return f"sqlite:///{folder / (name + '.db')}", {}
    if database.kind == "postgresql":
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        return f"{url}{'&' if '?' in url else '?'}schema={schema}", {}
    return url, {}


def setup_signed(url: str) -> tuple[Ledger, Actor, list[UUID], UUID]:
    ledger = Ledger(url)
    setup.init_region(ledger)
    region = ledger.region_actor()
    unit, community = setup.paired_unit_and_community(ledger, region, unit_name="基准单位", community_name="基准社区",
                                                      street="锁金村街道", declared_members=ACCOUNTS, paired=False)
    post_id = setup.first_post(ledger, community)
    item_id = ledger.list_catalogue_item(actor=community, name="基准商品", price_minutes=PRICE_MINUTES)
    counter = Actor(ledger.open_counter(actor=community, name="基准柜台"), Role.COUNTER)
    members = []
    for index in range(ACCOUNTS):
        member_id = ledger.enrol_member(actor=unit, name=f"党员{index}", party_status="正式")
        ledger.register_member(actor=community, member_id=member_id, post_ids=[post_id])
        with ledger.batch():  # bench setup: one certified 8-hour session (the runs redeem ~50 minutes an account)
            setup.serve_session(ledger, community=community, member_id=member_id, activity="敬老助残",
                                content="陪老人聊天", place="社区活动室", service_date=ledger.today(),
                                start_time="08:00", end_time="16:00", minutes=SETUP_MINUTES, post_id=post_id,
                                rating="优")
        members.append(member_id)
    return ledger, counter, members, item_id


def setup_plain(url: str) -> tuple[PlainLedger, UUID, list[UUID], UUID]:
    database = parse_database_url(url)
    database.ensure_schema()
    app = PlainLedger(env=database.eventsourcing_env())
    community = Community.register(name="基准社区", region_code="320102", county="玄武区", street="锁金村街道")
    item_id = community.list_item(name="基准商品", price_minutes=PRICE_MINUTES)
    counter = Counter.open(counter_id=uuid.uuid4(), community_id=community.id, name="基准柜台")
    app.save(community, counter)
    members = []
    for _ in range(ACCOUNTS):
        member_id = uuid.uuid4()
        account = TimeAccount.open(member_id=member_id)
        account.credit(source_id=uuid.uuid4(), kind="session", minutes=100_000, storage_cap_minutes=None)
        app.save(account)
        members.append(member_id)
    return app, counter.id, members, item_id


def rate(run: Callable[[int], None], commands: int, repeats: int) -> float:
    """Median commands per second over `repeats` runs."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(commands)
        rates.append(commands / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite:///bench.db", help="store kind: sqlite:///… or postgresql://…")
    parser.add_argument("--single", type=int, default=300, help="commands per single-transaction run")
    parser.add_argument("--batched", type=int, default=3000, help="commands per batched run")
    parser.add_argument("--batch", type=int, default=64, help="commands per transaction when batched")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    signed_url, _ = store_env(args.db, "signed")
    plain_url, _ = store_env(args.db, "plain")
    ledger, counter, signed_members, signed_item = setup_signed(signed_url)
    plain, plain_counter, plain_members, plain_item = setup_plain(plain_url)
    position = {"signed": 0, "plain": 0}

    def next_member(side: str, members: list[UUID]) -> UUID:
        position[side] += 1
        return members[position[side] % len(members)]

    def signed_single(n: int) -> None:
        for _ in range(n):
            ledger.redeem(actor=counter, member_id=next_member("signed", signed_members), redemption_id=uuid.uuid4(),
                          items=[(signed_item, 1)])

    def signed_batched(n: int) -> None:
        for start in range(0, n, args.batch):
            with ledger.batch():
                for _ in range(min(args.batch, n - start)):
                    ledger.redeem(actor=counter, member_id=next_member("signed", signed_members),
                                  redemption_id=uuid.uuid4(), items=[(signed_item, 1)])

    def plain_single(n: int) -> None:
        for _ in range(n):
            plain.redeem(counter_id=plain_counter, member_id=next_member("plain", plain_members), item_id=plain_item)

    def plain_batched(n: int) -> None:
        for start in range(0, n, args.batch):
            touched: dict[UUID, Any] = {}
            loaded: dict[UUID, Any] = {}
            for _ in range(min(args.batch, n - start)):
                member_id = next_member("plain", plain_members)
                for account in plain.redeem(counter_id=plain_counter, member_id=member_id, item_id=plain_item,
                                            save=False, loaded=loaded):
                    touched[account.id] = account
            plain.save(*touched.values())

    # Warm caches on both sides, then alternate so drift in machine load hits both equally.
    signed_single(50)
    plain_single(50)
    figures: dict[str, float] = {}
    for label, run, commands in [("plain_single", plain_single, args.single), ("signed_single", signed_single, args.single),
                                 ("plain_batched", plain_batched, args.batched),
                                 ("signed_batched", signed_batched, args.batched)]:
        figures[label] = rate(run, commands, args.repeats)
    kind = parse_database_url(args.db).kind
    print(f"store: {kind}; {ACCOUNTS} accounts; batch of {args.batch}; median of {args.repeats} runs")
    print(f"{'':>10} {'unsigned eventsourcing':>24} {'signed ledger':>16} {'ratio':>8}")
    for mode in ("single", "batched"):
        plain_rate, signed_rate = figures[f"plain_{mode}"], figures[f"signed_{mode}"]
        print(f"{mode:>10} {plain_rate:>20,.0f}/s {signed_rate:>12,.0f}/s {signed_rate / plain_rate:>8.2f}")
    result = {
        "store": kind,
        "ratio": round(figures["signed_batched"] / figures["plain_batched"], 3),
        "ratio_single": round(figures["signed_single"] / figures["plain_single"], 3),
        "signed_batched_per_s": round(figures["signed_batched"]),
        "unsigned_batched_per_s": round(figures["plain_batched"]),
        "signed_single_per_s": round(figures["signed_single"]),
        "unsigned_single_per_s": round(figures["plain_single"]),
        "batch": args.batch,
    }
    print(json.dumps(result))
    drop_bench_schemas(args.db, [signed_url, plain_url])


def drop_bench_schemas(url: str, urls: list[str]) -> None:
    """Remove the benchmark's PostgreSQL schemas (a SQLite run leaves only temporary files)."""
    if parse_database_url(url).kind != "postgresql":
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(parse_database_url(url).libpq_url, autocommit=True) as connection:
        for schema in filter(None, (parse_database_url(u).schema for u in urls)):
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
