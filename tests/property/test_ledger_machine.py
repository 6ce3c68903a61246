"""A stateful test of the whole flow against a plain-Python model.

Rules: report (enrol + register), claim a post, record / rate / certify / reject sessions, correct
certified minutes, uphold complaints, redeem (with retries), exempt. Invariants: each balance
equals certified − clawed back − redeemed (less what is owed), never below zero; the store replays
to the same accounts; every event verifies at the end.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.application import Actor, Ledger
from ledger.domain.errors import BalanceWouldGoNegative, LedgerError, SessionAlreadyDecided, WrongState
from ledger.verification.store import verify_store
from tests.scenario import Region, add_member, build_region, serve


def _end(minutes: int) -> str:
    """The end time of a session that starts at 08:00 (as `serve` records it) and lasts `minutes`."""
    return f"{8 + minutes // 60:02d}:{minutes % 60:02d}"


class Model:
    """The plain-Python oracle: net minutes (balance − owed) and the clamped balance per member."""

    def __init__(self) -> None:
        self.net: dict[UUID, int] = {}
        self.sessions: dict[UUID, tuple[UUID, int, str]] = {}  # session → member, credited, status
        self.redemptions: dict[UUID, tuple[UUID, int]] = {}


class LedgerMachine(RuleBasedStateMachine):
    members = Bundle("members")
    sessions = Bundle("sessions")

    @initialize()
    def start(self) -> None:
        self.ledger = Ledger("memory:")
        self.region: Region = build_region(self.ledger, members=0)
        self.model = Model()

    @rule(target=members)
    def report(self) -> Actor:
        member = add_member(self.region, name="测试党员")
        self.model.net[member.actor_id] = 0
        return member

    @rule(member=members)
    def claim_another_post(self, member: Actor) -> None:
        post_id = self.ledger.define_post(actor=self.region.community, name=f"岗位{uuid4().hex[:6]}")
        self.ledger.claim_post(actor=member, member_id=member.actor_id, post_id=post_id)
        assert post_id in self.ledger.get_member(member.actor_id).posts

    @rule(target=sessions, member=members, minutes=st.integers(1, 600), certify=st.booleans(),
          rating=st.sampled_from(["优", "良", "一般"]))
    def serve(self, member: Actor, minutes: int, certify: bool, rating: str) -> UUID:
        session_id = serve(self.region, member, minutes, rating=rating, certify=certify)
        self.model.sessions[session_id] = (member.actor_id, minutes if certify else 0,
                                           "certified" if certify else "recorded")
        if certify:
            self.model.net[member.actor_id] += minutes
        return session_id

    @rule(session_id=sessions)
    def certify(self, session_id: UUID) -> None:
        member_id, _, status = self.model.sessions[session_id]
        try:
            minutes = self.ledger.certify_session(actor=self.region.community, session_id=session_id)
        except SessionAlreadyDecided:
            assert status != "recorded"
            return
        assert status == "recorded"
        self.model.sessions[session_id] = (member_id, minutes, "certified")
        self.model.net[member_id] += minutes

    @rule(session_id=sessions)
    def reject(self, session_id: UUID) -> None:
        member_id, credited, status = self.model.sessions[session_id]
        try:
            self.ledger.reject_session(actor=self.region.community, session_id=session_id, reason="无法核实")
        except SessionAlreadyDecided:
            assert status != "recorded"
            return
        self.model.sessions[session_id] = (member_id, credited, "rejected")

    @rule(session_id=sessions, minutes=st.integers(1, 600))
    def correct(self, session_id: UUID, minutes: int) -> None:
        member_id, credited, status = self.model.sessions[session_id]
        try:
            delta = self.ledger.correct_session(actor=self.region.community, session_id=session_id,
                                                changes={"minutes": minutes, "end_time": _end(minutes)},
                                                reason="更正")  # a correction keeps minutes ≤ end − start
        except (WrongState, LedgerError):
            assert status in ("rejected", "zeroed")
            return
        if status == "certified":
            assert delta == minutes - credited
            self.model.net[member_id] += delta
            self.model.sessions[session_id] = (member_id, minutes, status)
        else:
            assert delta == 0

    @rule(session_id=sessions)
    def complain(self, session_id: UUID) -> None:
        member_id, credited, status = self.model.sessions[session_id]
        try:
            taken = self.ledger.uphold_complaint(actor=self.region.community, session_id=session_id, reason="投诉属实")
        except WrongState:
            assert status in ("rejected", "zeroed")
            return
        assert taken == (credited if status == "certified" else 0)
        self.model.net[member_id] -= taken
        self.model.sessions[session_id] = (member_id, 0, "zeroed")

    @rule(member=members, quantity=st.integers(1, 5), retry=st.booleans())
    def redeem(self, member: Actor, quantity: int, retry: bool) -> None:
        redemption_id = uuid4()
        price = 30 * quantity
        balance = max(self.model.net[member.actor_id], 0)
        try:
            result = self.ledger.redeem(actor=self.region.counter, member_id=member.actor_id,
                                        redemption_id=redemption_id, items=[(self.region.item_id, quantity)])
        except BalanceWouldGoNegative:
            assert price > balance
            return
        assert price <= balance and result.applied
        self.model.net[member.actor_id] -= price
        if retry:
            again = self.ledger.redeem(actor=self.region.counter, member_id=member.actor_id,
                                       redemption_id=redemption_id, items=[(self.region.item_id, quantity)])
            assert not again.applied and again.minutes == price

    @precondition(lambda self: self.model.net)
    @rule(year=st.integers(2024, 2027))
    def exempt(self, year: int) -> None:
        member_id = next(iter(self.model.net))
        self.ledger.grant_exemption(actor=self.region.unit, member_id=member_id, year=year, reason="有故")
        assert self.ledger.get_member(member_id).exemptions[year] == "有故"

    @invariant()
    def balances_agree_with_the_model_and_never_go_negative(self) -> None:
        for member_id, net in self.model.net.items():
            account = self.ledger.get_account(member_id)
            assert account.balance_minutes >= 0 and account.owed_minutes >= 0
            assert account.balance_minutes - account.owed_minutes == net
            assert account.balance_minutes == max(net, 0)

    def teardown(self) -> None:
        if not hasattr(self, "ledger"):
            return
        self.ledger.repository.cache = None  # reload every account from its events
        for member_id, net in self.model.net.items():
            account = self.ledger.get_account(member_id)
            assert account.balance_minutes - account.owed_minutes == net
        report = verify_store(self.ledger.database, root_public_key=self.region.root_public_key,
                              recorder=self.ledger.recorder, workers=0)
        assert report.ok, [str(p) for p in report.problems]


TestLedgerMachine = LedgerMachine.TestCase  # a new class on every access: set the settings on this one
TestLedgerMachine.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
