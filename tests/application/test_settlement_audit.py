"""通存通兑 settlement checked by an auditor offline (issue #14): each region's evidence (its signed
statement, the capture event behind every entry and the key events of every signer, each proven in its
log under the statement's checkpoint), checked against the other's with the root public keys alone.
Fail closed and total: a lie, a tampered byte, a missing proof, another root — each a named finding."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import anywhere, settlement
from ledger.signing import keys as ed25519
from ledger.signing.canonical import canonical_bytes
from ledger.domain.anywhere import ANSWER_FORMAT
from ledger.signing.message import Signed, parse_message
from ledger.verification.settlement import SettlementAudit, _check_answers, audit_evidence
from tests.application import test_anywhere
from tests.application.test_anywhere import COUNTER, HOME, _redeem

federation = test_anywhere.federation  # three regions, each the others' registered peer


def _root(region: Any) -> bytes:
    return ed25519.unb64(region.ledger.root_public_key())


def _settled(federation: Any) -> tuple[Any, Any, bytes, bytes, bytes]:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    _redeem(counter, member, network, quantity=1)
    _redeem(counter, member, network, quantity=2)
    return (home, counter, settlement.make_evidence(home.ledger, COUNTER),
            settlement.make_evidence(counter.ledger, HOME), _root(home))


def test_both_regions_evidence_verifies_offline_and_agrees(federation: Any) -> None:
    home, counter, at_home, at_counter, root = _settled(federation)
    audit = audit_evidence(at_home, at_counter, [root])
    assert audit.ok, [str(f) for f in audit.findings]
    assert (audit.agreed, audit.agreed_minutes) == (2, {HOME: 90, COUNTER: 0})
    sides = {side.region: side for side in audit.sides}
    assert (sides[HOME].as_home_minutes, sides[HOME].proven) == (90, 2)
    assert (sides[COUNTER].as_counter_minutes, sides[COUNTER].proven) == (90, 2)
    # the order of the two files does not matter
    assert audit_evidence(at_counter, at_home, [root]).ok


def test_a_capture_one_side_never_recorded_is_a_named_disagreement(federation: Any) -> None:
    home, counter, _, network = federation
    member = home.members[0].actor_id
    _redeem(counter, member, network, quantity=1)
    network.drop.add("capture")
    pending = _redeem(counter, member, network, quantity=2)
    anywhere.answer(home.ledger, anywhere.request_of(counter.ledger, anywhere.get_remote_redemption(
        counter.ledger, pending.redemption_id), "capture"))  # home captured; the counter never heard
    audit = audit_evidence(settlement.make_evidence(home.ledger, COUNTER),
                           settlement.make_evidence(counter.ledger, HOME), [_root(home)])
    assert not audit.findings  # both sides' evidence is true to its own log
    assert not audit.ok and [(d.redemption_id, d.home, d.at_home, d.at_counter) for d in audit.disagreements] == [
        (str(pending.redemption_id), HOME, 60, None)]


def _document(evidence: bytes) -> dict[str, Any]:
    return json.loads(evidence)


def _resign(region: Any, evidence: bytes, change: Any) -> bytes:
    """The region re-signs its own statement after `change`: a lie in its own name."""
    document = _document(evidence)
    body = json.loads(document["statement"])["body"]
    change(body)
    document["statement"] = anywhere.sign_message(region.ledger, body).decode()
    return canonical_bytes(document)


def _edit_event(evidence: bytes, edit: Any) -> bytes:
    document = _document(evidence)
    edit(document["events"])
    return canonical_bytes(document)


def _flip_last_byte(text: str) -> str:
    data = bytearray(base64.b64decode(text))
    data[-1] ^= 1
    return base64.b64encode(bytes(data)).decode()


def _capture_index(evidence: bytes) -> int:
    return json.loads(_document(evidence)["statement"])["body"]["as_home"][0][2]


def _lie_about_minutes(body: dict[str, Any]) -> None:
    body["as_home"][0][1] += 30
    body["totals"]["as_home_minutes"] += 30
    body["totals"]["net_minutes"] -= 30


DAMAGES = {
    "garbage": (lambda h, c, e: b"\x89PNG\r\n", "evidence_unreadable"),
    "not canonical": (lambda h, c, e: json.dumps(_document(e), indent=1).encode(), "evidence_unreadable"),
    "statement altered": (lambda h, c, e: canonical_bytes(dict(_document(e), statement=_document(e)["statement"]
                                                               .replace('"as_home_minutes":90', '"as_home_minutes":91'))),
                          "statement_signature_invalid"),
    "a lie in its own signed statement": (lambda h, c, e: _resign(h, e, _lie_about_minutes), "entry_unproven"),
    "an event altered": (lambda h, c, e: _edit_event(e, lambda events: next(
        ev.update(event=_flip_last_byte(ev["event"])) for ev in events if ev["index"] == _capture_index(e))),
        "event_not_in_log"),
    "a proof altered": (lambda h, c, e: _edit_event(e, lambda events: next(
        ev.update(proof=[_flip_last_byte(ev["proof"][0])] + ev["proof"][1:]) for ev in events
        if ev["index"] == _capture_index(e))), "event_not_in_log"),
    "an event left out": (lambda h, c, e: _edit_event(e, lambda events: events.remove(next(
        ev for ev in events if ev["index"] == _capture_index(e)))), "entry_unproven"),
    "the key chain left out": (lambda h, c, e: _edit_event(e, lambda events: events.__setitem__(
        slice(None), [ev for ev in events if ev["index"] in {
            entry[2] for entry in json.loads(_document(e)["statement"])["body"]["as_home"]}])), "key_untrusted"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_evidence_is_a_named_finding_never_ok(federation: Any, damage: str) -> None:
    home, counter, at_home, at_counter, root = _settled(federation)
    mangle, code = DAMAGES[damage]
    audit = audit_evidence(mangle(home, counter, at_home), at_counter, [root])
    assert not audit.ok and code in {finding.code for finding in audit.findings}, [str(f) for f in audit.findings]


def test_another_root_or_no_root_trusts_nothing(federation: Any) -> None:
    _, _, at_home, at_counter, _ = _settled(federation)
    stranger = ed25519.public_bytes(ed25519.generate().public_key())
    audit = audit_evidence(at_home, at_counter, [stranger])
    assert not audit.ok and {f.code for f in audit.findings} == {"key_untrusted"}
    assert [f.code for f in audit_evidence(at_home, at_counter, []).findings] == ["root_key_missing"]


def test_evidence_of_a_third_region_is_not_a_pair(federation: Any) -> None:
    home, counter, at_home, _, root = _settled(federation)
    third = federation[2]
    audit = audit_evidence(at_home, settlement.make_evidence(third.ledger, HOME), [root])
    assert not audit.ok and [f.code for f in audit.findings] == ["evidence_not_a_pair"]
    assert [f.code for f in audit_evidence(at_home, at_home, [root]).findings] == ["evidence_not_a_pair"]


def test_an_answer_not_signed_by_the_home_region_is_caught(federation: Any) -> None:
    """What the counter region kept as home's "captured" answer must be signed by home's region key, as
    home's own evidence certifies it: an answer in home's words under another key, or altered, is named."""
    home, counter, at_home, at_counter, root = _settled(federation)
    audit = audit_evidence(at_home, at_counter, [root])
    assert audit.ok
    home_side = next(side for side in audit.sides if side.region == HOME)
    counter_side = next(side for side in audit.sides if side.region == COUNTER)
    redemption_id, answer, kept_at = counter_side.answers[0]
    forged = parse_message(anywhere.sign_message(counter.ledger, answer.body), ANSWER_FORMAT, bytes_max=65536)
    altered = Signed(dict(answer.body, minutes=999), answer.key_id, answer.signature, answer.raw)
    for bad, code in ((forged, "answer_key_untrusted"), (altered, "answer_signature_invalid")):
        counter_side.answers = [(redemption_id, bad, kept_at)]
        checked = SettlementAudit()
        _check_answers(counter_side, home_side, checked)
        assert [finding.code for finding in checked.findings] == [code]


_EVIDENCE: dict[int, tuple[bytes, bytes, bytes]] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_bytes_give_a_named_finding_never_a_traceback(federation: Any, data: Any) -> None:
    """Total: random bytes, or the real evidence with bytes changed, inserted or cut, is never ok and
    never raises."""
    home, counter, _, network = federation
    if id(home) not in _EVIDENCE:  # made once for all the examples of this run
        _redeem(counter, home.members[0].actor_id, network, quantity=1)
        _EVIDENCE[id(home)] = (settlement.make_evidence(home.ledger, COUNTER),
                               settlement.make_evidence(counter.ledger, HOME), _root(home))
    at_home, at_counter, root = _EVIDENCE[id(home)]
    choice = data.draw(st.sampled_from(["random", "flip", "cut", "insert"]))
    if choice == "random":
        mangled = data.draw(st.binary(max_size=512))
    else:
        at = data.draw(st.integers(0, len(at_home) - 1))
        if choice == "flip":
            mangled = at_home[:at] + bytes([at_home[at] ^ data.draw(st.integers(1, 255))]) + at_home[at + 1:]
        elif choice == "cut":
            mangled = at_home[:at]
        else:
            mangled = at_home[:at] + data.draw(st.binary(min_size=1, max_size=8)) + at_home[at:]
    audit = audit_evidence(mangled, at_counter, [root])
    if mangled != at_home:
        assert not audit.ok and audit.findings
