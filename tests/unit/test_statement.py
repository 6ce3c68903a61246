"""Signed statement envelopes: exact bytes, strict parsing, and refusal of anything non-canonical."""

from __future__ import annotations

import pytest

from ledger.signing import keys as ed25519
from ledger.signing.statement import (
    GENESIS_HASH,
    EnvelopeError,
    Statement,
    encode_statement,
    pack,
    parse_signed_bytes,
    unpack,
)


def statement(**changes: object) -> Statement:
    fields = dict(region="320102", aggregate="00000000-0000-0000-0000-000000000001", version=1,
                  type="TimeAccount.Redeemed", actor="a", role="counter", key="k" * 32,
                  time="2026-11-26T08:00:00+00:00", request=None, prev=GENESIS_HASH, payload={"minutes": 30})
    fields.update(changes)
    return Statement(**fields)  # type: ignore[arg-type]  # the wrong type, on purpose


def test_statement_bytes_start_with_the_domain_separation_prefix() -> None:
    signed = encode_statement(statement())
    assert signed.startswith(b"timeledger/v1\n320102\nTimeAccount.Redeemed\n{")
    assert parse_signed_bytes(signed) == statement()


def test_envelope_round_trips_and_the_signature_verifies() -> None:
    key = ed25519.generate()
    signed = encode_statement(statement())
    signature, body = unpack(pack(key.sign(signed), signed))
    assert body == signed
    assert ed25519.verify(key.public_key(), signature, body)


def test_a_prefix_that_disagrees_with_the_statement_is_refused() -> None:
    signed = encode_statement(statement()).replace(b"320102\nTime", b"320104\nTime", 1)
    with pytest.raises(EnvelopeError, match="prefix"):
        parse_signed_bytes(signed)


def test_non_canonical_json_is_refused() -> None:
    signed = encode_statement(statement())
    spaced = signed.replace(b'"minutes":30', b'"minutes": 30')
    with pytest.raises(EnvelopeError, match="canonical"):
        parse_signed_bytes(spaced)


def test_a_short_or_foreign_envelope_is_refused() -> None:
    with pytest.raises(EnvelopeError):
        unpack(b"TLS1" + b"\0" * 10)
    with pytest.raises(EnvelopeError):
        unpack(b"{" + b"\0" * 100)


@pytest.mark.parametrize("body", [b'{"a":1.5}', b'{"\\ud800":1}'])
def test_undecodable_or_outside_the_subset_is_an_envelope_error(body: bytes) -> None:
    fields = encode_statement(statement())
    broken = fields.replace(b'"payload":{"minutes":30}', b'"payload":' + body)
    with pytest.raises(EnvelopeError):
        parse_signed_bytes(broken)
    with pytest.raises(EnvelopeError):
        parse_signed_bytes(b"timeledger/v1\n\xff\xfe\nx\n{}")
