"""Canonical JSON: our fast encoder equals RFC 8785 (the `rfc8785` package) on the statement subset."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from uuid import UUID

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.signing.canonical import CanonicalError, canonical_bytes, converter_for, to_json_value

keys = st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=8)
scalars = (st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
           | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                           max_leaves=20)


@given(json_values)
def test_canonical_bytes_equal_rfc8785(value: object) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@given(json_values)
def test_canonical_bytes_round_trip(value: object) -> None:
    assert json.loads(canonical_bytes(value)) == value


@pytest.mark.parametrize("value", [1.5, 2**53, {"a": float("nan")}, {"\U0001F600": 1}, b"bytes", {1: 2}])
def test_values_outside_the_subset_are_refused(value: object) -> None:
    with pytest.raises(CanonicalError):
        canonical_bytes(value)


def test_typed_values_round_trip_through_json() -> None:
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    cases = [
        (UUID(int=7), UUID), (moment, datetime), (date(2026, 8, 31), date), ([UUID(int=1)], list[UUID]),
        ({"a": date(2026, 1, 1)}, dict[str, date]), (None, UUID | None), (UUID(int=2), UUID | None),
        ((1, "x"), tuple[int, str]),
    ]
    for value, annotation in cases:
        assert converter_for(annotation)(json.loads(canonical_bytes(to_json_value(value)))) == value
