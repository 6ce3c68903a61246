"""Authentication: per-actor logins with argon2id-hashed passwords; the OAuth2 password flow
issues opaque bearer tokens that expire and can be revoked.

* A login (`api_accounts`) names one ledger actor (region admin, unit, community, counter, member,
  resident or auditor) and its role. Several logins may act for one actor (two clerks at a counter).
* A token is 32 random bytes (base64url) shown once; only its SHA-256 is stored (`api_tokens`), so a
  database leak reveals no usable token. It expires after `token_ttl_seconds`; `revoke` ends one
  token, `disable` ends every token of a login at once.
* Verified tokens are cached for `token_cache_seconds` so that a busy counter costs no database
  look-up per request; revocation through this process evicts the cache at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.errors import ApiError
from api.passwords import PASSWORD_CHARS_MAX, check_password
from api.ratelimit import Clock, FailureThrottle
from api.settings import Settings
from api.store import ApiStore, accounts, member_keys, token_keys, tokens
from ledger.application import Actor
from ledger.domain.errors import AlreadyExists, InvalidInput, NotFound
from ledger.signing import sealed
from ledger.domain.values import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
TOKEN_PREFIX = "tl_"
TOKEN_ID_HEX_CHARS = 16  # a token's public handle (listing, revoking): a prefix of its SHA-256
SALT_BYTES = 16
TOKEN_KEY_INFO = b"timeledger/v1 member key under a bearer token"
LOGIN_ROLES = frozenset(Role) - {Role.PROVINCE}  # the province root key stays offline: no login


class AuthenticationFailed(ApiError):
    """401: no valid credentials. `code` tells why, never whose."""

    code = "not_authenticated"


class InvalidCredentials(AuthenticationFailed):
    code = "invalid_credentials"


class TokenExpired(AuthenticationFailed):
    code = "token_expired"


class TokenRevoked(AuthenticationFailed):
    code = "token_revoked"


class MemberLoginRefused(ApiError):
    """403: nobody but the member sets up a member's login (the region admin resets it, with a reason)."""

    code = "member_login_by_member_only"


MEMBER_LOGIN_REFUSED = ("党员的登录账号只能由党员本人凭激活码设置；地区管理员可说明理由后重置 / only the member sets up "
                        "their own login, with an activation code (POST /v1/members/{id}/activation-codes); a region "
                        "admin may reset it, giving a reason")


class TooManyAttempts(ApiError):
    """429: too many failed sign-ins for this username or from this address; wait `Retry-After`."""

    code = "too_many_attempts"

    def __init__(self, retry_after_seconds: float) -> None:
        seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(f"登录失败次数过多，请 {seconds} 秒后再试 / too many failed sign-ins: try again in {seconds} s")
        self.headers = {"Retry-After": str(seconds)}


