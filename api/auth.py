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
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.passwords import PASSWORD_CHARS_MAX, check_password
from api.ratelimit import Clock, FailureThrottle
from api.settings import Settings
from api.store import ApiStore, accounts, tokens
from ledger.application import Actor
from ledger.domain.errors import AlreadyExists, InvalidInput, LedgerError, NotFound
from ledger.domain.values import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
TOKEN_PREFIX = "tl_"
LOGIN_ROLES = frozenset(Role) - {Role.PROVINCE}  # the province root key stays offline: no login


class AuthenticationFailed(LedgerError):
    """401: no valid credentials. `code` tells why, never whose."""

    code = "not_authenticated"
    http_status = 401


class InvalidCredentials(AuthenticationFailed):
    code = "invalid_credentials"


class TokenExpired(AuthenticationFailed):
    code = "token_expired"


class TokenRevoked(AuthenticationFailed):
    code = "token_revoked"


class TooManyAttempts(LedgerError):
    """429: too many failed sign-ins for this username or from this address; wait `Retry-After`."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, retry_after_seconds: float) -> None:
        seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(f"登录失败次数过多，请 {seconds} 秒后再试 / too many failed sign-ins: try again in {seconds} s")
        self.headers = {"Retry-After": str(seconds)}


class SignInBusy(LedgerError):
    """503: every password-hashing slot is busy (argon2 memory is bounded); retry in a second."""

    code = "sign_in_busy"
    http_status = 503
    headers = {"Retry-After": "1"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the login, the ledger actor it acts for, and the token used."""

    username: str
    actor: Actor
    token_sha256: str
    expires_at: datetime


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
    def token_ttl_seconds(self) -> int:
        return self._settings.token_ttl_seconds

    # -- password hashing, bounded --------------------------------------------------------------
    @contextlib.contextmanager
    def _hashing_slot(self, wait_seconds: float | None) -> Iterator[None]:
        """Hold one of the argon2 slots; None waits as long as it takes (provisioning, the CLI)."""
        if not self._hashing.acquire(timeout=wait_seconds):  # type: ignore[arg-type]
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
        if disabled:
            self._evict(lambda p: p.username == username)

    def change_password(self, *, username: str, old_password: str, new_password: str) -> None:
        """Changing a password ends every token of the login (a stolen token dies with the old password)."""
        self.check_password_rules(new_password, username)
        self.verify_password_throttled(username, old_password, client=None)
        new_hash = self.hash_password(new_password, username, wait_seconds=self._settings.argon2_wait_seconds)
        now = _now()
        with self._store.begin() as connection:
            connection.execute(accounts.update().where(accounts.c.username == username)
                               .values(password_hash=new_hash, password_changed_at=now))
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
        self._evict(lambda p: p.token_sha256 == token_sha256)

    def revoke_all(self, username: str) -> int:
        with self._store.begin() as connection:
            count = connection.execute(tokens.update().where(tokens.c.username == username,
                                                             tokens.c.revoked_at.is_(None))
                                       .values(revoked_at=_now())).rowcount
        self._evict(lambda p: p.username == username)
        return int(count or 0)

    def purge_expired(self) -> int:
        with self._store.begin() as connection:
            return int(connection.execute(tokens.delete().where(tokens.c.expires_at < _now() - timedelta(days=1)))
                       .rowcount or 0)

    def _evict(self, match: object) -> None:
        with self._cache_lock:
            for digest in [d for d, (p, _) in self._cache.items() if match(p)]:  # type: ignore[operator]
                del self._cache[digest]
