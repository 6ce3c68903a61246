"""通存通兑 over three regions and an adversarial network (issue #14): requests and answers dropped,
lost after being applied, duplicated, delayed and delivered out of order (past the hold's time too),
the clock moved on and set back, voids and retries, sweeps at any region. Invariants, at every step:
no minutes spent twice, no balance below zero, a capture at the counter only after one at home. After a
final sweep on a healed network: every hold captured or released, both sides agree on each redemption,
and every pair's settlement statements verify at the other side with totals equal to the captures."""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.application import Ledger, anywhere, settlement, transfers
from ledger.application.anywhere import HomeRegionRefused, HomeRegionUnreachable
from ledger.demo import simulated
from ledger.domain.anywhere import RemoteRedemption
from ledger.domain.errors import HoldCaptured, NotFound, RedemptionExistsWithDifferentTerms
from ledger.domain.time_account import TimeAccount
from tests.scenario import Region, add_member, build_region, organise_region, serve

CODES = ["320102", "320104", "320105"]
START = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
CREDIT = 150  # each member's certified minutes (5 towels of 30)
FAULTS = ["ok", "drop", "lose", "duplicate", "delay"]


class Wires:
    """Every message between regions goes through here; each send takes the next planned fault:
    drop (never arrives), lose (applied, the answer lost), duplicate (applied twice: the same signed
    answer), delay (held back, delivered later by the machine, its answer lost)."""

    def __init__(self, regions: list[Region]) -> None:
        self.ledgers = {code: region.ledger for code, region in zip(CODES, regions)}
        self.faults: list[str] = []
        self.delayed: list[tuple[str, bytes]] = []

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        code = url.split("//", 1)[1].split("/", 1)[0]
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "drop":
            raise ConnectionResetError("the request was lost")
        if fault == "delay":
            self.delayed.append((code, body))
            raise TimeoutError("no answer in time")
        answer = anywhere.answer(self.ledgers[code], body)
        if fault == "duplicate":
            assert anywhere.answer(self.ledgers[code], body) == answer
        if fault == "lose":
            raise ConnectionResetError("the answer was lost")
        return 200, answer


@dataclass(frozen=True)
class Attempt:
    redemption_id: UUID
    member_id: UUID
    home: int
    counter: int
    quantity: int


class AnywhereMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.now = self.latest = START  # latest: the latest time the clock showed
        with self._clock():
            first = Ledger("memory:")
            self.regions: list[Region] = [build_region(first, members=0)]
            root = first._signers[first.province_actor().actor_id][2]
            for code in CODES[1:]:
                ledger = Ledger("memory:")
                ledger.init_region(code=code, name=f"区{code}", province_key=root)
                self.regions.append(organise_region(ledger))
            for a in self.regions:
                for b, code_b in zip(self.regions, CODES):
                    if a is not b:
                        transfers.register_peer(a.ledger, transfers.region_card(b.ledger, address=f"http://{code_b}"))
            self.members: list[tuple[int, UUID]] = []
            for index, region in enumerate(self.regions):
                member = add_member(region, name=f"党员{index}")
                serve(region, member, CREDIT)
                self.members.append((index, member.actor_id))
        self.wires = Wires(self.regions)
        self.attempts: list[Attempt] = []

    @contextmanager
    def _clock(self) -> Iterator[None]:
        with simulated(self.now):
            yield

    def _counter(self, attempt: Attempt) -> Region:
        return self.regions[attempt.counter]

    def _redeem(self, attempt: Attempt) -> None:
        counter = self._counter(attempt)
        try:
            anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=attempt.member_id,
                                       home=CODES[attempt.home], redemption_id=attempt.redemption_id,
                                       items=[(counter.item_id, attempt.quantity)], post=self.wires.post)
        except (HomeRegionRefused, HomeRegionUnreachable, RedemptionExistsWithDifferentTerms):
            pass

    # -- what counters, networks and operators do ---------------------------------------------------

    @rule(who=st.integers(0, 2), step=st.integers(1, 2), quantity=st.integers(1, 3),
          faults=st.lists(st.sampled_from(FAULTS), max_size=3))
    def redeem(self, who: int, step: int, quantity: int, faults: list[str]) -> None:
        home, member_id = self.members[who]
        attempt = Attempt(uuid4(), member_id, home, (home + step) % 3, quantity)
        self.attempts.append(attempt)
        self.wires.faults = list(faults)
        with self._clock():
            self._redeem(attempt)

    @precondition(lambda self: bool(self.attempts))
    @rule(pick=st.randoms(use_true_random=False), faults=st.lists(st.sampled_from(FAULTS), max_size=2))
    def retry(self, pick: random.Random, faults: list[str]) -> None:
        self.wires.faults = list(faults)
        with self._clock():
            self._redeem(pick.choice(self.attempts))

    @precondition(lambda self: bool(self.attempts))
    @rule(pick=st.randoms(use_true_random=False), quantity=st.integers(1, 3),
          faults=st.lists(st.sampled_from(FAULTS), max_size=2))
    def reuse_the_id_for_another_basket(self, pick: random.Random, quantity: int, faults: list[str]) -> None:
        """A double submit with another basket (or a clerk reusing an id): never a second charge."""
        attempt = pick.choice(self.attempts)
        self.wires.faults = list(faults)
        with self._clock():
            self._redeem(Attempt(attempt.redemption_id, attempt.member_id, attempt.home, attempt.counter, quantity))

    @precondition(lambda self: bool(self.attempts))
    @rule(pick=st.randoms(use_true_random=False), faults=st.lists(st.sampled_from(FAULTS), max_size=2))
    def void(self, pick: random.Random, faults: list[str]) -> None:
        attempt = pick.choice(self.attempts)
        self.wires.faults = list(faults)
        with self._clock():
            try:
                anywhere.void(self._counter(attempt).ledger, actor=self._counter(attempt).counter,
                              redemption_id=attempt.redemption_id, post=self.wires.post)
            except (HoldCaptured, NotFound, HomeRegionUnreachable):
                pass

    @precondition(lambda self: bool(self.wires.delayed))
    @rule(pick=st.randoms(use_true_random=False))
    def deliver_late(self, pick: random.Random) -> None:
        """A delayed message arrives (any of them: out of order); its answer goes nowhere."""
        code, body = self.wires.delayed.pop(pick.randrange(len(self.wires.delayed)))
        with self._clock():
            anywhere.answer(self.wires.ledgers[code], body)

    @rule(minutes=st.sampled_from([10, 60, 119, 121, 180]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.latest = max(self.latest, self.now)

    @rule(minutes=st.sampled_from([5, 60, 150]))
    def clock_set_back(self, minutes: int) -> None:
        self.now -= timedelta(minutes=minutes)

    @rule(region=st.integers(0, 2), with_post=st.booleans(), faults=st.lists(st.sampled_from(FAULTS), max_size=2))
    def sweep(self, region: int, with_post: bool, faults: list[str]) -> None:
        ledger = self.regions[region].ledger
        self.wires.faults = list(faults)
        with self._clock():
            anywhere.sweep(ledger, post=self.wires.post if with_post else None, actor=ledger.region_actor())

    # -- what must always hold ----------------------------------------------------------------------

    def _account(self, home: int, member_id: UUID) -> TimeAccount:
        return self.regions[home].ledger.get_account(member_id)

    def _record(self, attempt: Attempt) -> RemoteRedemption | None:
        ledger = self._counter(attempt).ledger
        if not ledger._exists(RemoteRedemption.create_id(attempt.redemption_id)):
            return None
        return anywhere.get_remote_redemption(ledger, attempt.redemption_id)

    @invariant()
    def no_minutes_spent_twice_and_no_balance_below_zero(self) -> None:
        if not hasattr(self, "attempts"):
            return
        for home, member_id in self.members:
            account = self._account(home, member_id)
            assert account.balance_minutes >= 0 and account.held_minutes >= 0 and account.owed_minutes == 0
            captured = sum(h.minutes for h in account.holds.values() if h.status == "captured")
            held = sum(h.minutes for h in account.holds.values() if h.status == "held")
            assert (account.held_minutes, account.redeemed_minutes_total) == (held, captured)
            assert account.balance_minutes + held + captured == CREDIT
        for attempt in self.attempts:
            record = self._record(attempt)
            found = self._account(attempt.home, attempt.member_id).holds.get(attempt.redemption_id)
            if record is not None and record.status == RemoteRedemption.CAPTURED:
                assert found is not None and found.status == "captured"  # the counter never charges alone
            if record is not None and record.status in (RemoteRedemption.AUTHORISED, RemoteRedemption.CAPTURED):
                assert found is not None and found.minutes == record.minutes  # the goods given are the ones held
            if found is not None:
                assert found.counter_region == CODES[attempt.counter]

    def teardown(self) -> None:
        if not hasattr(self, "attempts"):
            return
        self.wires.faults, self.wires.delayed = [], []  # the network heals; what was delayed is gone
        with self._clock():
            for region in self.regions:  # the counters' captures go through while holds stand
                anywhere.sweep(region.ledger, post=self.wires.post, actor=region.ledger.region_actor())
        self.now = self.latest + timedelta(seconds=anywhere.HOLD_SECONDS + 1)  # past every hold's time
        with self._clock():
            for region in self.regions:
                anywhere.sweep(region.ledger, post=self.wires.post, actor=region.ledger.region_actor())
            owed = {(a, b): 0 for a in range(3) for b in range(3) if a != b}  # (home, counter) -> minutes
            for attempt in self.attempts:
                record = self._record(attempt)
                found = self._account(attempt.home, attempt.member_id).holds.get(attempt.redemption_id)
                assert found is None or found.status in ("captured", "released")
                assert record is None or record.status != RemoteRedemption.AUTHORISED
                home_captured = found is not None and found.status == "captured"
                assert home_captured == (record is not None and record.status == RemoteRedemption.CAPTURED)
                if home_captured and found is not None:
                    owed[attempt.home, attempt.counter] += found.minutes
            for (a, b), minutes in owed.items():
                verdict = settlement.verify_statement(self.regions[b].ledger,
                                                      settlement.make_statement(self.regions[a].ledger, CODES[b]))
                assert verdict.ok, verdict.disputes
                assert (verdict.agreed_minutes_they_owe, verdict.agreed_minutes_we_owe) == (minutes, owed[b, a])


TestAnywhereMachine = AnywhereMachine.TestCase  # a new class on every access: set the settings on this one
TestAnywhereMachine.settings = settings(max_examples=12, stateful_step_count=30, deadline=None)
