"""The service's parts, built once per app by `create_app` (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

from api.auth import AuthService
from api.idempotency import IdempotencyStore, Slot, Stored
from api.readmodels import ReadModels
from api.settings import Settings
from api.store import ApiStore
from api.writer import GroupCommitWriter
from ledger.application import Ledger


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

    def close(self) -> None:
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
    return Services(settings=settings, ledger=ledger, store=store, auth=auth, idempotency=idempotency,
                    writer=writer, read_models=ReadModels(ledger), owns_ledger=owns_ledger)
