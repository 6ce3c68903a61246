"""通存通兑 under attack (issue #14): what an adversary or a careless operator sends to a home region, a
counter region and the settlement, and what each must answer — a named refusal or the right state,
never a traceback, a double spend or a balance below zero."""

from __future__ import annotations

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
from tests.application.test_anywhere import (  # noqa: F401  (the fixture)
    COUNTER,
    HOME,
    OTHER,
    START,
    _authorise_request,
    _events,
    _redeem,
    federation,
)


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


@pytest.mark.parametrize("field, value", [
    ("counter_region", ["320104"]), ("counter_region", None), ("home", {"a": 1}), ("kind", ["authorise"]),
    ("redemption_id", 5), ("member_id", "not-a-uuid"), ("counter_id", None), ("minutes", True),
    ("minutes", 2**53 - 1), ("lines", [["毛巾", 1, 30]] * 51), ("lines", "毛巾"), ("lines", [["毛巾", "1", 30]]),
    ("lines", [["", 1, 30]]), ("lines", [["毛巾\u202e", 1, 30]]), ("lines", [["毛巾\x00", 1, 30]]),
    ("lines", [["毛巾", 0, 30]]), ("lines", [["毛巾", 1, -30]]),
])
def test_a_signed_request_with_odd_fields_is_refused_and_nothing_changes(federation: Any, field: str,
                                                                         value: Any) -> None:
    home, counter, _, _ = federation
    body = {**_authorise_request(counter, home.members[0].actor_id), field: value}
    before = _events(home.ledger)
    with pytest.raises(AnywhereRefused) as refused:
        anywhere.answer(home.ledger, anywhere.sign_message(counter.ledger, body))
    assert refused.value.code in ("anywhere_message_invalid", "anywhere_unknown_region", "anywhere_wrong_home")
    assert _events(home.ledger) == before


@pytest.mark.parametrize("name", ["大米\u30005kg", "毛巾\tA", "أرز", "שמן", "米\u00a0面"])
def test_an_item_the_counters_catalogue_accepts_is_redeemed_across_regions(federation: Any, name: str) -> None:
    """The home region reads a basket line's name by the rule the counter's catalogue lists it under:
    a name one region accepts (a full-width space, a tab, right-to-left script) is not refused by another."""
    home, counter, _, network = federation
    item_id = counter.ledger.list_catalogue_item(actor=counter.community, name=name, price_minutes=10)
    result = anywhere.redeem_at_counter(counter.ledger, actor=counter.counter, member_id=home.members[0].actor_id,
                                        home=HOME, redemption_id=uuid4(), items=[(item_id, 1)], post=network.post)
    assert (result.status, result.minutes) == ("captured", 10)
    assert home.ledger.get_account(home.members[0].actor_id).balance_minutes == 110
