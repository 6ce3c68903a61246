"""A stateful test over three regions and members moving between them (with duplicated, delayed
and refused messages). Invariant: each member is active in exactly one region, and the sum of all
active balances equals what the model says — nothing lost, nothing counted twice."""

from __future__ import annotations

import base64
import json
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from ledger.application import transfers
from ledger.application import Actor, Ledger
from ledger.domain.errors import BalanceWouldGoNegative
from ledger.domain.values import Role
from ledger.verification.store import verify_store
from tests.scenario import Region, build_region, organise_region

CODES = ["320102", "320104", "320105"]
FAULTS = ["none", "duplicate_import", "receipt_replayed", "tampered_then_retried", "late_completion"]


class RegionsMachine(RuleBasedStateMachine):
    members = Bundle("members")

    @initialize()
    def start(self) -> None:
        first = Ledger("memory:")
        self.regions: list[Region] = [build_region(first, members=0)]
        root = first._signers[first.province_actor().actor_id][2]
        for code in CODES[1:]:
            ledger = Ledger("memory:")
            ledger.init_region(code=code, name=f"区{code}", province_key=root)
            self.regions.append(organise_region(ledger))
        for a in self.regions:
            for b in self.regions:
                if a is not b:
                    transfers.register_peer(a.ledger, transfers.region_card(b.ledger))
        self.where: dict[UUID, int] = {}
        self.balance: dict[UUID, int] = {}
        self.late: list[tuple[int, transfers.Receipt]] = []

    @rule(target=members, region=st.integers(0, 2))
    def enrol(self, region: int) -> Actor:
        r = self.regions[region]
        member_id = r.ledger.enrol_member(actor=r.unit, name="流动党员", party_status="正式")
        r.ledger.register_member(actor=r.community, member_id=member_id, post_ids=[r.post_id])
        self.where[member_id], self.balance[member_id] = region, 0
        return Actor(member_id, Role.MEMBER)

    @rule(member=members, minutes=st.integers(1, 300))
    def serve(self, member: Actor, minutes: int) -> None:
        self._finish_late_completions()
        r = self.regions[self.where[member.actor_id]]
        session_id = r.ledger.record_session(actor=r.community, member_id=member.actor_id, activity="服务",
                                             content="服务", place="社区", service_date=r.ledger.today(),
                                             start_time="06:00", end_time="12:00", minutes=minutes)
        r.ledger.rate_session(actor=r.community, session_id=session_id, rating="良")
        r.ledger.certify_session(actor=r.community, session_id=session_id)
        self.balance[member.actor_id] += minutes

    @rule(member=members, quantity=st.integers(1, 4))
    def redeem(self, member: Actor, quantity: int) -> None:
        self._finish_late_completions()
        r = self.regions[self.where[member.actor_id]]
        try:
            r.ledger.redeem(actor=r.counter, member_id=member.actor_id, redemption_id=uuid4(),
                            items=[(r.item_id, quantity)])
        except BalanceWouldGoNegative:
            assert self.balance[member.actor_id] < 30 * quantity
            return
        self.balance[member.actor_id] -= 30 * quantity

    @rule(member=members, step=st.integers(1, 2), fault=st.sampled_from(FAULTS))
    def move(self, member: Actor, step: int, fault: str) -> None:
        self._finish_late_completions()
        here = self.where[member.actor_id]
        there = (here + step) % 3
        source, destination = self.regions[here], self.regions[there]
        member_id = member.actor_id
        if source.ledger.secrets.active_key(member_id) is None:
            source.ledger.issue_member_key(actor=source.community, member_id=member_id)
        source.ledger.give_consent(actor=member, member_id=member_id, purpose="transfer", recipient=CODES[there])
        transfer_id = transfers.initiate(source.ledger, member_id=member_id, destination=CODES[there])
        bundle = transfers.export_bundle(source.ledger, transfer_id)
        if fault == "tampered_then_retried":
            document = json.loads(bundle)
            raw = bytearray(base64.b64decode(document["events"][0]))
            raw[100] ^= 4
            document["events"][0] = base64.b64encode(bytes(raw)).decode()
            tampered = json.dumps(document).encode()
            try:
                transfers.import_bundle(destination.ledger, tampered)
                raise AssertionError("a tampered bundle was imported")
            except transfers.TransferRefused as refused:
                rejection = transfers.rejection_receipt(destination.ledger, tampered, refused)
            # a damaged copy is not a refusal for substance: no signed rejection, nothing recorded,
            # so the real bundle, retried, still imports
            assert rejection is None
        receipt = transfers.import_bundle(destination.ledger, bundle)
        if fault == "duplicate_import":
            assert transfers.import_bundle(destination.ledger, bundle).to_bytes() == receipt.to_bytes()
        if fault == "late_completion":
            self.late.append((here, receipt))
        else:
            transfers.complete(source.ledger, receipt)
            if fault == "receipt_replayed":
                transfers.complete(source.ledger, receipt)
        destination.ledger.register_member(actor=destination.community, member_id=member_id,
                                           post_ids=[destination.post_id])
        self.where[member_id] = there

    def _finish_late_completions(self) -> None:
        for here, receipt in self.late:
            transfers.complete(self.regions[here].ledger, receipt)
        self.late.clear()

    @invariant()
    def each_member_is_active_in_one_region_with_the_model_balance(self) -> None:
        total = 0
        for member_id, region in self.where.items():
            active = []
            for index, r in enumerate(self.regions):
                if not r.ledger._exists(member_id):
                    continue
                member = r.ledger.get_member(member_id)
                if not member.closed and member.frozen_by is None:
                    active.append(index)
                    total += r.ledger.get_balance_minutes(member_id)
            assert active == [region]
        assert total == sum(self.balance.values())

    def teardown(self) -> None:
        for r in getattr(self, "regions", []):
            report = verify_store(r.ledger.database, root_public_key=self.regions[0].root_public_key,
                                  recorder=r.ledger.recorder, workers=0)
            assert report.ok, [str(p) for p in report.problems]


TestRegionsMachine = RegionsMachine.TestCase  # a new class on every access: set the settings on this one
TestRegionsMachine.settings = settings(max_examples=12, stateful_step_count=14, deadline=None)
