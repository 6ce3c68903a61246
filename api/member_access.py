"""How a member gets a login, and why nobody else can sign as the member (issue #10, defect 2).

* A unit or community never creates a member's login (`POST /v1/logins` with a member: 403
  `member_login_by_member_only`). It issues a one-time **activation code** for its own member
  (`POST /v1/members/{id}/activation-codes`): shown once, to hand over; only its SHA-256 is stored;
  it expires after `ACTIVATION_TTL`; it is single use; a new code voids older unused ones. Once the
  member has a login, only the member (password change, own logins and tokens) or the region admin
  can change it.
* With the code, the member sets their own username and password (`POST /v1/auth/activate`,
  anonymous, throttled). The ledger then makes a **new member key** and keeps no copy of its
  private half: the API wraps it under a key derived (argon2id) from the member's password, and
  while the member is signed in, under a key derived from their bearer token. The member's previous
  key (the one the unit's enrolment made, held by the server) is revoked from that moment. Both
  events (`Key.Registered`, `Key.Revoked`) are signed by whoever issued the code, with a reason.
* The region admin can **reset** a member's login (a lost password): the reset needs a reason, ends
  every login and token of the member at once, and revokes the member's key with a signed
  `Key.Revoked` event naming the reason; the member then activates a new code. The region operator's
  `timeledger logins provision` does the same for members, reason included.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from api.auth import AuthService, Login, check_username
from api.errors import ApiError
from api.store import ApiStore, activation_codes
from ledger.application import Actor, Ledger
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.limits import KEY_REASON_CHARS_MAX
from ledger.domain.values import Role

ACTIVATION_TTL = timedelta(hours=72)  # long enough to hand a slip of paper over, short enough to expire unused
ACTIVATION_CODE_BYTES = 15  # 120 random bits, 20 base64url characters
REASON_CHARS_MIN = 4
REASON_CHARS_MAX = KEY_REASON_CHARS_MAX  # the reason is signed into the member key's certification
ACTIVATED_REASON = "党员本人设置登录，改用本人持有的密钥 / the member set up their own login: key now held by the member"


class ActivationCodeInvalid(ApiError):
    """403: unknown, used or expired activation code (never says which)."""

    code = "activation_code_invalid"


class MemberLoginExists(ApiError):
    code = "member_login_exists"


class ReasonRequired(ApiError):
    code = "reason_required"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not REASON_CHARS_MIN <= len(text) <= REASON_CHARS_MAX:
        raise ReasonRequired(f"重置党员登录须说明理由（{REASON_CHARS_MIN}–{REASON_CHARS_MAX} 字）/ a reset needs a reason "
                             f"({REASON_CHARS_MIN} to {REASON_CHARS_MAX} characters)")
    return text


class MemberAccess:
    def __init__(self, ledger: Ledger, auth: AuthService, store: ApiStore, submit: Any) -> None:
        self._ledger = ledger
        self._auth = auth
        self._store = store
        self._submit = submit  # runs a ledger write in the writer: submit(fn, alone=True)

    # -- issuing a code --------------------------------------------------------------------------
    def issue_code(self, *, authority: Actor, member_id: UUID, reason: str | None = None) -> tuple[str, datetime]:
        """A one-time activation code for the member (the caller was authorised by `login.activate`).
        A unit or community may do this only while the member has no login; the region admin always
        may, as a reset with a reason (signed)."""
        self._ledger.get_member(member_id)
        has_login = bool(self._auth.logins(actor_id=member_id, limit=1))
        if authority.role is Role.REGION:
            text = check_reason(reason)
            self.reset(region=authority, member_id=member_id, reason=text)
        else:
            if has_login:
                raise MemberLoginExists("该党员已设置本人登录，只能由本人修改，或由地区管理员说明理由后重置 / the member "
                                        "already has a login: only the member, or the region admin (with a reason), "
                                        "can change it")
            text = (reason or "").strip()[:REASON_CHARS_MAX] or "首次登录 first login"
        code = secrets.token_urlsafe(ACTIVATION_CODE_BYTES)
        now = datetime.now(UTC)
        expires_at = now + ACTIVATION_TTL
        with self._store.begin() as connection:
            connection.execute(activation_codes.delete().where(activation_codes.c.member_id == str(member_id),
                                                               activation_codes.c.used_at.is_(None)))
            connection.execute(activation_codes.insert().values(
                code_sha256=_digest(code), member_id=str(member_id), issued_by=str(authority.actor_id),
                issued_by_role=authority.role.value, reason=text, created_at=now, expires_at=expires_at,
                used_at=None))
        return code, expires_at

    def reset(self, *, region: Actor, member_id: UUID, reason: str) -> None:
        """End every login and token of the member and revoke the member's key (a signed event
        carrying the reason)."""
        assert region.role is Role.REGION
        self._auth.end_member_logins(member_id)
        self._submit(lambda: self._ledger.revoke_member_key(
            authority=region, member_id=member_id, reason=f"登录重置 login reset: {reason}"[:REASON_CHARS_MAX]),
            alone=True)

    def purge_expired(self) -> int:
        """Delete codes that expired or were used more than a day ago (called by `api.services.Purger`)."""
        cutoff = datetime.now(UTC) - timedelta(days=1)
        with self._store.begin() as connection:
            return int(connection.execute(activation_codes.delete().where(sa.or_(
                activation_codes.c.expires_at < cutoff, activation_codes.c.used_at < cutoff))).rowcount or 0)

    # -- the member activates --------------------------------------------------------------------
    def activate(self, *, code: str, username: str, password: str, client: str | None) -> Login:
        throttle_key = f"activation:{client or '-'}"  # failed codes count against the client address
        self._auth.throttle_check(throttle_key, None)
        now = datetime.now(UTC)
        digest = _digest(code) if isinstance(code, str) and 1 <= len(code) <= 128 else ""
        # The code first: without a valid code, nothing else is checked (no username probing).
        if self._valid_code(digest, now) is None:
            self._auth.throttle_failure(throttle_key, None)
            raise ActivationCodeInvalid("激活码无效、已使用或已过期 / the activation code is unknown, used or expired")
        check_username(username)
        self._auth.check_password_rules(password, username)
        try:
            self._auth.get_login(username)
        except NotFound:
            pass
        else:
            raise InvalidInput("该登录名已被使用 / this username is taken", field="username", reason="username_taken")
        with self._store.begin() as connection:  # claim it: of two concurrent activations, one wins
            row = self._valid_code(digest, now, connection)
            claimed = 0 if row is None else connection.execute(activation_codes.update().where(
                activation_codes.c.code_sha256 == digest, activation_codes.c.used_at.is_(None))
                .values(used_at=now)).rowcount
        if not claimed:
            self._auth.throttle_failure(throttle_key, None)
            raise ActivationCodeInvalid("激活码无效、已使用或已过期 / the activation code is unknown, used or expired")
        assert row is not None
        member = Actor(UUID(row.member_id), Role.MEMBER)
        authority = Actor(UUID(row.issued_by), Role(row.issued_by_role))
        reason = ACTIVATED_REASON if authority.role is not Role.REGION else f"{ACTIVATED_REASON}; {row.reason}"
        try:
            return self.set_member_login(authority=authority, member=member, username=username, password=password,
                                         reason=reason)
        except BaseException:
            with self._store.begin() as connection:  # nothing was set up: the code can be used again
                connection.execute(activation_codes.update().where(activation_codes.c.code_sha256 == digest)
                                   .values(used_at=None))
            raise

    def _valid_code(self, digest: str, now: datetime, connection: Any = None) -> Any:
        """The unused, unexpired code row with this digest, or None."""
        query = sa.select(activation_codes).where(activation_codes.c.code_sha256 == digest,
                                                  activation_codes.c.used_at.is_(None))
        if connection is None:
            with self._store.connect() as own:
                row = own.execute(query).first()
        else:
            row = connection.execute(query).first()
        if row is None:
            return None
        expires_at = row.expires_at if row.expires_at.tzinfo is not None else row.expires_at.replace(tzinfo=UTC)
        return row if expires_at > now else None

    def set_member_login(self, *, authority: Actor, member: Actor, username: str, password: str,
                         reason: str) -> Login:
        """Replace the member's key by one the ledger does not hold, and wrap it under `password`."""
        self._auth.check_password_rules(password, username)
        key_id, private_key = self._submit(lambda: self._ledger.replace_member_key(
            authority=authority, member_id=member.actor_id, reason=reason[:REASON_CHARS_MAX]), alone=True)
        return self._auth.create_member_login(username=username, password=password, member=member, key_id=key_id,
                                              private_key=private_key)

    def provision(self, *, member_id: UUID, username: str, password: str, reason: str) -> Login:
        """The region operator sets a member's login directly (`timeledger logins provision`, the demo,
        tests): a region reset with a reason, then the member's new key under `password`."""
        region = self._ledger.region_actor()
        text = check_reason(reason)
        if self._auth.logins(actor_id=member_id, limit=1):
            self._auth.end_member_logins(member_id)
        return self.set_member_login(authority=region, member=Actor(member_id, Role.MEMBER), username=username,
                                     password=password, reason=f"地区开设登录 login set by the region operator: {text}")