class SignInBusy(ApiError):
    """503: every password-hashing slot is busy (argon2 memory is bounded); retry in a second."""

    code = "sign_in_busy"
    headers = {"Retry-After": "1"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the login, the ledger actor it acts for, and the token used."""

    username: str
    actor: Actor
    token_sha256: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    username: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    current: bool


@dataclass(frozen=True)
class Login:
    username: str
    actor_id: UUID
    role: Role
    disabled: bool
    created_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise InvalidInput("username: 3–64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
    return username


class AuthService:
    def __init__(self, store: ApiStore, settings: Settings, *, clock: Clock = time.monotonic) -> None:
        self._store = store
        self._settings = settings
        self._hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                      parallelism=1)
        # Sign-in throttles (growing delays) and the bound on argon2 computations in flight: each one
        # holds argon2_memory_kib, so memory stays under argon2_concurrent_max × that, however many
        # anonymous sign-ins arrive at once.
        self._by_username = FailureThrottle(free_failures=settings.sign_in_failures_free,
                                            delay_max_seconds=settings.sign_in_delay_max_seconds, clock=clock)
        self._by_address = FailureThrottle(free_failures=settings.sign_in_address_failures_free,
                                           delay_max_seconds=settings.sign_in_delay_max_seconds, clock=clock)
        self._hashing = threading.BoundedSemaphore(settings.argon2_concurrent_max)
        self._hashing_lock = threading.Lock()
        self._hashing_now = 0
        self.hashing_peak = 0  # the most argon2 computations seen at once (tests, /healthz)
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._cache_lock = threading.Lock()

    @property
    def store(self) -> ApiStore:
        return self._store

    @property
    def token_ttl_seconds(self) -> int:
        return self._settings.token_ttl_seconds

    # -- password hashing, bounded --------------------------------------------------------------
    @contextlib.contextmanager
    def _hashing_slot(self, wait_seconds: float | None) -> Iterator[None]:
        """Hold one of the argon2 slots; None waits as long as it takes (provisioning, the CLI)."""
        if not self._hashing.acquire(timeout=wait_seconds):
            raise SignInBusy("登录繁忙，请稍后再试 / sign-in is busy: retry in a second")
        with self._hashing_lock:
            self._hashing_now += 1
            self.hashing_peak = max(self.hashing_peak, self._hashing_now)
        try:
            yield
        finally:
            with self._hashing_lock:
                self._hashing_now -= 1
            self._hashing.release()

    # -- logins --------------------------------------------------------------------------------
    def check_password_rules(self, password: str, username: str | None = None) -> None:
        """WeakPassword (422 `weak_password`, Chinese message) unless the password is acceptable."""
        check_password(password, username=username, chars_min=self._settings.password_chars_min)

    def hash_password(self, password: str, username: str | None = None, *, wait_seconds: float | None = None) -> str:
        self.check_password_rules(password, username)
        with self._hashing_slot(wait_seconds):
            return self._hasher.hash(password)

    def create_login(self, *, username: str, password: str, actor: Actor, password_hash: str | None = None) -> Login:
        """A login for `actor`. `password_hash` (from `hash_password`) lets callers hash in parallel."""
        check_username(username)
        if actor.role not in LOGIN_ROLES:
            raise InvalidInput(f"a {actor.role.value} has no login")
        if actor.role is Role.MEMBER:  # a member's login goes with a key only the member can unlock
            raise MemberLoginRefused(MEMBER_LOGIN_REFUSED)
        now = _now()
        self.check_password_rules(password, username)
        password_hash = password_hash or self.hash_password(password, username)
        with self._store.begin() as connection:
            exists = connection.execute(sa.select(accounts.c.username).where(accounts.c.username == username)).first()
            if exists is not None:
                raise AlreadyExists(f"login {username} already exists")
            connection.execute(accounts.insert().values(
                username=username, actor_id=str(actor.actor_id), role=actor.role.value, password_hash=password_hash,
                disabled=False, created_at=now, password_changed_at=now))
        return Login(username, actor.actor_id, actor.role, False, now)

    def get_login(self, username: str) -> Login:
        with self._store.connect() as connection:
            row = connection.execute(sa.select(accounts).where(accounts.c.username == username)).first()
        if row is None:
            raise NotFound(f"login {username} not found")
        return Login(row.username, UUID(row.actor_id), Role(row.role), row.disabled, _aware(row.created_at))

    def logins(self, *, actor_id: UUID | None = None, limit: int = 1000, offset: int = 0) -> list[Login]:
        query = sa.select(accounts).order_by(accounts.c.username).limit(limit).offset(offset)
        if actor_id is not None:
            query = query.where(accounts.c.actor_id == str(actor_id))
        with self._store.connect() as connection:
            rows = connection.execute(query).all()
        return [Login(r.username, UUID(r.actor_id), Role(r.role), r.disabled, _aware(r.created_at)) for r in rows]

    def actors_with_login(self) -> set[UUID]:
        with self._store.connect() as connection:
            return {UUID(r[0]) for r in connection.execute(sa.select(accounts.c.actor_id).distinct())}

    def set_disabled(self, username: str, disabled: bool) -> None:
        with self._store.begin() as connection:
            updated = connection.execute(accounts.update().where(accounts.c.username == username)
                                         .values(disabled=disabled)).rowcount
            if not updated:
                raise NotFound(f"login {username} not found")
            if disabled:
                connection.execute(tokens.update().where(tokens.c.username == username, tokens.c.revoked_at.is_(None))
                                   .values(revoked_at=_now()))
                connection.execute(token_keys.delete().where(token_keys.c.token_sha256.in_(
                    sa.select(tokens.c.token_sha256).where(tokens.c.username == username))))
        if disabled:
            self._evict(lambda p: p.username == username)

    def change_password(self, *, username: str, old_password: str, new_password: str) -> None:
        """Changing a password ends every token of the login (a stolen token dies with the old password)."""
        self.check_password_rules(new_password, username)
        self.verify_password_throttled(username, old_password, client=None)
        new_hash = self.hash_password(new_password, username, wait_seconds=self._settings.argon2_wait_seconds)
        rewrapped = self._rewrap_member_key(username, old_password, new_password)
        now = _now()
        with self._store.begin() as connection:
            connection.execute(accounts.update().where(accounts.c.username == username)
                               .values(password_hash=new_hash, password_changed_at=now))
            if rewrapped is not None:
                connection.execute(member_keys.update().where(member_keys.c.username == username)
                                   .values(salt=rewrapped[0], wrapped_private_key=rewrapped[1]))
            connection.execute(token_keys.delete().where(token_keys.c.token_sha256.in_(
                sa.select(tokens.c.token_sha256).where(tokens.c.username == username))))
            connection.execute(tokens.update().where(tokens.c.username == username, tokens.c.revoked_at.is_(None))
                               .values(revoked_at=now))
        self._evict(lambda p: p.username == username)

    def throttle_check(self, username: str, client: str | None) -> None:
        """TooManyAttempts while the username or the client address is in a back-off delay."""
        wait = self._by_username.check(username)
        if client is not None:
            wait = max(wait, self._by_address.check(client))
        if wait > 0:
            raise TooManyAttempts(wait)

    def throttle_failure(self, username: str, client: str | None) -> None:
        self._by_username.failure(username)
        if client is not None:
            self._by_address.failure(client)

    def verify_password_throttled(self, username: str, password: str, *, client: str | None) -> Login:
        """`verify_password` behind the per-username and per-address throttles. A success clears
        the username's failures (not the address's: one valid login must not reset an attacker's
        budget for guessing others)."""
        self.throttle_check(username, client)
        try:
            login = self.verify_password(username, password, wait_seconds=self._settings.argon2_wait_seconds)
        except InvalidCredentials:
            self.throttle_failure(username, client)
            raise
        self._by_username.success(username)
        return login

    def verify_password(self, username: str, password: str, *, wait_seconds: float | None = None) -> Login:
        """The login, if the password matches and the login is enabled. Unknown logins cost the same
        time as wrong passwords, so timing does not reveal which logins exist."""
        with self._store.connect() as connection:
            row = connection.execute(sa.select(accounts).where(accounts.c.username == username)).first()
        stored = row.password_hash if row is not None else self._dummy_hash
        try:
            with self._hashing_slot(wait_seconds):
                self._hasher.verify(stored, password[:PASSWORD_CHARS_MAX])
        except (VerificationError, InvalidHashError):
            raise InvalidCredentials("wrong username or password") from None
        if row is None or row.disabled:
            raise InvalidCredentials("wrong username or password")
        return Login(row.username, UUID(row.actor_id), Role(row.role), row.disabled, _aware(row.created_at))

    # -- tokens --------------------------------------------------------------------------------
    def issue_token(self, login: Login) -> tuple[str, datetime]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = _now()
        expires_at = now + timedelta(seconds=self._settings.token_ttl_seconds)
        with self._store.begin() as connection:
            connection.execute(tokens.insert().values(
                token_sha256=token_digest(token), username=login.username, actor_id=str(login.actor_id),
                role=login.role.value, issued_at=now, expires_at=expires_at, revoked_at=None))
        return token, expires_at

    def login(self, username: str, password: str, *, client: str | None = None) -> tuple[str, datetime, Login]:
        login = self.verify_password_throttled(username, password, client=client)
        token, expires_at = self.issue_token(login)
        if login.role is Role.MEMBER:
            self._unlock_for_token(username, password, token)
        return token, expires_at, login

    def resolve(self, token: str) -> Principal:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise AuthenticationFailed("not a timeledger bearer token")
        digest = token_digest(token)
        now_monotonic = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > now_monotonic:
            principal = cached[0]
            if principal.expires_at <= _now():
                raise TokenExpired("the token has expired: sign in again")
            return principal
        with self._store.connect() as connection:
            row = connection.execute(sa.select(tokens).where(tokens.c.token_sha256 == digest)).first()
        if row is None:
            raise AuthenticationFailed("unknown token: sign in again")
        if row.revoked_at is not None:
            raise TokenRevoked("the token was revoked: sign in again")
        expires_at = _aware(row.expires_at)
        if expires_at <= _now():
            raise TokenExpired("the token has expired: sign in again")
        principal = Principal(row.username, Actor(UUID(row.actor_id), Role(row.role)), digest, expires_at)
        if self._settings.token_cache_seconds > 0:
            with self._cache_lock:
                if len(self._cache) > 100_000:  # bound the cache; it refills from the database
                    self._cache.clear()
                self._cache[digest] = (principal, now_monotonic + self._settings.token_cache_seconds)
        return principal

    def revoke(self, token_sha256: str) -> None:
        with self._store.begin() as connection:
            connection.execute(tokens.update().where(tokens.c.token_sha256 == token_sha256,
                                                     tokens.c.revoked_at.is_(None)).values(revoked_at=_now()))
            connection.execute(token_keys.delete().where(token_keys.c.token_sha256 == token_sha256))
        self._evict(lambda p: p.token_sha256 == token_sha256)

    def revoke_all(self, username: str) -> int:
        with self._store.begin() as connection:
            count = connection.execute(tokens.update().where(tokens.c.username == username,
                                                             tokens.c.revoked_at.is_(None))
                                       .values(revoked_at=_now())).rowcount
            connection.execute(token_keys.delete().where(token_keys.c.token_sha256.in_(
                sa.select(tokens.c.token_sha256).where(tokens.c.username == username))))
        self._evict(lambda p: p.username == username)
        return int(count or 0)

    def purge_expired(self) -> int:
        """Delete tokens that expired more than a day ago (and any member key still wrapped under a
        token that is no longer usable). Called on a schedule by `api.services.Purger`."""
        now = _now()
        with self._store.begin() as connection:
            connection.execute(token_keys.delete().where(token_keys.c.token_sha256.in_(
                sa.select(tokens.c.token_sha256).where(sa.or_(tokens.c.expires_at < now,
                                                              tokens.c.revoked_at.is_not(None))))))
            return int(connection.execute(tokens.delete().where(tokens.c.expires_at < now - timedelta(days=1)))
                       .rowcount or 0)

    # -- a signed-in actor's own logins and tokens ------------------------------------------------
    def tokens_of(self, actor_id: UUID, *, current_sha256: str | None = None, limit: int = 200) -> list[TokenInfo]:
        with self._store.connect() as connection:
            rows = connection.execute(sa.select(tokens).where(tokens.c.actor_id == str(actor_id))
                                      .order_by(tokens.c.issued_at.desc()).limit(limit)).all()
        return [TokenInfo(r.token_sha256[:TOKEN_ID_HEX_CHARS], r.username, _aware(r.issued_at), _aware(r.expires_at),
                          _aware(r.revoked_at) if r.revoked_at is not None else None,
                          r.token_sha256 == current_sha256) for r in rows]

    def revoke_token_of(self, actor_id: UUID, token_id: str) -> None:
        """Revoke one of the actor's own tokens by its id (`tokens_of`); NotFound for anyone else's."""
        if not re.fullmatch(r"[0-9a-f]{%d}" % TOKEN_ID_HEX_CHARS, token_id):
            raise NotFound("no such token")
        with self._store.connect() as connection:
            digests = [r[0] for r in connection.execute(
                sa.select(tokens.c.token_sha256).where(tokens.c.actor_id == str(actor_id),
                                                       tokens.c.token_sha256.startswith(token_id)))]
        if not digests:
            raise NotFound("no such token")
        for digest in digests:
            self.revoke(digest)

    # -- members: a signing key only the member's password (or live token) unlocks ----------------
    def _password_key(self, password: str, salt: bytes) -> bytes:
        with self._hashing_slot(self._settings.argon2_wait_seconds):
            return hash_secret_raw(secret=password[:PASSWORD_CHARS_MAX].encode("utf-8"), salt=salt,
                                   time_cost=self._settings.argon2_time_cost,
                                   memory_cost=self._settings.argon2_memory_kib, parallelism=1, hash_len=32,
                                   type=Type.ID)

    @staticmethod
    def _token_key(token: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=TOKEN_KEY_INFO).derive(token.encode())

    def create_member_login(self, *, username: str, password: str, member: Actor, key_id: str,
                            private_key: bytes) -> Login:
        """A member's login, with the member's private key wrapped under the password. Only
        `api.member_access` calls this (activation by the member; a reset by the region)."""
        check_username(username)
        assert member.role is Role.MEMBER
        password_hash = self.hash_password(password, username, wait_seconds=self._settings.argon2_wait_seconds)
        salt = secrets.token_bytes(SALT_BYTES)
        wrapped = sealed.wrap(self._password_key(password, salt), purpose=f"member-key/{key_id}", secret=private_key)
        now = _now()
        with self._store.begin() as connection:
            exists = connection.execute(sa.select(accounts.c.username).where(accounts.c.username == username)).first()
            if exists is not None:
                raise AlreadyExists(f"login {username} already exists")
            connection.execute(accounts.insert().values(
                username=username, actor_id=str(member.actor_id), role=Role.MEMBER.value, password_hash=password_hash,
                disabled=False, created_at=now, password_changed_at=now))
            connection.execute(member_keys.insert().values(username=username, actor_id=str(member.actor_id),
                                                           key_id=key_id, salt=salt, wrapped_private_key=wrapped))
        return Login(username, member.actor_id, Role.MEMBER, False, now)

    def has_member_key(self, member_id: UUID) -> bool:
        with self._store.connect() as connection:
            return connection.execute(sa.select(member_keys.c.username)
                                      .where(member_keys.c.actor_id == str(member_id))).first() is not None

    def end_member_logins(self, member_id: UUID) -> None:
        """A reset: every login of the member is disabled, its tokens revoked, its wrapped keys dropped."""
        for login in self.logins(actor_id=member_id):
            self.set_disabled(login.username, True)
        with self._store.begin() as connection:
            connection.execute(member_keys.delete().where(member_keys.c.actor_id == str(member_id)))

    def _unwrap_member_key(self, username: str, password: str) -> tuple[str, bytes] | None:
        with self._store.connect() as connection:
            row = connection.execute(sa.select(member_keys).where(member_keys.c.username == username)).first()
        if row is None:
            return None
        secret = sealed.unwrap(self._password_key(password, row.salt), purpose=f"member-key/{row.key_id}",
                               wrapped=row.wrapped_private_key)
        return row.key_id, secret

    def _unlock_for_token(self, username: str, password: str, token: str) -> None:
        unlocked = self._unwrap_member_key(username, password)
        if unlocked is None:
            return
        key_id, secret = unlocked
        wrapped = sealed.wrap(self._token_key(token), purpose=f"member-key/{key_id}", secret=secret)
        with self._store.begin() as connection:
            connection.execute(token_keys.insert().values(token_sha256=token_digest(token), key_id=key_id,
                                                          wrapped_private_key=wrapped))

    def _rewrap_member_key(self, username: str, old_password: str, new_password: str) -> tuple[bytes, bytes] | None:
        unlocked = self._unwrap_member_key(username, old_password)
        if unlocked is None:
            return None
        key_id, secret = unlocked
        salt = secrets.token_bytes(SALT_BYTES)
        return salt, sealed.wrap(self._password_key(new_password, salt), purpose=f"member-key/{key_id}", secret=secret)

    def member_key(self, token: str | None) -> tuple[str, bytes] | None:
        """(key id, raw private key) of the member signed in with `token`, or None (no member key
        is held under this token: not a member, or a member whose key the ledger still holds)."""
        if not token:
            return None
        with self._store.connect() as connection:
            row = connection.execute(sa.select(token_keys).where(token_keys.c.token_sha256 == token_digest(token))).first()
        if row is None:
            return None
        try:
            secret = sealed.unwrap(self._token_key(token), purpose=f"member-key/{row.key_id}",
                                   wrapped=row.wrapped_private_key)
        except sealed.SealError:
            return None
        return row.key_id, secret

    def _evict(self, match: object) -> None:
        with self._cache_lock:
            for digest in [d for d, (p, _) in self._cache.items() if match(p)]:  # type: ignore[operator]  # match is any predicate the caller passes
                del self._cache[digest]
