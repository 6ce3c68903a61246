"""The faster `verify_store` decides exactly as the strict statement parser does, and never crashes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.storage.database import parse_database_url
from ledger.storage.raw_events import RawEvent, iter_raw_events
from ledger.signing.canonical import CanonicalError, _check
from ledger.signing.statement import EnvelopeError, parse_signed_bytes, unpack
from ledger.verification.store import _in_subset, _parse, verify_store
from tests.scenario import build_region, redeem, serve

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=True) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300)
@given(JSON)
def test_the_subset_walk_agrees_with_the_canonical_check(value) -> None:
    try:
        _check(value, "$")
        accepted = True
    except CanonicalError:
        accepted = False
    assert _in_subset(value) is accepted


@pytest.fixture(scope="module")
def envelopes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RawEvent]]:
    path = tmp_path_factory.mktemp("fast") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    region = build_region(ledger, members=1)
    serve(region, region.members[0], 90)
    redeem(region, region.members[0])
    root = region.root_public_key
    rows = list(iter_raw_events(ledger.database, recorder=ledger.recorder, order="position"))
    ledger.close()
    return path, rows, root


def _strict(raw: RawEvent) -> object:
    try:
        signature, signed_bytes = unpack(raw.state)
        return parse_signed_bytes(signed_bytes, strict=True)
    except (EnvelopeError, ValueError) as error:  # UnicodeDecodeError and CanonicalError are ValueErrors
        return type(error)


def _fast(raw: RawEvent) -> object:
    try:
        return _parse(raw)[2]
    except EnvelopeError as error:
        return type(error)


@settings(max_examples=200)
@given(pick=st.integers(min_value=0), offset=st.integers(min_value=0), bit=st.integers(0, 7),
       replacement=st.sampled_from([None, b"1.5", b"1e3", b"NaN", b"9007199254740993", "\U0001f600".encode()]))
def test_the_fast_parse_accepts_exactly_what_the_strict_parse_accepts(envelopes, pick, offset, bit,
                                                                      replacement) -> None:
    _, rows, _ = envelopes
    raw = rows[pick % len(rows)]
    state = bytearray(raw.state)
    if replacement is None:
        state[offset % len(state)] ^= 1 << bit
    else:  # an out-of-subset value (or key) first in the payload, where the canonical order allows it
        entry = b'"' + replacement + b'":1,' if replacement.startswith(b"\xf0") else b'"a":' + replacement + b","
        state = bytearray(bytes(state).replace(b'"payload":{', b'"payload":{' + entry, 1))
    mutated = RawEvent(raw.position, raw.originator_id, raw.originator_version, raw.topic, bytes(state))
    strict, fast = _strict(mutated), _fast(mutated)
    if isinstance(strict, type):
        assert fast is EnvelopeError  # rejected by both (the fast path never raises anything else)
    else:
        assert fast == strict


def test_verify_store_names_an_event_whose_prefix_is_not_utf8(envelopes, tmp_path: Path) -> None:
    path, rows, root = envelopes
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    for suffix in ("-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            Path(f"{copy}{suffix}").write_bytes(Path(f"{path}{suffix}").read_bytes())
    target = rows[-1]
    state = bytearray(target.state)
    state[68 + len(b"timeledger/v1\n320102\n")] = 0xC5  # the event type's first byte: invalid UTF-8
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (bytes(state), target.position))
    for workers in (0, 2):
        report = verify_store(parse_database_url(f"sqlite:///{copy}"), root_public_key=root, region_code="320102",
                              workers=workers)
        assert [p.position for p in report.problems] == [target.position]
        assert "not a valid signed statement" in report.problems[0].reason


def test_a_signature_memo_skips_only_byte_identical_verifications(envelopes, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifying a store again with the memo of the last pass (the torture's verify after every restart)
    repeats no Ed25519 arithmetic for unchanged rows, and still finds a signature changed in between."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ledger.verification.store import SignatureMemo

    source, rows, root = envelopes
    path = tmp_path / "copy.db"
    with sqlite3.connect(source) as original, sqlite3.connect(path) as copy:
        original.backup(copy)
    calls: list[bytes] = []
    real_from_public_bytes = Ed25519PublicKey.from_public_bytes

    class Counted:
        def __init__(self, key: Ed25519PublicKey) -> None:
            self.key = key

        def verify(self, signature: bytes, message: bytes) -> None:
            calls.append(message)
            self.key.verify(signature, message)

    monkeypatch.setattr(Ed25519PublicKey, "from_public_bytes",
                        staticmethod(lambda data: Counted(real_from_public_bytes(data))))
    database = parse_database_url(f"sqlite:///{path}")
    memo = SignatureMemo()
    first = verify_store(database, root_public_key=root, workers=0, memo=memo)
    assert first.ok and first.events_checked == len(rows) and len(memo) == len(rows)
    key_chain = len(calls) - len(rows)  # pass 1 checks the key registrations' signatures on its own (few)
    calls.clear()
    again = verify_store(database, root_public_key=root, workers=0, memo=memo)
    assert again.ok and again.events_checked == len(rows)
    assert len(calls) == key_chain  # nothing changed: no arithmetic on any event's signature
    calls.clear()
    tampered = rows[-1]
    state = bytearray(tampered.state)
    state[5] ^= 0x01  # a bit of the signature
    with sqlite3.connect(path) as connection:
        changed = connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (bytes(state), tampered.position))
        assert changed.rowcount == 1
    third = verify_store(database, root_public_key=root, workers=0, memo=memo)
    assert len(calls) == key_chain + 1  # only the changed row is verified afresh ...
    assert any("signature does not verify" in problem.reason for problem in third.problems)  # ... and refused
    with pytest.raises(ValueError):
        verify_store(database, root_public_key=root, workers=2, memo=memo)  # the memo lives in this process
