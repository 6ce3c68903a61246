"""Two regions and an adversary who owns the network (issue #10, defect 1).

Every federation message — bundles, accepted receipts, rejections, the source's timeout queries
and the destination's "not imported" answers — goes into a pool that the adversary reads. It delivers any of them, any number of times, in any order, to either region; it
forges new ones from them (garbage naming a real transfer, bundles with a damaged history, another
transfer's events, another destination or transfer id, receipts with changed fields, receipts
signed by a stranger, and rejections the destination signed for bytes the source never exported —
what the destination signed for garbage before the fix); it posts any bundle, real or forged, as
a timeout query, before or after the expiry; and it lets time run past the timeout. The source's
timeout void without the destination's answer is tried too (and must be refused: the destination
may have imported and the receipt got lost). The regions only ever act on what arrives, as the
services do.

Invariants after every step, for every member:
* the minutes the member holds are conserved: the balance in each region where the member is open,
  except a frozen balance whose transfer the destination has already imported (then it is held
  there), sums to the model's total — so a credit at the destination plus an unfreeze at the source
  (the double credit of the issue) breaks it;
* the member is active (open and not frozen) in at most one region;
* no region both imported and rejected one transfer (they share one record id).
At the end the honest protocol settles every transfer (push, then after the expiry the query and
its answer), and then the member is active in exactly one region with the model's total, and both
stores verify."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from ledger.application import transfers
from ledger.application import Actor, Ledger
from ledger.demo import simulated
from ledger.domain.errors import LedgerError
from ledger.domain.transfer import Transfer, TransferImport
from ledger.domain.values import Role
from ledger.signing import keys as ed25519
from ledger.verification.store import verify_store
from tests.scenario import organise_region
from tests.scenario import Region, build_region

CODES = ["320102", "320104"]
TAMPERS = ["garbage", "history_byte", "no_history", "other_destination", "other_transfer_id",
           "other_transfer_events", "no_proofs", "not_json", "deep"]
RECEIPT_FORGERIES = ["flip_kind", "other_bundle_hash", "stranger_key", "destination_signed_other_bytes",
                     "other_transfer", "balance"]
KINDS = ["accepted", "rejected", "not_imported"]
EPOCH = datetime(2026, 12, 3, 6, 47, 1, tzinfo=timezone.utc)  # the day `dev` found the re-encoded bundle


class FederationAdversary(RuleBasedStateMachine):
    members = Bundle("members")
    transfers_ = Bundle("transfers")

    @initialize()
    def start(self) -> None:
        self.now = EPOCH  # pinned: a replayed example sees the same expiries and days
        with self._clock():
            first = Ledger("memory:")
            self.regions: list[Region] = [build_region(first, members=0)]
            root = first._signers[first.province_actor().actor_id][2]
            second = Ledger("memory:")
            second.init_region(code=CODES[1], name="南京市秦淮区", province_key=root)
            self.regions.append(organise_region(second))
            for a, b in ((0, 1), (1, 0)):
                transfers.register_peer(self.regions[a].ledger, transfers.region_card(self.regions[b].ledger))
        self.total: dict[UUID, int] = {}
        self.pool: list[bytes] = []  # every message ever seen on the network
        self.all_transfers: list[tuple[int, UUID]] = []
        self.stranger = ed25519.generate()

    def _clock(self):  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
        return simulated(self.now)

    # -- members -------------------------------------------------------------------------------------
    @rule(target=members, minutes=st.integers(30, 300))
    def enrol(self, minutes: int) -> Actor:
        r = self.regions[0]
        with self._clock():
            member_id = r.ledger.enrol_member(actor=r.unit, name="流动党员", party_status="正式")
            r.ledger.register_member(actor=r.community, member_id=member_id, post_ids=[r.post_id])
            session_id = r.ledger.record_session(actor=r.community, member_id=member_id, activity="服务",
                                                 content="服务", place="社区", service_date=r.ledger.today(),
                                                 start_time="06:00", end_time="12:00", minutes=minutes)
            r.ledger.rate_session(actor=r.community, session_id=session_id, rating="良")
            r.ledger.certify_session(actor=r.community, session_id=session_id)
        self.total[member_id] = minutes
        return Actor(member_id, Role.MEMBER)

    @rule(member=members, region=st.integers(0, 1))
    def redeem(self, member: Actor, region: int) -> None:
        r = self.regions[region]
        with self._clock():
            try:
                r.ledger.redeem(actor=r.counter, member_id=member.actor_id, redemption_id=uuid4(),
                                items=[(r.item_id, 1)])
            except LedgerError:
                return
        self.total[member.actor_id] -= 30

    @rule(target=transfers_, member=members)
    def initiate(self, member: Actor) -> tuple[int, UUID]:
        here = self._active_in(member.actor_id)
        if len(here) != 1:
            return (0, uuid4())  # nowhere to start from: a transfer id nobody knows (still a valid target)
        source = self.regions[here[0]]
        there = CODES[1 - here[0]]
        with self._clock():
            if source.ledger.secrets.active_key(member.actor_id) is None:
                source.ledger.issue_member_key(actor=source.region, member_id=member.actor_id)
            source.ledger.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient=there)
            transfer_id = transfers.initiate(source.ledger, member_id=member.actor_id, destination=there)
        self.all_transfers.append((here[0], transfer_id))
        return (here[0], transfer_id)

    # -- honest messages -------------------------------------------------------------------------------
    @rule(transfer=transfers_, push=st.booleans(), relay=st.booleans())
    def export(self, transfer: tuple[int, UUID], push: bool, relay: bool) -> None:
        """The source exports the bundle; with `push` it is delivered at once (as `send` does), and
        with `relay` the destination's answer comes straight back."""
        source = transfer[0]
        with self._clock():
            try:
                bundle = transfers.export_bundle(self.regions[source].ledger, transfer[1])
            except LedgerError:
                return
        self.pool.append(bundle)
        if push:
            self._relay(bundle, 1 - source, relay)

    @rule(data=st.data(), region=st.integers(0, 1), relay=st.booleans(), query=st.booleans())
    def deliver(self, data: st.DataObject, region: int, relay: bool, query: bool) -> None:
        """Any message ever seen, again, to either region: as the federation endpoints and the
        source's completion/voiding would handle it — a bundle to the import endpoint, or with
        `query` to the timeout-query endpoint. With `relay` the answer goes straight on to the
        other region (as `send` and `settle_after_timeout` do); otherwise it waits in the pool."""
        if not self.pool:
            return
        message = data.draw(st.sampled_from(self.pool[-8:] if data.draw(st.booleans()) else self.pool))
        self._relay(message, region, relay, query)

    @rule(transfer=transfers_, relay=st.booleans())
    def query_after_timeout(self, transfer: tuple[int, UUID], relay: bool) -> None:
        """The source asks the destination "did you import this?" with a fresh export of its bundle,
        whether or not the transfer has expired (before the expiry the destination answers nothing)."""
        source = transfer[0]
        with self._clock():
            try:
                bundle = transfers.export_bundle(self.regions[source].ledger, transfer[1])
            except LedgerError:
                return
        self.pool.append(bundle)
        self._relay(bundle, 1 - source, relay, query=True)

    @rule(transfer=transfers_, relay=st.booleans())
    def import_lose_receipt_and_expire(self, transfer: tuple[int, UUID], relay: bool) -> None:
        """The race of the issue in one step: the destination imports the bundle, its receipt is lost
        (it waits in the pool), the expiry passes, the source tries to void on the timeout alone;
        then it asks, and with `relay` acts on the answer."""
        source, transfer_id = transfer
        ledger = self.regions[source].ledger
        with self._clock():
            try:
                bundle = transfers.export_bundle(ledger, transfer_id)
            except LedgerError:
                return
            expires_at = transfers.get_transfer(ledger, transfer_id).expires_at
        self.pool.append(bundle)
        self._deliver(bundle, 1 - source)
        self.now = max(self.now, expires_at + timedelta(minutes=1))
        self.void_after_timeout(transfer)
        self._relay(bundle, 1 - source, relay, query=True)

    def _relay(self, message: bytes, region: int, relay: bool, query: bool = False) -> None:
        answer = self._deliver(message, region, query)
        if answer is not None and relay:
            self._deliver(answer, 1 - region)

    def _deliver(self, message: bytes, region: int, query: bool = False) -> bytes | None:
        ledger = self.regions[region].ledger
        with self._clock():
            if message.startswith(b'{"key_id":'):  # a receipt (canonical JSON: keys sorted)
                return self._answer(ledger, message)
            if query:
                try:
                    answer = transfers.status_answer(ledger, message).to_bytes()
                except LedgerError:
                    answer = None
                if answer is not None:
                    self.pool.append(answer)
                return answer
            checked = transfers.check_import(ledger, message)
            try:
                answer = transfers.commit_import(ledger, checked).to_bytes()
            except transfers.TransferRefused:
                rejection = transfers.reject(ledger, checked)
                answer = rejection.to_bytes() if rejection is not None else None
            except LedgerError:
                answer = None
        if answer is not None:
            self.pool.append(answer)
        return answer

    def _answer(self, ledger: Ledger, message: bytes) -> None:
        try:
            receipt = transfers.Receipt.from_bytes(message)
            if receipt.accepted:
                transfers.complete(ledger, receipt)
            else:
                transfers.void(ledger, UUID(str(receipt.body.get("transfer_id"))), rejection=receipt)
        except (LedgerError, ValueError):
            pass
        return None

    @rule(days=st.integers(1, 40))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)

    @rule(transfer=transfers_)
    def void_after_timeout(self, transfer: tuple[int, UUID]) -> None:
        """The old shortcut — void because the time ran out — is refused: it needs an answer."""
        ledger = self.regions[transfer[0]].ledger
        if not ledger._exists(transfer[1]):
            return
        with self._clock():
            before = transfers.get_transfer(ledger, transfer[1]).status
            try:
                transfers.void(ledger, transfer[1])
            except LedgerError:
                pass
            assert transfers.get_transfer(ledger, transfer[1]).status == before

    # -- the adversary ---------------------------------------------------------------------------------
    @rule(data=st.data(), how=st.sampled_from(TAMPERS), region=st.integers(0, 1), relay=st.booleans(),
          query=st.booleans())
    def forge_bundle(self, data: st.DataObject, how: str, region: int, relay: bool, query: bool) -> None:
        bundles = [m for m in self.pool if b'"transfer_events"' in m]
        if not bundles and how != "garbage":
            return
        if how == "garbage":
            source, transfer_id = (data.draw(st.sampled_from(self.all_transfers)) if self.all_transfers
                                   else (0, uuid4()))
            region = 1 - source  # posted to the transfer's destination
            forged = json.dumps({"transfer_id": str(transfer_id), "source": {"code": CODES[source]},
                                 "destination": CODES[1 - source], "format": transfers.BUNDLE_FORMAT}).encode()
        elif how == "not_json":
            forged = data.draw(st.sampled_from(bundles))[: data.draw(st.integers(0, 200))]
        elif how == "deep":
            forged = b"[" * 5000
        else:
            document = json.loads(data.draw(st.sampled_from(bundles)))
            if how == "history_byte":
                if not document["events"]:  # a "no_history" forgery from the pool: no byte to flip
                    return
                index = data.draw(st.integers(0, len(document["events"]) - 1))
                raw = bytearray(base64.b64decode(document["events"][index]))
                raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
                document["events"][index] = base64.b64encode(bytes(raw)).decode()
            elif how == "no_history":
                document["events"] = []
            elif how == "other_destination":
                document["destination"] = CODES[0] if document["destination"] == CODES[1] else CODES[1]
            elif how == "other_transfer_id":
                document["transfer_id"] = str(data.draw(st.sampled_from(
                    [t for _, t in self.all_transfers] + [uuid4()])))
            elif how == "other_transfer_events":
                other = json.loads(data.draw(st.sampled_from(bundles)))
                document["transfer_events"] = other["transfer_events"]
            elif how == "no_proofs":
                document["merkle"] = None
            forged = json.dumps(document).encode()
        self.pool.append(forged)
        self._relay(forged, region, relay, query)

    @rule(data=st.data(), how=st.sampled_from(RECEIPT_FORGERIES), region=st.integers(0, 1))
    def forge_receipt(self, data: st.DataObject, how: str, region: int) -> None:
        receipts = [m for m in self.pool if b'"receipt"' in m]
        if how == "destination_signed_other_bytes":
            if not self.all_transfers:
                return
            source, transfer_id = data.draw(st.sampled_from(self.all_transfers))
            destination = self.regions[1 - source].ledger
            kind = data.draw(st.sampled_from(KINDS))
            body = {"format": transfers.RECEIPT_FORMAT, "kind": kind, "transfer_id": str(transfer_id),
                    "source": CODES[source], "destination": CODES[1 - source], "bundle_sha256": uuid4().hex * 2,
                    "code": "bundle_unreadable", "reason": "garbage", "time": self.now.isoformat()}
            forged = transfers._sign_receipt(destination, body)
        else:
            if not receipts:
                return
            receipt = transfers.Receipt.from_bytes(data.draw(st.sampled_from(receipts)))
            body = dict(receipt.body)
            if how == "flip_kind":
                body["kind"] = data.draw(st.sampled_from([k for k in KINDS if k != body.get("kind")]))
            elif how == "other_bundle_hash":
                bundles = [m for m in self.pool if b'"transfer_events"' in m]
                body["bundle_sha256"] = transfers._sha256(data.draw(st.sampled_from(bundles))) if bundles else "0"
            elif how == "other_transfer":
                body["transfer_id"] = str(data.draw(st.sampled_from([t for _, t in self.all_transfers] + [uuid4()])))
            elif how == "balance":
                body["balance_minutes"] = int(body.get("balance_minutes", 0)) + 30
            signature = self.stranger.sign(json.dumps(body).encode()) if how == "stranger_key" else receipt.signature
            forged = transfers.Receipt(body, receipt.key_id, signature)
        self.pool.append(forged.to_bytes())
        self._deliver(forged.to_bytes(), region)

    # -- invariants ------------------------------------------------------------------------------------
    def _active_in(self, member_id: UUID) -> list[int]:
        active = []
        for index, r in enumerate(self.regions):
            if r.ledger._exists(member_id):
                member = r.ledger.get_member(member_id)
                if not member.closed and member.frozen_by is None:
                    active.append(index)
        return active

    def _imported(self, destination: int, source: int, transfer_id: UUID) -> bool:
        ledger = self.regions[destination].ledger
        record_id = TransferImport.create_id(CODES[source], transfer_id)
        if not ledger._exists(record_id):
            return False
        return isinstance(ledger.repository.get(record_id), TransferImport)

    @invariant()
    def minutes_are_conserved_and_a_member_is_active_in_one_region_at_most(self) -> None:
        for member_id, total in self.total.items():
            held = 0
            for index, r in enumerate(self.regions):
                if not r.ledger._exists(member_id):
                    continue
                member = r.ledger.get_member(member_id)
                if member.closed:
                    continue
                if member.frozen_by is not None and self._imported(1 - index, index, member.frozen_by):
                    continue  # in flight, and already held at the destination
                held += r.ledger.get_balance_minutes(member_id)
            assert held == total, (member_id, held, total)
            assert len(self._active_in(member_id)) <= 1

    # -- the end: the honest protocol settles everything ------------------------------------------------
    def teardown(self) -> None:
        if not hasattr(self, "regions"):
            return
        for _ in range(4):
            for source, transfer_id in self.all_transfers:
                ledger = self.regions[source].ledger
                with self._clock():
                    if not ledger._exists(transfer_id) or transfers.get_transfer(ledger, transfer_id).status != \
                            Transfer.PENDING:
                        continue
                    bundle = transfers.export_bundle(ledger, transfer_id)
                answer = self._deliver(bundle, 1 - source)
                if answer is not None:
                    self._deliver(answer, source)
        self.now += timedelta(days=60)
        for source, transfer_id in self.all_transfers:  # still pending after the expiry: ask, and act on the answer
            ledger = self.regions[source].ledger
            with self._clock():
                if not ledger._exists(transfer_id) or transfers.get_transfer(ledger, transfer_id).status != \
                        Transfer.PENDING:
                    continue
                bundle = transfers.export_bundle(ledger, transfer_id)
            answer = self._deliver(bundle, 1 - source, query=True)
            assert answer is not None, transfer_id  # an expired transfer of a registered peer is always answered
            self._deliver(answer, source)
            with self._clock():
                assert transfers.get_transfer(ledger, transfer_id).status != Transfer.PENDING, transfer_id
        self.minutes_are_conserved_and_a_member_is_active_in_one_region_at_most()
        for member_id, total in self.total.items():
            active = self._active_in(member_id)
            assert len(active) == 1, (member_id, active)
            assert self.regions[active[0]].ledger.get_balance_minutes(member_id) == total
        for r in self.regions:
            report = verify_store(r.ledger.database, root_public_key=self.regions[0].root_public_key,
                                  recorder=r.ledger.recorder, workers=0)
            assert report.ok, [str(p) for p in report.problems]


