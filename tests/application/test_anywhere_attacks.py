"""通存通兑 under attack (issue #14): what an adversary or a careless operator sends to a home region, a
counter region and the settlement, and what each must answer — a named refusal or the right state,
never a traceback, a double spend or a balance below zero."""

from __future__ import annotations

import contextvars
import json
import threading
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from ledger.application import anywhere, settlement, transfers
from ledger.application.anywhere import AnywhereRefused, HomeRegionRefused
from ledger.demo import simulated
from ledger.domain.anywhere import RemoteRedemption
from ledger.domain.values import ConsentPurpose
from ledger.signing.canonical import canonical_bytes
from tests.scenario import serve
from tests.application import test_anywhere
from tests.application.test_anywhere import COUNTER, HOME, OTHER, START, _authorise_request, _events, _redeem

federation = test_anywhere.federation  # three regions, each the others' registered peer


def _answer_body(message: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message)["body"]
    return body


def test_a_request_for_one_home_replayed_to_another_home_is_refused(federation: Any) -> None:
    home, counter, other, network = federation
    message = anywhere.sign_message(counter.ledger, _authorise_request(counter, home.members[0].actor_id))
    before = _events(other.ledger)
    with pytest.raises(AnywhereRefused) as refused:
        anywhere.answer(other.ledger, message)
    assert refused.value.code == "anywhere_wrong_home" and _events(other.ledger) == before


def test_a_request_naming_the_home_region_as_its_counter_is_refused(federation: Any) -> None:
    home, counter, _, _ = federation
    body = _authorise_request(counter, home.members[0].actor_id, counter_region=HOME)
    before = _events(home.ledger)
    for signer in (home.ledger, counter.ledger):
        with pytest.raises(AnywhereRefused) as refused:
            anywhere.answer(home.ledger, anywhere.sign_message(signer, body))
        assert refused.value.code == "anywhere_unknown_region"
    assert _events(home.ledger) == before


@pytest.mark.parametrize("message", [
    b"[" * 60_000 + b"]" * 60_000,  # too big
    b"[" * 30_000 + b"]" * 30_000,  # deeply nested, within the size
    b'{"body":' * 5000 + b"1" + b"}" * 5000,
    b'{"body":{},"key_id":"x","signature":"' + b"A" * 60_000 + b'"}',
    b'{"body":{"format":"timeledger-anywhere-request/v1","minutes":1e400},"key_id":"x","signature":""}',
    b'{"body":{"format":"timeledger-anywhere-request/v1","minutes":' + b"9" * 5000 + b'},"key_id":"x","signature":""}',
    b'{"body":{"format":"timeledger-anywhere-request/v1"},"key_id":"x","signature":"\xe4\xb8\xad"}',
    b'{"body":{"format":"timeledger-anywhere-request/v1"},"key_id":"x","signature":null}',
    b'{"body":{"format":"timeledger-anywhere-request/v1"},"key_id":["x"],"signature":""}',
    b'{"body":{"format":"timeledger-anywhere-request/v1"},"key_id":"x","signature":"\\ud800"}',
    b'{"body":{"format":"timeledger-anywhere-request/v1"},"key_id":"x","signature":"", "body":1}',
])
def test_huge_or_nested_or_odd_json_gets_a_named_refusal(federation: Any, message: bytes) -> None:
    home = federation[0]
    with pytest.raises(AnywhereRefused) as refused:
        anywhere.answer(home.ledger, message)
    assert refused.value.code.startswith("anywhere_message_")


ODD_FIELDS = [
    ("counter_region", ["320104"]), ("counter_region", None), ("home", {"a": 1}), ("kind", ["authorise"]),
    ("redemption_id", 5), ("member_id", "not-a-uuid"), ("counter_id", None), ("minutes", True),
    ("minutes", 2**53 - 1), ("lines", [["毛巾", 1, 30]] * 51), ("lines", "毛巾"), ("lines", [["毛巾", "1", 30]]),
    ("lines", [["", 1, 30]]), ("lines", [["毛巾\u202e", 1, 30]]), ("lines", [["毛巾\x00", 1, 30]]),
    ("lines", [["毛巾", 0, 30]]), ("lines", [["毛巾", 1, -30]]),
]


