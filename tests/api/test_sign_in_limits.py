"""Sign-in under attack (issue #10, defect 9): growing delays per username and per client address,
a bounded number of argon2 computations in flight, weak passwords refused on every path, and
expired tokens and old idempotency records purged on a schedule."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.auth import AuthService, InvalidCredentials, SignInBusy, TooManyAttempts, token_digest
from api.errors import http_status_of
from api.main import create_app
from api.services import services_of
from api.passwords import WeakPassword, check_password, common_passwords
from api.provision import new_password
from api.ratelimit import FailureThrottle, TokenBucket
from api.settings import settings_for_tests
from api.store import ApiStore, activation_codes, idempotency, tokens
from ledger.application import Ledger
from tests.api.world import PASSWORD, World


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/v1/auth/token", data={"username": username, "password": password})


# -- throttling ----------------------------------------------------------------------------------

def test_failure_throttle_delays_grow_exponentially_and_are_capped() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(free_failures=5, base_delay_seconds=1.0, delay_max_seconds=60.0, clock=clock)
    delays = [throttle.failure("u") for _ in range(12)]
    assert delays[:5] == [0.0] * 5
    assert delays[5:] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert throttle.check("u") == 60.0
    clock.now += 30
    assert throttle.check("u") == 30.0
    throttle.success("u")
    assert throttle.check("u") == 0.0 and throttle.failures("u") == 0


def test_limiter_tables_are_bounded_in_size() -> None:
    throttle = FailureThrottle(keys_max=100, clock=FakeClock())
    bucket = TokenBucket(rate_per_second=1, burst=2, keys_max=100, clock=FakeClock())
    for n in range(10_000):
        throttle.failure(f"name-{n}")
        bucket.take(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) == 100 and len(bucket) == 100


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_second=2.0, burst=3, clock=clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take("a") == 0.0
    assert bucket.take("b") == 0.0  # keys are independent


def test_repeated_wrong_passwords_get_429_with_retry_after_even_for_the_right_one(
        client: TestClient, world: World) -> None:
    username = world.usernames[world.a.counter.actor_id]
    for _ in range(5):
        assert _sign_in(client, username, "wrong password 1").status_code == 401
    sixth = _sign_in(client, username, "wrong password 2")
    assert sixth.status_code == 401  # the sixth failure starts the delay
    throttled = _sign_in(client, username, PASSWORD)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_attempts" and "请" in throttled.json()["detail"]
    assert int(throttled.headers["Retry-After"]) >= 1
    other = world.usernames[world.a.member.actor_id]
    assert _sign_in(client, other, PASSWORD).status_code == 200  # another login is not affected


def test_one_address_guessing_many_usernames_is_throttled(app: FastAPI, client: TestClient, world: World) -> None:
    free = services_of(app).settings.sign_in_address_failures_free
    for n in range(free + 1):
        assert _sign_in(client, f"guess-{n:03d}", "wrong password 1").status_code == 401
    response = _sign_in(client, world.usernames[world.a.counter.actor_id], PASSWORD)
    assert response.status_code == 429 and response.json()["code"] == "too_many_attempts"


def test_sixty_four_concurrent_sign_ins_never_run_more_argon2_than_the_bound(database_url: str) -> None:
    """The oracle is a wrapper around the hasher that counts computations in flight (not the
    service's own statistics); each verification is slowed so that they would all overlap."""
    ledger = Ledger(database_url)
    settings = settings_for_tests(argon2_concurrent_max=3, argon2_wait_seconds=0.5)
    auth = AuthService(ApiStore(ledger.database), settings)

    class CountingHasher:
        def __init__(self, inner: Any) -> None:
            self.inner, self.now, self.peak, self.lock = inner, 0, 0, threading.Lock()

        def verify(self, stored: str, password: str) -> bool:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                time.sleep(0.05)
                return bool(self.inner.verify(stored, password))
            finally:
                with self.lock:
                    self.now -= 1

    counting = CountingHasher(auth._hasher)
    auth._hasher = counting  # type: ignore[assignment]  # a test double

    def attempt(n: int) -> str:
        try:
            auth.login(f"nobody-{n}", "wrong password 1", client=f"10.1.0.{n}")
        except (InvalidCredentials, SignInBusy, TooManyAttempts) as refused:
            return refused.code
        return "signed_in"

    try:
        with ThreadPoolExecutor(max_workers=64) as pool:
            outcomes = list(pool.map(attempt, range(64)))
    finally:
        ledger.close()
    assert counting.peak <= 3
    assert set(outcomes) <= {"invalid_credentials", "sign_in_busy"} and "invalid_credentials" in outcomes


# -- weak passwords --------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["aaaaaaaaaa", "1234567890", "0987654321", "abcdefghijkl", "ababababab",
                                      "password123", "Password2026!", "qwertyuiop", "woaini1314",
                                      "iloveyou12345"])
