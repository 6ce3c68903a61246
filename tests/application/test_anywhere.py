"""通存通兑 (issue #14): a member of region A redeems at a counter of region B. The minutes are held
at A on B's signed request and captured exactly once; retries, lost and duplicated messages, late
captures, voids and forged requests change nothing they should not; every answer is signed by A and
checked by B."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import Ledger, anywhere, settlement, transfers
from ledger.application.anywhere import AnywhereRefused, HomeRegionRefused, HomeRegionUnreachable
from ledger.demo import simulated
from ledger.domain.anywhere import RemoteRedemption
from ledger.domain.errors import HoldCaptured, HoldPending, NotFound, OfflineBoundExceeded, OfflineRedemptionsOff
from ledger.domain.values import ConsentPurpose
from ledger.signing import keys as ed25519
from ledger.signing.canonical import canonical_bytes
from projections.audit import audit
from projections.projector import Views
from tests.scenario import Region, build_region, organise_region, serve

START = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
HOME, COUNTER, OTHER = "320102", "320104", "320105"


class Network:
    """The federation's wires, in process: each region's address answers with its `anywhere.answer`.
    Faults: `down` (nothing reaches), `lose` (the request is applied, the answer lost), `duplicate`."""

    def __init__(self, regions: dict[str, Region]) -> None:
        self.regions = regions
        self.down: set[str] = set()
        self.lose: set[str] = set()  # kinds of request whose answer is lost once applied
        self.drop: set[str] = set()  # kinds of request lost on the way (never applied)
        self.duplicate = False
        self.sent: list[bytes] = []

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        code = url.split("//", 1)[1].split("/", 1)[0]
        if code in self.down:
            raise ConnectionRefusedError(f"{code} is down")
        self.sent.append(body)
        kind = json.loads(body)["body"]["kind"]
        if kind in self.drop:
            self.drop.discard(kind)
            raise ConnectionResetError("the request was lost")
        answer = anywhere.answer(self.regions[code].ledger, body)
        if self.duplicate:
            assert anywhere.answer(self.regions[code].ledger, body) == answer  # a retry: the same signed bytes
        if kind in self.lose:
            self.lose.discard(kind)
            raise ConnectionResetError("the answer was lost")
        return 200, answer


@pytest.fixture()
def federation() -> Iterator[tuple[Region, Region, Region, Network]]:
    with simulated(START):
        first = Ledger("memory:")
        home = build_region(first, members=2)
        root = first._signers[first.province_actor().actor_id][2]
        others = []
        for code in (COUNTER, OTHER):
            ledger = Ledger("memory:")
            ledger.init_region(code=code, name=f"区{code}", province_key=root)
            others.append(organise_region(ledger))
        regions = {HOME: home, COUNTER: others[0], OTHER: others[1]}
        for a in regions.values():
            for code, b in regions.items():
                if a is not b:
                    transfers.register_peer(a.ledger, transfers.region_card(b.ledger, address=f"http://{code}"))
        serve(home, home.members[0], 120)
        yield home, others[0], others[1], Network(regions)


def _redeem(counter: Region, member_id: UUID, network: Network, quantity: int = 2,
            redemption_id: UUID | None = None) -> anywhere.RemoteResult:
    return anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=member_id, home=HOME,
                                      redemption_id=redemption_id or uuid4(), items=[(counter.item_id, quantity)],
                                      post=network.post)


def _events(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_a_member_redeems_at_another_regions_counter_exactly_once(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    redemption_id = uuid4()
    result = _redeem(counter, member, network, redemption_id=redemption_id)
    assert (result.status, result.minutes, result.balance_minutes, result.applied) == ("captured", 60, 60, True)
    account = home.ledger.get_account(member)
    assert (account.balance_minutes, account.held_minutes, account.redeemed_minutes_total) == (60, 0, 60)
    record = anywhere.get_remote_redemption(counter.ledger, redemption_id)
    assert record.status == RemoteRedemption.CAPTURED and record.lines[0]["name"] == "毛巾"
    # the same redemption again (a double click, a retry after a lost page): nothing more is taken
    again = _redeem(counter, member, network, redemption_id=redemption_id)
    assert (again.status, again.applied) == ("captured", False)
    assert home.ledger.get_account(member).balance_minutes == 60
    # both answers A signed are kept at B and verify with A's public key alone
    peer = counter.ledger.get_region().require_peer(HOME)
    for kept in (record.authorisation, record.capture):
        document = json.loads(base64.b64decode(kept or ""))
        assert ed25519.verify(ed25519.load_public(peer["public_key"]), ed25519.unb64(document["signature"]),
                              canonical_bytes(document["body"]))


def test_not_enough_balance_is_refused_by_home_and_nothing_is_held(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    before = _events(home.ledger)
    redemption_id = uuid4()
    with pytest.raises(HomeRegionRefused) as refused:
        _redeem(counter, member, network, quantity=5, redemption_id=redemption_id)
    assert refused.value.code == "balance_would_go_negative"
    assert _events(home.ledger) == before and home.ledger.get_account(member).balance_minutes == 120
    record = anywhere.get_remote_redemption(counter.ledger, redemption_id)
    assert (record.status, record.refusal_code) == (RemoteRedemption.REFUSED, "balance_would_go_negative")


def test_a_member_unknown_at_home_is_refused(federation: Any) -> None:
    _, counter, _, network = federation
    with pytest.raises(HomeRegionRefused) as refused:
        _redeem(counter, uuid4(), network)
    assert refused.value.code == "member_not_found"


def test_a_lost_capture_answer_is_retried_with_the_same_bytes_and_applied_once(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.lose.add("capture")
    result = _redeem(counter, member, network)
    assert result.status == "authorised"  # the goods are covered by the hold; the capture is retried
    account = home.ledger.get_account(member)
    assert (account.balance_minutes, account.held_minutes, account.redeemed_minutes_total) == (60, 0, 60)
    record = anywhere.capture_pending(counter.ledger, counter.counter, result.redemption_id, network.post)
    assert record.status == RemoteRedemption.CAPTURED
    assert network.sent[-1] == network.sent[-2]  # the retried capture is the same signed request
    assert home.ledger.get_account(member).redeemed_minutes_total == 60


def test_home_down_gives_nothing_and_the_retry_completes(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    redemption_id = uuid4()
    network.down.add(HOME)
    with pytest.raises(HomeRegionUnreachable):
        _redeem(counter, member, network, redemption_id=redemption_id)
    with pytest.raises(NotFound):  # nothing recorded, nothing given
        anywhere.get_remote_redemption(counter.ledger, redemption_id)
    network.down.clear()
    network.duplicate = True
    assert _redeem(counter, member, network, redemption_id=redemption_id).status == "captured"
    assert home.ledger.get_account(member).balance_minutes == 60


def test_a_capture_after_the_hold_expired_is_refused_and_the_minutes_come_back(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.lose.add("authorise")  # home holds, the counter never hears: it must not capture blindly
    redemption_id = uuid4()
    with pytest.raises(HomeRegionUnreachable):
        _redeem(counter, member, network, redemption_id=redemption_id)
    assert home.ledger.get_account(member).held_minutes == 60
    with simulated(START + timedelta(seconds=anywhere.HOLD_SECONDS + 60)):
        assert anywhere.release_expired(home.ledger, member) == 1
        account = home.ledger.get_account(member)
        assert (account.balance_minutes, account.held_minutes) == (120, 0)
        with pytest.raises(HomeRegionRefused) as refused:  # the retry is answered: the hold expired
            _redeem(counter, member, network, redemption_id=redemption_id)
    assert refused.value.code == "hold_expired"
    assert home.ledger.get_account(member).balance_minutes == 120


def test_a_void_releases_the_hold_and_a_capture_after_it_is_refused(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.down.add(HOME)
    redemption_id = uuid4()
    with pytest.raises(HomeRegionUnreachable):
        _redeem(counter, member, network, redemption_id=redemption_id)
    network.down.clear()
    network.drop.add("capture")
    assert _redeem(counter, member, network, redemption_id=redemption_id).status == "authorised"
    record = anywhere.void(counter.ledger, actor=counter.counter, redemption_id=redemption_id, post=network.post)
    assert record.status == RemoteRedemption.RELEASED
    assert home.ledger.get_account(member).balance_minutes == 120
    # a capture sent after the void (a late retry) is refused with a clear code, nothing taken
    capture = anywhere.request_of(counter.ledger, record, "capture")
    answer = json.loads(anywhere.answer(home.ledger, capture))["body"]
    assert (answer["kind"], answer["code"]) == ("refused", "hold_released")
    assert home.ledger.get_account(member).balance_minutes == 120


def test_a_hold_blocks_a_move_to_another_region_until_it_is_settled(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0]
    network.lose.add("authorise")
    with pytest.raises(HomeRegionUnreachable):
        _redeem(counter, member.actor_id, network)
    home.ledger.give_consent(actor=member, member_id=member.actor_id, purpose=ConsentPurpose.TRANSFER,
                             recipient=OTHER)
    with pytest.raises(HoldPending):
        transfers.initiate(home.ledger, member_id=member.actor_id, destination=OTHER)


def _authorise_request(counter: Region, member_id: UUID, **changes: Any) -> dict[str, Any]:
    body = {"format": anywhere.REQUEST_FORMAT, "kind": "authorise", "home": HOME, "counter_region": COUNTER,
            "redemption_id": str(uuid4()), "member_id": str(member_id), "counter_id": str(counter.counter.actor_id),
            "lines": [["毛巾", 1, 30]], "minutes": 30}
    body.update(changes)
    return body


def _signed_by(ledger: Ledger, body: dict[str, Any]) -> bytes:
    return anywhere.sign_message(ledger, body)


@pytest.mark.parametrize("forgery, code", [
    ("other_regions_key", "anywhere_wrong_key"),  # C signs a request that claims to come from B
    ("unregistered_region", "anywhere_unknown_region"),
    ("wrong_home", "anywhere_wrong_home"),
    ("tampered", "anywhere_signature_invalid"),
    ("total_not_basket", "anywhere_message_invalid"),
    ("not_canonical", "anywhere_message_unreadable"),
])
def test_forged_requests_change_nothing_at_home(federation: Any, forgery: str, code: str) -> None:
    home, counter, other, _ = federation
    member = home.members[0].actor_id
    body = _authorise_request(counter, member)
    if forgery == "other_regions_key":
        message = _signed_by(other.ledger, body)
    elif forgery == "unregistered_region":
        message = _signed_by(counter.ledger, {**body, "counter_region": "110101"})
    elif forgery == "wrong_home":
        message = _signed_by(counter.ledger, {**body, "home": OTHER})
    elif forgery == "tampered":
        document = json.loads(_signed_by(counter.ledger, body))
        document["body"]["minutes"], document["body"]["lines"] = 3, [["毛巾", 1, 3]]
        message = canonical_bytes(document)
    elif forgery == "total_not_basket":
        message = _signed_by(counter.ledger, {**body, "minutes": 1})
    else:
        message = json.dumps(json.loads(_signed_by(counter.ledger, body)), indent=1).encode()
    before = _events(home.ledger)
    with pytest.raises(AnywhereRefused) as refused:
        anywhere.answer(home.ledger, message)
    assert refused.value.code == code
    assert _events(home.ledger) == before


def test_an_answer_about_another_request_is_not_taken(federation: Any) -> None:
    """A replayed old authorisation (for another redemption) does not authorise this one."""
    home, counter, _, network = federation
    member = home.members[0].actor_id
    first = _redeem(counter, member, network, quantity=1)
    old = base64.b64decode(anywhere.get_remote_redemption(counter.ledger, first.redemption_id).authorisation or "")

    def replay(url: str, body: bytes) -> tuple[int, bytes]:
        return 200, old

    redemption_id = uuid4()
    with pytest.raises(AnywhereRefused) as refused:
        anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=member, home=HOME,
                                   redemption_id=redemption_id, items=[(counter.item_id, 1)], post=replay)
    assert refused.value.code == "anywhere_answer_mismatch"
    assert home.ledger.get_account(member).balance_minutes == 90


@given(data=st.binary(max_size=600))
def test_any_bytes_get_a_named_refusal_never_a_crash(data: bytes) -> None:
    with simulated(START):
        ledger = _HOME_FOR_BYTES.ledger
        try:
            anywhere.answer(ledger, data)
        except AnywhereRefused as refused:
            assert refused.code.startswith("anywhere_")
        else:
            raise AssertionError("random bytes were answered")


def _home_for_bytes() -> Region:
    with simulated(START):
        return build_region(Ledger("memory:"), members=0)


_HOME_FOR_BYTES = _home_for_bytes()


def test_a_void_after_a_capture_whose_answer_was_lost_records_the_capture(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.lose.add("capture")
    result = _redeem(counter, member, network)
    assert result.status == "authorised"
    with pytest.raises(HoldCaptured):
        anywhere.void(counter.ledger, actor=counter.counter, redemption_id=result.redemption_id, post=network.post)
    assert anywhere.get_remote_redemption(counter.ledger, result.redemption_id).status == RemoteRedemption.CAPTURED
    assert home.ledger.get_account(member).redeemed_minutes_total == 60


# -- settlement between the two regions ----------------------------------------------------------

def test_settlement_statements_agree_both_ways_and_name_a_redemption_in_dispute(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    _redeem(counter, member, network, quantity=1)
    _redeem(counter, member, network, quantity=2)
    network.drop.add("capture")
    pending = _redeem(counter, member, network, quantity=1)  # authorised, not yet captured: in no statement
    assert pending.status == "authorised"
    from_home = settlement.make_statement(home.ledger, COUNTER)
    from_counter = settlement.make_statement(counter.ledger, HOME)
    at_counter = settlement.verify_statement(counter.ledger, from_home)
    at_home = settlement.verify_statement(home.ledger, from_counter)
    assert at_counter.ok and at_home.ok, (at_counter.disputes, at_home.disputes)
    assert (at_counter.agreed, at_counter.agreed_minutes_they_owe, at_counter.agreed_minutes_we_owe) == (2, 90, 0)
    assert (at_home.agreed_minutes_we_owe, at_home.agreed_minutes_they_owe) == (90, 0)
    body = json.loads(from_home)["body"]
    assert body["totals"] == {"as_home_minutes": 90, "as_counter_minutes": 0, "net_minutes": -90}
    assert body["checkpoint"]["size"] > max(entry[2] for entry in body["as_home"])  # every leaf in the tree
    # the capture reaches home but the counter never records it: home's statement names it in dispute
    anywhere.answer(home.ledger, anywhere.request_of(counter.ledger, anywhere.get_remote_redemption(
        counter.ledger, pending.redemption_id), "capture"))
    verdict = settlement.verify_statement(counter.ledger, settlement.make_statement(home.ledger, COUNTER))
    assert [(d.redemption_id, d.ours, d.theirs) for d in verdict.disputes] == [(str(pending.redemption_id), None, 30)]
    # once the counter takes home's answer, the two agree again
    anywhere.capture_pending(counter.ledger, counter.counter, pending.redemption_id, network.post)
    assert settlement.verify_statement(counter.ledger, settlement.make_statement(home.ledger, COUNTER)).ok


@pytest.mark.parametrize("damage, code", [
    ("checkpoint_of_another_region", "settlement_checkpoint_invalid"),
    ("other_region", "settlement_wrong_region"),
    ("forged_by_third", "settlement_wrong_key"),
    ("tampered", "settlement_signature_invalid"),
    ("garbage", "settlement_unreadable"),
])
def test_a_statement_that_does_not_verify_is_refused(federation: Any, damage: str, code: str) -> None:
    home, counter, other, network = federation
    _redeem(counter, home.members[0].actor_id, network, quantity=1)
    statement = settlement.make_statement(home.ledger, COUNTER)
    if damage == "checkpoint_of_another_region":  # signed by A, but the checkpoint is C's own
        body = json.loads(statement)["body"]
        body["checkpoint"] = json.loads(settlement.make_statement(other.ledger, HOME))["body"]["checkpoint"]
        body["checkpoint"]["size"] = max(body["checkpoint"]["size"], json.loads(statement)["body"]["checkpoint"]["size"])
        statement = anywhere.sign_message(home.ledger, body)
    elif damage == "other_region":
        statement = settlement.make_statement(home.ledger, OTHER)
    elif damage == "forged_by_third":
        body = json.loads(statement)["body"]
        statement = anywhere.sign_message(other.ledger, body)  # C claims to be A
    elif damage == "tampered":
        document = json.loads(statement)
        document["body"]["as_home"][0][1] = 1
        statement = canonical_bytes(document)
    else:
        statement = b"\x00not a statement"
    with pytest.raises(settlement.SettlementRefused) as refused:
        settlement.verify_statement(counter.ledger, statement)
    assert refused.value.code == code


def test_the_sweep_releases_expired_holds_at_home_and_retries_lost_captures_at_the_counter(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.drop.add("capture")
    retried = _redeem(counter, member, network, quantity=1)  # authorised; its capture never arrived
    network.lose.add("authorise")
    with pytest.raises(HomeRegionUnreachable):
        _redeem(counter, member, network, quantity=2)  # held at home; the counter never heard
    assert home.ledger.get_account(member).held_minutes == 90
    swept = anywhere.sweep(counter.ledger, post=network.post, actor=counter.ledger.region_actor())
    assert swept.captured == 1
    assert anywhere.get_remote_redemption(counter.ledger, retried.redemption_id).status == RemoteRedemption.CAPTURED
    early = anywhere.sweep(home.ledger)
    assert early.released == 0 and early.since > 1  # the open hold is where the next sweep starts
    with simulated(START + timedelta(seconds=anywhere.HOLD_SECONDS + 1)):
        late = anywhere.sweep(home.ledger, since=early.since)
    assert late.released == 1
    account = home.ledger.get_account(member)
    assert (account.balance_minutes, account.held_minutes, account.redeemed_minutes_total) == (90, 0, 30)
    assert anywhere.sweep(home.ledger, since=late.since).released == 0  # nothing twice


# -- home region unreachable: the counter region's offline allowance -----------------------------

def test_home_unreachable_the_counter_takes_a_bounded_amount_offline_and_home_records_what_is_owed(
        federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.down.add(HOME)
    with pytest.raises(OfflineRedemptionsOff):  # the default bound is 0: refused with a clear code
        anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=member, home=HOME,
                                   redemption_id=uuid4(), items=[(counter.item_id, 1)], post=network.post, offline=True)
    counter.ledger.set_offline_bound(actor=counter.region, minutes_per_member_day=60, reason="断网时保障兑换")
    with pytest.raises(HomeRegionUnreachable):  # the clerk did not choose to go on offline
        _redeem(counter, member, network, quantity=1)
    taken = anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=member, home=HOME,
                                       redemption_id=uuid4(), items=[(counter.item_id, 2)], post=network.post,
                                       offline=True)
    assert (taken.status, taken.minutes, taken.balance_minutes) == ("offline", 60, None)
    with pytest.raises(OfflineBoundExceeded):  # the member's day at this region is used up
        anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=member, home=HOME,
                                   redemption_id=uuid4(), items=[(counter.item_id, 1)], post=network.post, offline=True)
    assert settlement.captures_with(counter.ledger, HOME).offline_pending[0].minutes == 60  # the exposure
    # meanwhile at home the member spends most of the balance
    home.ledger.redeem(actor=home.counter, member_id=member, redemption_id=uuid4(), items=[(home.item_id, 3)])
    assert home.ledger.get_account(member).balance_minutes == 30
    network.down.clear()
    swept = anywhere.sweep(counter.ledger, post=network.post, actor=counter.ledger.region_actor())
    assert swept.captured == 1
    record = anywhere.get_remote_redemption(counter.ledger, taken.redemption_id)
    assert (record.status, record.owed_minutes) == (RemoteRedemption.CAPTURED, 30)
    account = home.ledger.get_account(member)
    assert (account.balance_minutes, account.owed_minutes, account.redeemed_minutes_total) == (0, 30, 150)
    # presented again (a lost answer): the same signed answer, nothing taken twice
    again = anywhere.answer(home.ledger, base64.b64decode(record.offline_request or ""))
    assert again == base64.b64decode(record.capture or "")
    assert home.ledger.get_account(member).owed_minutes == 30
    # both sides' settlement agree, the offline redemption included
    assert settlement.verify_statement(counter.ledger, settlement.make_statement(home.ledger, COUNTER)).ok
    assert settlement.verify_statement(home.ledger, settlement.make_statement(counter.ledger, HOME)).ok
    assert not settlement.captures_with(counter.ledger, HOME).offline_pending


def test_the_read_models_and_the_audit_agree_with_holds_captures_releases_and_offline(tmp_path: Any) -> None:
    with simulated(START):
        home = build_region(Ledger(f"sqlite:///{tmp_path / 'home.db'}"), members=1)
        root = home.ledger._signers[home.ledger.province_actor().actor_id][2]
        other = Ledger("memory:")
        other.init_region(code=COUNTER, name="区", province_key=root)
        counter = organise_region(other)
        transfers.register_peer(home.ledger, transfers.region_card(other, address=f"http://{COUNTER}"))
        transfers.register_peer(other, transfers.region_card(home.ledger, address=f"http://{HOME}"))
        other.set_offline_bound(actor=counter.region, minutes_per_member_day=60, reason="断网时保障兑换")
        network = Network({HOME: home, COUNTER: counter})
        member = home.members[0].actor_id
        serve(home, home.members[0], 100)
        _redeem(counter, member, network, quantity=1)  # held and captured
        network.drop.add("capture")
        voided = _redeem(counter, member, network, quantity=1)  # held, then voided
        anywhere.void(other, actor=counter.counter, redemption_id=voided.redemption_id, post=network.post)
        network.down.add(HOME)
        anywhere.redeem_at_counter(other, actor=counter.counter, member_id=member, home=HOME, redemption_id=uuid4(),
                                   items=[(counter.item_id, 2)], post=network.post, offline=True)
        home.ledger.redeem(actor=home.counter, member_id=member, redemption_id=uuid4(), items=[(home.item_id, 1)])
        network.down.clear()
        anywhere.sweep(other, post=network.post, actor=other.region_actor())
        account = home.ledger.get_account(member)
        assert (account.balance_minutes, account.owed_minutes, account.held_minutes) == (0, 20, 0)
        views = Views(home.ledger)
        views.rebuild()
        views.engine.dispose()
        report = audit(home.ledger, workers=0)
        assert report.ok and not report.incomplete, (report.differences, report.incomplete)
        assert report.views_compared == "yes", report
        home.ledger.close()