def test_a_signed_request_with_odd_fields_is_refused_and_nothing_changes(federation: Any) -> None:
    home, counter, _, _ = federation
    before = _events(home.ledger)
    for field, value in ODD_FIELDS:
        body = {**_authorise_request(counter, home.members[0].actor_id), field: value}
        with pytest.raises(AnywhereRefused) as refused:
            anywhere.answer(home.ledger, anywhere.sign_message(counter.ledger, body))
        assert refused.value.code in ("anywhere_message_invalid", "anywhere_unknown_region", "anywhere_wrong_home")
    assert _events(home.ledger) == before


def test_an_item_the_counters_catalogue_accepts_is_redeemed_across_regions(federation: Any) -> None:
    """The home region reads a basket line's name by the rule the counter's catalogue lists it under:
    a name one region accepts (a full-width space, a tab, right-to-left script) is not refused by another."""
    home, counter, _, network = federation
    names = ["大米\u30005kg", "毛巾\tA", "أرز", "שמן", "米\u00a0面"]
    for name in names:
        item_id = counter.ledger.list_catalogue_item(actor=counter.community, name=name, price_minutes=10)
        result = anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=home.members[0].actor_id,
                                            home=HOME, redemption_id=uuid4(), items=[(item_id, 1)], post=network.post)
        assert (result.status, result.minutes) == ("captured", 10)
    assert home.ledger.get_account(home.members[0].actor_id).balance_minutes == 120 - 10 * len(names)


