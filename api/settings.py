"""Settings of the HTTP service, from TIMELEDGER_* environment variables (pydantic-settings).

Nothing is read at import time: `create_app(settings=None)` builds `Settings()` when it is called.
Outside development the settings refuse unsafe choices (an in-memory store, cheap password hashing,
day-long tokens), so a production server cannot start with a test configuration by accident.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TOKEN_TTL_SECONDS_MAX = 7 * 24 * 3600  # a week: a counter device logs in again at least weekly
TOKEN_TTL_SECONDS_PRODUCTION_MAX = 24 * 3600  # a working day plus margin; revocation covers the rest
GROUP_COMMIT_COMMANDS_MAX = 1024  # commands per transaction: bounds a transaction's size and latency
# A bundle over HTTP. A bundle is canonical JSON whose bulk is base64 signed events: ~1.06 KB per event
# measured (envelope, its share of the key chain and the inclusion proofs), 1.3 KB the largest seen, so
# 2 KiB per event bounds it with margin; 8,192 events is forty years of weekly service. The product is
# the request limit, read before the body and enforced while streaming it. Longer histories (up to
# ledger.application.transfers.BUNDLE_EVENTS_MAX) move as files: `timeledger transfer import`.
BUNDLE_EVENT_BYTES_MAX = 2048
BUNDLE_REQUEST_EVENTS_MAX = 8192
BUNDLE_REQUEST_BYTES_MAX = BUNDLE_REQUEST_EVENTS_MAX * BUNDLE_EVENT_BYTES_MAX  # 16 MiB
BUNDLE_REQUEST_BYTES_LIMIT = 256 * 1024 * 1024  # the setting's ceiling: ledger.application.transfers.BUNDLE_BYTES_MAX


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIMELEDGER_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development | test | production")
    database_url: str | None = Field(
        None, description="sqlite:///file.db, postgresql://… or memory:; default: the ledger's default")
    token_ttl_seconds: int = Field(8 * 3600, ge=60, le=TOKEN_TTL_SECONDS_MAX,
                                   description="Lifetime of a bearer token")
    token_cache_seconds: float = Field(
        2.0, ge=0, le=60, description="How long a verified token is trusted without a database look-up. "
        "Revocation through this server is immediate; revocation by another process takes at most this long.")
    password_chars_min: int = Field(10, ge=8, le=128)
    # argon2id with OWASP's recommended minimum (19 MiB, t=2, p=1): ~40 ms per sign-in on one core.
    argon2_time_cost: int = Field(2, ge=1, le=20)
    argon2_memory_kib: int = Field(19 * 1024, ge=8, le=1024 * 1024)
    # Sign-in throttling (api/ratelimit.py): growing delays per username and per client address, and a
    # bound on argon2 computations in flight (each takes argon2_memory_kib: 4 × 19 MiB at most).
    sign_in_failures_free: int = Field(5, ge=1, le=100, description="Failures per username before delays start")
    sign_in_address_failures_free: int = Field(
        20, ge=1, le=1000, description="Failures per client address before delays start (an office shares one)")
    sign_in_delay_max_seconds: float = Field(900.0, ge=1, le=86400, description="Longest sign-in delay")
    argon2_concurrent_max: int = Field(4, ge=1, le=64, description="Password hashes computed at once")
    argon2_wait_seconds: float = Field(2.0, ge=0, le=60,
                                       description="How long a sign-in waits for a hashing slot before 503")
    idempotency_retention_seconds: int = Field(
        7 * 24 * 3600, ge=3600, le=366 * 24 * 3600, description="Idempotency records older than this are purged")
    purge_interval_seconds: float = Field(
        3600.0, ge=0, le=86400, description="Purge expired tokens and old idempotency records this often (0: never)")
    group_commit_commands_max: int = Field(256, ge=1, le=GROUP_COMMIT_COMMANDS_MAX)
    idempotency_wait_seconds: float = Field(
        30.0, ge=0.1, le=300, description="How long a retry waits for the same request still in progress")
    threadpool_size: int = Field(128, ge=8, le=1024, description="Worker threads for the synchronous routes")
    docs_enabled: bool = True
    checkpoint_interval_seconds: float = Field(
        300.0, ge=0, le=86400, description="Sign a checkpoint of the Merkle log this often (0: only on demand)")
    public_url: str = Field("", description="This service's address as other regions reach it (published on the "
                                            "region card; transfers are pushed to a peer's address)")
    bundle_request_bytes_max: int = Field(
        BUNDLE_REQUEST_BYTES_MAX, ge=64 * 1024, le=BUNDLE_REQUEST_BYTES_LIMIT,
        description="Largest transfer bundle accepted over HTTP (bytes). Checked against Content-Length before "
                    "reading and while streaming the body; larger bundles move as files")
    federation_requests_per_minute: float = Field(
        30.0, gt=0, le=60_000, description="Anonymous federation requests (bundle pushes) per client address and "
                                           "minute, after the burst; more are answered 429 rate_limited")
    federation_burst: int = Field(10, ge=1, le=10_000, description="Federation requests a client address may "
                                                                  "make at once before the rate applies")
    federation_redemptions_per_minute: float = Field(
        12_000.0, gt=0, le=600_000, description="通存通兑 requests (signed by a peer region: each is one counter's "
                                                "step) per client address and minute, after the burst; more are "
                                                "answered 429 and the counter is told to retry")
    federation_redemptions_burst: int = Field(200, ge=1, le=100_000, description="通存通兑 requests a client "
                                                                                "address may make at once")
    settlement_interval_seconds: float = Field(
        86_400.0, ge=0, le=30 * 86_400, description="通存通兑: exchange signed settlement statements with every peer "
                                                    "that has a service address this often (0: on demand only)")
    federation_concurrent_max: int = Field(
        2, ge=1, le=64, description="Bundles read and verified at once from anonymous peers (each holds up to "
                                    "bundle_request_bytes_max in memory); more are answered 429 rate_limited")
    follow_read_models: bool = Field(True, description="Keep the read models (projections/) caught up in the "
                                     "background; list and report requests catch up themselves in any case")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment != "production":
            return self
        url = self.database_url or ""
        if url.startswith("memory") or url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("production needs a persistent database (TIMELEDGER_DATABASE_URL)")
        if self.argon2_time_cost < 2 or self.argon2_memory_kib < 19 * 1024:
            raise ValueError("production needs argon2 with time cost ≥ 2 and memory ≥ 19 MiB (OWASP minimum)")
        if self.token_ttl_seconds > TOKEN_TTL_SECONDS_PRODUCTION_MAX:
            raise ValueError("production tokens live at most one day")
        return self


def settings_for_tests(**overrides: object) -> Settings:
    """Settings for tests: cheap password hashing, no token cache surprises."""
    values: dict[str, object] = {"environment": "test", "argon2_time_cost": 1, "argon2_memory_kib": 8,
                                 "token_cache_seconds": 0.0}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]  # pydantic validates the values
