"""The service's parts, built once per app by `create_app` (the composition root)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from api import peer_http
from api.auth import AuthService
from api.idempotency import IdempotencyStore, Slot, Stored
from api.member_access import MemberAccess
from api.readmodels import ReadModels
from api.settings import Settings
from api.store import ApiStore
from api.writer import GroupCommitWriter
from ledger.application import Ledger, anywhere, settlement
from ledger.domain.errors import LedgerError


log = logging.getLogger("timeledger.api.purge")


class Purger:
    """Every `interval_seconds`, deletes expired tokens (`AuthService.purge_expired`) and idempotency
    records older than `idempotency_retention_seconds`; stops with the service."""

    def __init__(self, auth: AuthService, idempotency: IdempotencyStore, *, interval_seconds: float,
                 idempotency_retention_seconds: float) -> None:
        self._auth = auth
        self._idempotency = idempotency
        self._interval = interval_seconds
        self._retention = idempotency_retention_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.member_access: MemberAccess | None = None  # set by build_services
        self.holds: HoldSweeper | None = None  # set by build_services
        self.settlements: SettlementScheduler | None = None  # set by build_services

    def run_once(self) -> tuple[int, int]:
        """(tokens purged, idempotency records purged); expired activation codes go too."""
        tokens = self._auth.purge_expired()
        records = self._idempotency.purge_older_than(self._retention)
        if self.member_access is not None:
            self.member_access.purge_expired()
        if self.holds is not None:
            self.holds.run_once()
        if self.settlements is not None:
            self.settlements.run_once()
        self.runs += 1
        return tokens, records

    def start(self) -> None:
        if self._interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="timeledger-purger", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception:
                log.exception("periodic purge failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class HoldSweeper:
    """通存通兑 housekeeping on the purger's schedule: this region's members' holds whose time ran out
    are released, and this region's counters' captures whose answer was lost are sent again
    (`anywhere.sweep`; it remembers where the oldest open one is, so each run reads only from there)."""

    def __init__(self, ledger: Ledger, write: Callable[[Callable[[], Any]], Any]) -> None:
        self._ledger = ledger
        self._write = write
        self._since = 1

    def run_once(self) -> anywhere.Swept:
        if self._ledger.region_code is None:
            return anywhere.Swept(0, 0, self._since)
        swept = anywhere.sweep(self._ledger, since=self._since, actor=self._ledger.region_actor(),
                               post=partial(peer_http.post, timeout=PEER_TIMEOUT_SECONDS), write=self._write)
        self._since = swept.since
        return swept


PEER_TIMEOUT_SECONDS = 10.0  # a retried capture waits this long for the member's home region
SETTLEMENT_TIMEOUT_SECONDS = 60.0  # a statement is checked against the peer's whole log before it answers


class SettlementScheduler:
    """通存通兑 settlement on a schedule (issue #14): once every `interval_seconds` (a setting; 0: on demand
    only), on the purger's thread, this region exchanges its signed statement with each peer that has a
    service address (`settlement.exchange`: each side checks the other's against its own log and keeps
    the verdict); a peer that does not answer is simply tried at the next interval."""

    def __init__(self, ledger: Ledger, write: Callable[[Callable[[], Any]], Any], *, interval_seconds: float,
                 post: Callable[[str, bytes], tuple[int, bytes]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._write = write
        self._interval = interval_seconds
        self._post = post or partial(peer_http.post, timeout=SETTLEMENT_TIMEOUT_SECONDS)
        self._clock = clock
        self._due = clock() + interval_seconds  # the first exchange one interval after the start

    def run_once(self) -> dict[str, str]:
        """Peer code → "agreed", "disputes N" or the refusal's code, for the peers exchanged with now."""
        if self._interval <= 0 or self._ledger.region_code is None or self._clock() < self._due:
            return {}
        self._due = self._clock() + self._interval
        outcomes: dict[str, str] = {}
        for code, peer in sorted(self._ledger.get_region().peers.items()):
            if not peer.get("address"):
                continue
            try:
                verdict = settlement.exchange(self._ledger, code, self._post, self._write).ours
                outcomes[code] = "agreed" if verdict.ok else f"disputes {len(verdict.disputes)}"
            except LedgerError as error:
                outcomes[code] = error.code
            log.info("settlement with region %s: %s", code, outcomes[code])
        return outcomes


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    store: ApiStore
    auth: AuthService
    idempotency: IdempotencyStore
    writer: GroupCommitWriter
    read_models: ReadModels
    owns_ledger: bool  # close the ledger on shutdown (it was made here, not handed in)
    purger: Purger = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    member_access: MemberAccess = field(default=None)  # type: ignore[assignment]  # set in __post_init__

    def close(self) -> None:
        if self.purger is not None:
            self.purger.stop()
        self.read_models.stop()
        self.writer.stop()
        self.store.close()
        if self.owns_ledger:
            self.ledger.close()


def build_services(settings: Settings, ledger: Ledger | None = None) -> Services:
    owns_ledger = ledger is None
    if ledger is None:
        ledger = Ledger(settings.database_url)
    store = ApiStore(ledger.database)
    auth = AuthService(store, settings)
    idempotency = IdempotencyStore(store, wait_seconds=settings.idempotency_wait_seconds)

    def store_responses(done: list[tuple[Slot, Stored]]) -> None:
        idempotency.save_many(done)

    writer = GroupCommitWriter(ledger, commands_max=settings.group_commit_commands_max, after_batch=store_responses,
                               before_batch=idempotency.lookup_many)
    purger = Purger(auth, idempotency, interval_seconds=settings.purge_interval_seconds,
                    idempotency_retention_seconds=settings.idempotency_retention_seconds)
    member_access = MemberAccess(ledger, auth, store, writer.submit)
    purger.member_access = member_access
    purger.holds = HoldSweeper(ledger, writer.submit)
    purger.settlements = SettlementScheduler(ledger, writer.submit,
                                             interval_seconds=settings.settlement_interval_seconds)
    return Services(settings=settings, ledger=ledger, store=store, auth=auth, idempotency=idempotency,
                    writer=writer, read_models=ReadModels(ledger), owns_ledger=owns_ledger, purger=purger,
                    member_access=member_access)


def services_of(app: Any) -> Services:
    """The services of a running app (FastAPI or Starlette: `request.app` for a request)."""
    services: Services = app.state.services
    return services