def _request(counter: Any, home: Any, redemption_id: Any, kind: str, minutes: int, signer: Any = None,
             counter_region: str = COUNTER) -> bytes:
    body = {"format": anywhere.REQUEST_FORMAT, "kind": kind, "home": HOME, "counter_region": counter_region,
            "redemption_id": str(redemption_id), "member_id": str(home.members[0].actor_id),
            "counter_id": str(counter.counter.actor_id), "minutes": minutes}
    if kind == "authorise":
        body["lines"] = [["毛巾", minutes // 30, 30]]
    return anywhere.sign_message((signer or counter).ledger, body)


def test_a_hold_id_equal_to_a_local_redemption_id_and_back_is_refused(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0]
    local = home.ledger.redeem(actor=home.counter, member_id=member.actor_id, redemption_id=uuid4(),
                               items=[(home.item_id, 1)])
    answer = _answer_body(anywhere.answer(home.ledger, _request(counter, home, local.redemption_id, "authorise", 30)))
    assert (answer["kind"], answer["code"]) == ("refused", "redemption_exists_with_different_terms")
    held = uuid4()
    network.drop.add("capture")
    _redeem(counter, member.actor_id, network, quantity=1, redemption_id=held)
    with pytest.raises(Exception) as refused:
        home.ledger.redeem(actor=home.counter, member_id=member.actor_id, redemption_id=held,
                           items=[(home.item_id, 1)])
    assert getattr(refused.value, "code", "") == "redemption_exists_with_different_terms"
    account = home.ledger.get_account(member.actor_id)
    assert (account.balance_minutes, account.held_minutes) == (60, 30)


def test_a_capture_or_void_that_does_not_match_the_hold_changes_nothing(federation: Any) -> None:
    home, counter, other, network = federation
    member = home.members[0].actor_id
    network.drop.add("capture")
    held = _redeem(counter, member, network, quantity=2)
    before = _events(home.ledger)
    for message, code in (
            (_request(counter, home, held.redemption_id, "capture", 30), "redemption_exists_with_different_terms"),
            (_request(counter, home, held.redemption_id, "capture", 60, signer=other, counter_region=OTHER),
             "hold_not_found"),
            (_request(counter, home, held.redemption_id, "void", 60, signer=other, counter_region=OTHER),
             "hold_not_found"),
            (_request(counter, home, uuid4(), "capture", 60), "hold_not_found")):
        answer = _answer_body(anywhere.answer(home.ledger, message))
        assert (answer["kind"], answer["code"]) == ("refused", code)
    assert _events(home.ledger) == before
    assert home.ledger.get_account(member).held_minutes == 60


def test_a_member_frozen_for_a_transfer_or_moved_out_gets_no_hold(federation: Any) -> None:
    home, counter, other, network = federation
    member = home.members[0]
    home.ledger.give_consent(actor=member, member_id=member.actor_id, purpose=ConsentPurpose.TRANSFER,
                             recipient=OTHER)
    transfers.initiate(home.ledger, member_id=member.actor_id, destination=OTHER)
    with pytest.raises(HomeRegionRefused) as refused:
        _redeem(counter, member.actor_id, network, quantity=1)
    assert refused.value.code == "member_frozen"
    assert home.ledger.get_account(member.actor_id).held_minutes == 0


def test_releasing_a_hold_repays_what_is_owed_first(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0]
    network.drop.add("capture")
    held = _redeem(counter, member.actor_id, network, quantity=4)  # all 120 minutes held
    session = serve(home, member, 30)
    home.ledger.redeem(actor=home.counter, member_id=member.actor_id, redemption_id=uuid4(),
                       items=[(home.item_id, 1)])
    home.ledger.uphold_complaint(actor=home.community, session_id=session, reason="投诉属实")
    account = home.ledger.get_account(member.actor_id)
    assert (account.balance_minutes, account.owed_minutes, account.held_minutes) == (0, 30, 120)
    anywhere.void(counter.ledger, actor=counter.counter, redemption_id=held.redemption_id, post=network.post)
    account = home.ledger.get_account(member.actor_id)
    assert (account.balance_minutes, account.owed_minutes, account.held_minutes) == (90, 0, 0)


def test_an_expired_hold_is_released_whatever_the_clock_did_and_never_captured(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    network.drop.add("capture")
    held = _redeem(counter, member, network, quantity=1)
    with simulated(START - timedelta(days=1)):  # a clock set back: nothing expires early
        assert anywhere.sweep(home.ledger).released == 0
        answer = _answer_body(anywhere.answer(home.ledger, anywhere.request_of(
            counter.ledger, anywhere.get_remote_redemption(counter.ledger, held.redemption_id), "capture")))
        assert answer["kind"] == "captured"  # within its time by this clock: the goods were given
    network.drop.add("capture")
    late = _redeem(counter, member, network, quantity=1)
    with simulated(START + timedelta(seconds=anywhere.HOLD_SECONDS + 1)):
        swept = anywhere.sweep(home.ledger)
        assert swept.released == 1
        with simulated(START):  # set back after the release: the released hold stays released
            record = anywhere.capture_pending(counter.ledger, counter.counter, late.redemption_id, network.post)
    assert record.status == RemoteRedemption.RELEASED
    account = home.ledger.get_account(member)
    assert (account.balance_minutes, account.held_minutes, account.redeemed_minutes_total) == (90, 0, 30)


def test_concurrent_capture_and_void_of_one_hold_settle_it_once(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    writer = threading.Lock()  # the server's single writer
    for _ in range(5):
        network.drop.add("capture")
        held = _redeem(counter, member, network, quantity=1)
        record = anywhere.get_remote_redemption(counter.ledger, held.redemption_id)
        messages = [anywhere.request_of(counter.ledger, record, kind) for kind in ("capture", "void") * 4]
        answers: list[bytes] = []
        start = threading.Barrier(len(messages))

        def send(message: bytes) -> None:
            checked = anywhere.check_request(home.ledger, message)  # outside the writer, as the server does
            start.wait()
            with writer:
                answers.append(anywhere.answer(home.ledger, message, checked))

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(send, m)) for m in messages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        kinds = {_answer_body(a)["kind"] for a in answers}
        assert kinds in ({"captured", "refused"}, {"released", "refused"})
        assert home.ledger.get_account(member).held_minutes == 0
    account = home.ledger.get_account(member)
    assert account.balance_minutes + account.redeemed_minutes_total == 120 and account.balance_minutes >= 0


# -- settlement under attack --------------------------------------------------------------------

def _statement_body(statement: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(statement)["body"]
    return body


STATEMENT_CHANGES = [
    (lambda b: b.update(as_home=b["as_home"] * 2), "settlement_unreadable"),  # duplicate ids
    (lambda b: b["as_home"][0].__setitem__(1, -30), "settlement_unreadable"),
    (lambda b: b["as_home"][0].__setitem__(1, 2**53 + 1), "settlement_unreadable"),
    (lambda b: b["as_home"][0].__setitem__(2, -1), "settlement_unreadable"),  # a leaf index is from 0
    (lambda b: b.update(as_counter={"a": 1}), "settlement_unreadable"),
    (lambda b: b["totals"].update(as_home_minutes=1), "settlement_totals_mismatch"),
    (lambda b: b["totals"].update(net_minutes=0), "settlement_totals_mismatch"),
    (lambda b: b.update(totals=None), "settlement_totals_mismatch"),
    (lambda b: b["as_home"][0].__setitem__(2, b["checkpoint"]["size"]), "settlement_unreadable"),  # not in the tree
    (lambda b: b.update(checkpoint="x"), "settlement_unreadable"),
    (lambda b: b.update({"from": COUNTER}), "settlement_unknown_region"),  # its own statement back to itself
]


def test_a_signed_statement_with_odd_contents_is_refused_by_name(federation: Any) -> None:
    home, counter, _, network = federation
    _redeem(counter, home.members[0].actor_id, network, quantity=1)
    made = settlement.make_statement(home.ledger, COUNTER)
    for change, code in STATEMENT_CHANGES:
        body = _statement_body(made)
        change(body)
        try:
            statement = anywhere.sign_message(home.ledger, body)
        except ValueError:  # no canonical form: the bytes as an attacker would send them
            statement = canonical_bytes({"body": {}, "key_id": "", "signature": ""})
        with pytest.raises(settlement.SettlementRefused) as refused:
            settlement.verify_statement(counter.ledger, statement)
        assert refused.value.code == code, body


def test_a_statement_between_another_pair_of_regions_is_refused(federation: Any) -> None:
    home, counter, other, network = federation
    _redeem(other, home.members[0].actor_id, network, quantity=1)
    with pytest.raises(settlement.SettlementRefused) as refused:
        settlement.verify_statement(counter.ledger, settlement.make_statement(home.ledger, OTHER))
    assert refused.value.code == "settlement_wrong_region"
    with pytest.raises(settlement.SettlementRefused) as refused:
        settlement.verify_statement(home.ledger, settlement.make_statement(counter.ledger, counter.ledger.region_code)
                                    if False else anywhere.sign_message(counter.ledger, {
                                        **_statement_body(settlement.make_statement(other.ledger, HOME)),
                                        "from": OTHER}))
    assert refused.value.code == "settlement_wrong_key"


def test_a_home_that_will_not_read_the_request_is_not_reported_as_down(federation: Any) -> None:
    """A careless operator: home never registered this region (or holds an old key of it) and answers
    422 anywhere_unknown_region. The counter is told so by name — not "unreachable, retry later" — and
    nothing is recorded; a home that is really down (503, 429) is still retried."""
    home, counter, _, _ = federation

    def answering(status: int, body: bytes) -> Any:
        return lambda url, message: (status, body)

    redemption_id = uuid4()
    for status, body, expected in (
            (422, b'{"code":"anywhere_unknown_region","detail":"x"}', "anywhere_unknown_region"),
            (403, b"<html>forbidden</html>", "unknown"),
            (400, b'{"code":"\\u202eevil"}', "unknown")):
        with pytest.raises(anywhere.HomeRegionRejected) as rejected:
            anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=home.members[0].actor_id,
                                       home=HOME, redemption_id=redemption_id, items=[(counter.item_id, 1)],
                                       post=answering(status, body))
        assert (rejected.value.code, rejected.value.home_code) == ("home_region_rejected_request", expected)
    for status in (429, 503):
        with pytest.raises(anywhere.HomeRegionUnreachable):
            anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=home.members[0].actor_id,
                                       home=HOME, redemption_id=redemption_id, items=[(counter.item_id, 1)],
                                       post=answering(status, b""))
    assert not counter.ledger._exists(RemoteRedemption.create_id(redemption_id))


def test_two_baskets_racing_under_one_redemption_id_do_not_both_give_goods(federation: Any) -> None:
    """Two clerks (or one double-submitting with another basket) send the same redemption id at once:
    the second basket's request overtakes the first on the wire. Home holds one basket; the clerk of the
    other must be refused, never told "authorised" on the strength of the first one's record."""
    home, counter, _, network = federation
    member = home.members[0].actor_id
    redemption_id = uuid4()
    other_basket: list[anywhere.RemoteResult] = []

    def overtaken(url: str, message: bytes) -> tuple[int, bytes]:
        if not other_basket:  # while basket 1 is on the wire, basket 2 goes through first
            other_basket.append(_redeem(counter, member, network, quantity=2, redemption_id=redemption_id))
        return network.post(url, message)

    with pytest.raises(Exception) as refused:
        anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=member, home=HOME,
                                   redemption_id=redemption_id, items=[(counter.item_id, 1)], post=overtaken)
    assert getattr(refused.value, "code", "") == "redemption_exists_with_different_terms"
    assert (other_basket[0].status, other_basket[0].minutes) == ("captured", 60)
    assert home.ledger.get_account(member).balance_minutes == 60


def test_a_statement_longer_than_a_redemption_message_still_verifies(federation: Any) -> None:
    """A statement is cumulative: after a few thousand captures it is far longer than a 通存通兑
    message may be (64 KiB). It is read under its own bound (refused past it), not the message's."""
    home, counter, _, network = federation
    _redeem(counter, home.members[0].actor_id, network, quantity=1)
    body = _statement_body(settlement.make_statement(home.ledger, COUNTER))
    position = body["as_home"][0][2]
    extra = [[str(uuid4()), 30, position] for _ in range(2000)]
    body["as_home"] += extra
    body["totals"] = {"as_home_minutes": 30 * 2001, "as_counter_minutes": 0, "net_minutes": -30 * 2001}
    statement = anywhere.sign_message(home.ledger, body)
    assert len(statement) > anywhere.MESSAGE_BYTES_MAX
    verdict = settlement.verify_statement(counter.ledger, statement)
    assert (verdict.agreed, len(verdict.disputes)) == (1, 2000)
    with pytest.raises(settlement.SettlementRefused) as refused:
        settlement.verify_statement(counter.ledger, b" " * (settlement.STATEMENT_BYTES_MAX + 1))
    assert refused.value.code == "settlement_unreadable"


def test_a_hold_whose_time_ran_out_does_not_keep_a_member_from_moving(federation: Any) -> None:
    """No sweep has run yet (a service restarted, a region run from the command line): a hold past its
    time is released by the move itself, and the move carries the whole balance."""
    home, counter, _, network = federation
    member = home.members[0]
    network.lose.add("authorise")
    with pytest.raises(anywhere.HomeRegionUnreachable):
        _redeem(counter, member.actor_id, network)
    home.ledger.give_consent(actor=member, member_id=member.actor_id, purpose=ConsentPurpose.TRANSFER,
                             recipient=OTHER)
    with simulated(START + timedelta(seconds=anywhere.HOLD_SECONDS + 1)):
        transfer_id = transfers.initiate(home.ledger, member_id=member.actor_id, destination=OTHER)
    account = home.ledger.get_account(member.actor_id)
    assert (account.held_minutes, account.frozen_by) == (0, transfer_id)
    assert transfers.get_transfer(home.ledger, transfer_id).balance_minutes == 120
