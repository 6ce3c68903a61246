"""The check-in code (ledger/verification/checkin_code.py): a genuine code is accepted in its window and
the next; any altered code, any expired code and any code of another activity is refused, each with its
named reason. Pure: no ledger, a fixed epoch (no dependence on today)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger.domain.errors import (
    CheckinCodeExpired,
    CheckinCodeMalformed,
    CheckinCodeSignatureInvalid,
    CheckinCodeWrongActivity,
    LedgerError,
)
from ledger.signing import keys as ed25519
from ledger.verification import checkin_code

COMMUNITY = UUID(int=1)
OTHER_COMMUNITY = UUID(int=2)
KEY = ed25519.generate()
PUBLIC = ed25519.public_bytes(KEY.public_key())
KEY_ID = ed25519.key_id_of(PUBLIC)
OTHER_KEY = ed25519.generate()
OTHER_PUBLIC = ed25519.public_bytes(OTHER_KEY.public_key())
OTHER_KEY_ID = ed25519.key_id_of(OTHER_PUBLIC)
EPOCH = datetime(2026, 11, 14, 1, 0, tzinfo=timezone.utc)
REGION = "320102"
ALPHABET = "0123456789abcdefABCDEF.-_TLCxyz"

moments = st.integers(0, 10 * 24 * 3600).map(lambda s: EPOCH + timedelta(seconds=s))
activities = st.uuids()


def key_of(key_id: str) -> tuple[bytes, UUID] | None:
    return {KEY_ID: (PUBLIC, COMMUNITY), OTHER_KEY_ID: (OTHER_PUBLIC, OTHER_COMMUNITY)}.get(key_id)


def issue(activity_id: UUID, moment: datetime, *, region: str = REGION, other: bool = False) -> str:
    return checkin_code.issue(region=region, activity_id=activity_id, moment=moment,
                              key_id=OTHER_KEY_ID if other else KEY_ID, sign=(OTHER_KEY if other else KEY).sign)


def verify(code: str, activity_id: UUID, now: datetime) -> checkin_code.CheckinCode:
    return checkin_code.verify(code, region=REGION, activity_id=activity_id, community_id=COMMUNITY, now=now,
                               key_of=key_of)


@given(activities, moments, st.integers(0, checkin_code.WINDOW_SECONDS * checkin_code.WINDOWS_ACCEPTED - 1))
def test_a_genuine_code_is_accepted_within_two_windows(activity_id: UUID, moment: datetime, later: int) -> None:
    code = issue(activity_id, moment)
    now = moment + timedelta(seconds=later)
    assume(checkin_code.window_of(now) - checkin_code.window_of(moment) < checkin_code.WINDOWS_ACCEPTED)
    assert verify(code, activity_id, now).activity_id == activity_id


@given(activities, moments, st.integers(0, 10_000), st.data())
def test_any_altered_code_is_refused_with_a_reason(activity_id: UUID, moment: datetime, position: int,
                                                   data: st.DataObject) -> None:
    code = issue(activity_id, moment)
    index = position % len(code)
    replacement = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != code[index]))
    altered = code[:index] + replacement + code[index + 1:]
    with pytest.raises((CheckinCodeMalformed, CheckinCodeSignatureInvalid)):
        verify(altered, activity_id, moment)


@given(activities, moments, st.text(max_size=300))
def test_random_text_is_refused_with_a_named_reason(activity_id: UUID, moment: datetime, text: str) -> None:
    with pytest.raises(LedgerError) as refused:
        verify(text, activity_id, moment)
    assert refused.value.code.startswith("checkin_code_")


@given(activities, moments, st.integers(checkin_code.WINDOWS_ACCEPTED, 10_000))
def test_an_expired_code_is_refused_as_expired(activity_id: UUID, moment: datetime, windows_later: int) -> None:
    code = issue(activity_id, moment)
    now = moment + timedelta(seconds=checkin_code.WINDOW_SECONDS * windows_later)
    with pytest.raises(CheckinCodeExpired):
        verify(code, activity_id, now)


@given(activities, activities, moments)
def test_a_code_of_another_activity_is_refused_as_wrong_activity(activity_id: UUID, other: UUID,
                                                                  moment: datetime) -> None:
    assume(activity_id != other)
    with pytest.raises(CheckinCodeWrongActivity):
        verify(issue(other, moment), activity_id, moment)
    with pytest.raises(CheckinCodeWrongActivity):
        verify(issue(activity_id, moment, region="320104"), activity_id, moment)


@given(activities, moments)
def test_a_code_signed_by_another_community_is_refused(activity_id: UUID, moment: datetime) -> None:
    with pytest.raises(CheckinCodeSignatureInvalid):
        verify(issue(activity_id, moment, other=True), activity_id, moment)


def test_the_code_round_trips_and_fits_a_small_qr() -> None:
    code = issue(UUID(int=5), EPOCH)
    parsed = checkin_code.parse(code)
    assert parsed.text() == code and len(code) <= checkin_code.CODE_CHARS_MAX
