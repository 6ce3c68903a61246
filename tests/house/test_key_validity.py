"""The one key-validity rule: the domain's `Key.is_valid_at` and the verifier's `key_valid_at` agree
(before, the domain ignored the registration time, so a command could accept a client signature the
verifier then refuses)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from ledger.domain.keys import Key, key_valid_between
from ledger.domain.values import Role
from ledger.verification.store import TrustedKey, key_valid_at

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def test_a_key_signs_from_its_registration_up_to_not_including_its_revocation() -> None:
    assert not key_valid_between(T0, T0 + 10 * SECOND, T0 - SECOND)
    assert key_valid_between(T0, T0 + 10 * SECOND, T0)
    assert key_valid_between(T0, T0 + 10 * SECOND, T0 + 9 * SECOND)
    assert not key_valid_between(T0, T0 + 10 * SECOND, T0 + 10 * SECOND)
    assert key_valid_between(T0, None, T0 + 1000 * SECOND)


def test_the_domain_key_and_the_trusted_key_answer_alike() -> None:
    key = Key.register(key_id="ab" * 8, public_key="", owner_id=uuid4(), role=Role.COUNTER.value,
                       certified_by="cd" * 8, label="counter")
    registered = key.created_on
    key.revoke(effective_at=registered + 10 * SECOND, reason="rotation", replaced_by=None)
    trusted = TrustedKey(key_id=key.key_id, public_key=b"", role=Role.COUNTER, owner_id=str(key.owner_id),
                         registered_at=registered, revoked_at=key.revoked_at)
    for offset in (-1, 0, 5, 9, 10, 11):
        moment = registered + offset * SECOND
        assert key.is_valid_at(moment) == key_valid_at(trusted, moment) == (0 <= offset < 10), offset