def test_weak_passwords_are_refused_with_a_chinese_message(password: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password(password, username="counter-zixin-01", chars_min=10)
    assert refused.value.code == "weak_password" and http_status_of(refused.value) == 422
    assert any("\u4e00" <= c <= "\u9fff" for c in refused.value.detail)


def test_the_username_itself_is_refused() -> None:
    with pytest.raises(WeakPassword, match="用户名"):
        check_password("counter-zixin-01", username="counter-zixin-01", chars_min=10)
    with pytest.raises(WeakPassword):
        check_password("my-counter-zixin-01!", username="counter-zixin-01", chars_min=10)


def test_good_and_generated_passwords_pass() -> None:
    assert len(common_passwords()) >= 2000
    check_password(PASSWORD, username="member-1", chars_min=10)
    for _ in range(200):
        check_password(new_password(), username="region-admin", chars_min=10)


def test_weak_new_password_is_refused_by_the_api(client: TestClient, world: World) -> None:
    username = world.usernames[world.a.counter.actor_id]
    headers = world.headers(world.a.counter)
    for weak in ("aaaaaaaaaa", "1234567890", username, "password123"):
        response = client.post("/v1/auth/password", headers=headers,
                               json={"old_password": PASSWORD, "new_password": weak})
        assert response.status_code == 422 and response.json()["code"] == "weak_password", weak
    assert _sign_in(client, username, PASSWORD).status_code == 200  # nothing changed


def test_weak_password_is_refused_by_the_cli(tmp_path: Path) -> None:
    from api.cli import app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    ledger = Ledger(db)
    ledger.init_region(code="320102", name="南京市玄武区")
    ledger.close()
    runner = CliRunner()
    weak = runner.invoke(app, ["logins", "admin", "--password-stdin", "--db", db], input="1234567890\n")
    assert weak.exit_code == 2 and "weak_password" in weak.output
    good = runner.invoke(app, ["logins", "admin", "--password-stdin", "--db", db], input=PASSWORD + "\n")
    assert good.exit_code == 0, good.output


# -- purging ----------------------------------------------------------------------------------------

def _old_rows(app: FastAPI, world: World) -> str:
    services = services_of(app)
    token = world.tokens[world.a.counter.actor_id]
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with services.store.begin() as connection:
        connection.execute(tokens.update().where(tokens.c.token_sha256 == token_digest(token))
                           .values(expires_at=long_ago))
        connection.execute(idempotency.insert().values(
            actor_id=str(world.a.counter.actor_id), idempotency_key="old-key", fingerprint="0" * 64,
            status_code=200, body="{}", created_at=long_ago))
        connection.execute(idempotency.insert().values(
            actor_id=str(world.a.counter.actor_id), idempotency_key="new-key", fingerprint="0" * 64,
            status_code=200, body="{}", created_at=datetime.now(UTC)))
    return token


def _counts(app: FastAPI, token: str) -> tuple[int, list[str]]:
    with services_of(app).store.connect() as connection:
        expired = connection.execute(sa.select(sa.func.count()).select_from(tokens)
                                     .where(tokens.c.token_sha256 == token_digest(token))).scalar_one()
        keys = [r[0] for r in connection.execute(sa.select(idempotency.c.idempotency_key)
                                                 .where(idempotency.c.idempotency_key.in_(["old-key", "new-key"])))]
    return expired, sorted(keys)


def test_purge_removes_expired_tokens_and_idempotency_records_past_retention(app: FastAPI, world: World) -> None:
    token = _old_rows(app, world)
    assert _counts(app, token) == (1, ["new-key", "old-key"])
    long_ago = datetime.now(UTC) - timedelta(days=5)
    with services_of(app).store.begin() as connection:
        connection.execute(activation_codes.insert().values(
            code_sha256="f" * 64, member_id=str(world.a.member.actor_id), issued_by=str(world.a.unit.actor_id),
            issued_by_role="unit", reason="test", created_at=long_ago, expires_at=long_ago, used_at=None))
    purged_tokens, purged_records = services_of(app).purger.run_once()
    assert purged_tokens >= 1 and purged_records == 1
    assert _counts(app, token) == (0, ["new-key"])
    with services_of(app).store.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(activation_codes)).scalar_one() == 0


def test_the_service_purges_on_a_schedule(database_url: str) -> None:
    ledger = Ledger(database_url)
    app = create_app(settings_for_tests(purge_interval_seconds=0.1), ledger)
    try:
        with TestClient(app):
            from tests.api.world import build_world

            world = build_world(app)
            token = _old_rows(app, world)
            deadline = time.monotonic() + 20
            while _counts(app, token) != (0, ["new-key"]) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _counts(app, token) == (0, ["new-key"])
            assert services_of(app).purger.runs >= 1
    finally:
        ledger.close()