FederationAdversary.TestCase.settings = settings(max_examples=20, stateful_step_count=40, deadline=None)
TestFederationAdversary = FederationAdversary.TestCase


def test_a_reencoded_copy_of_the_real_bundle_is_not_imported_and_the_transfer_settles() -> None:
    """The failure `dev` found (replayed here step by step, so the derandomized CI profile always
    runs it): the adversary re-encodes a real bundle (`forge_bundle` "other_transfer_events" drawing
    the same bundle twice — same content, json.dumps bytes) and relays it. The destination imported
    it under that copy's SHA-256, which the source never exported, so the source refused its
    receipt, and its answer to every later query, forever: the transfer stayed pending at the source
    while the member was active at the destination. The bundle's bytes are now the canonical
    encoding of what the source signed, so the copy is refused, unsigned and unrecorded."""
    machine = FederationAdversary()
    machine.start()
    member = machine.enrol(minutes=93)
    transfer = machine.initiate(member)
    machine.query_after_timeout(transfer, relay=True)  # an export; before the expiry nothing is answered
    real = machine.pool[-1]
    copy = json.dumps(json.loads(real)).encode()
    assert copy != real and json.loads(copy) == json.loads(real)
    checked = transfers.check_import(machine.regions[1].ledger, copy)
    assert checked.verified is None and checked.refusal is not None
    assert checked.refusal.code == "bundle_signature_invalid"
    machine.pool.append(copy)
    machine._relay(copy, 1, relay=True)
    assert not machine._imported(1, 0, transfer[1])
    assert not machine.regions[1].ledger._exists(TransferImport.create_id(CODES[0], transfer[1]))  # nor refused
    machine.minutes_are_conserved_and_a_member_is_active_in_one_region_at_most()
    machine.teardown()  # the real bundle imports, the source completes with the receipt
    with simulated(machine.now):
        assert transfers.get_transfer(machine.regions[0].ledger, transfer[1]).status == Transfer.COMPLETED
    assert machine._active_in(member.actor_id) == [1]
