"""Group commit: one writer thread runs every command of this process.

Request threads put jobs on a queue and wait. The writer takes whatever has queued up (at most
`commands_max`) and runs those jobs inside one `ledger.batch()`: one transaction, one fsync, one
identity map — so two redemptions against one account in a batch see each other and can never
overdraw it. While a batch commits, new requests queue up and form the next batch; nobody waits
for a timer.

* A job refused (a `LedgerError` or `ApiError` raised before it changed anything) is answered with
  its refusal and the rest of the batch goes on.
* A job that failed after changing an aggregate, a batch whose save fails (`ConcurrentUpdate` from
  another process, a signing refusal at save time …) or any unexpected exception aborts the batch
  unsaved; its jobs are then run one by one, each in its own transaction, and a job that meets
  `ConcurrentUpdate` alone is retried once on fresh state.
* Jobs that must not share a transaction (client-signed statements, key changes) run alone.

Afterwards the writer stores the idempotency records of the batch's successful jobs in one
transaction (see api/idempotency.py), so retries find them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from api.errors import REFUSALS
from ledger.application import Ledger
from ledger.domain.errors import ConcurrentUpdate

log = logging.getLogger("timeledger.api.writer")
_STOP = object()


class _Poisoned(Exception):
    """A job failed after changing an aggregate of the batch: the batch must not be saved."""


@dataclass
class Job:
    run: Callable[[], Any]
    alone: bool = False  # must run in its own transaction
    idempotency: Any = None  # handed to `after_batch` with the result once the job succeeded
    future: Future[Any] = field(default_factory=Future)


@dataclass
class WriterStats:
    batches: int = 0
    commands: int = 0
    fallbacks: int = 0
    largest_batch: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "commands": self.commands, "fallbacks": self.fallbacks,
                "largest_batch": self.largest_batch,
                "mean_batch": round(self.commands / self.batches, 2) if self.batches else 0.0}


class GroupCommitWriter:
    def __init__(self, ledger: Ledger, *, commands_max: int = 256,
                 after_batch: Callable[[list[tuple[Any, Any]]], None] | None = None,
                 before_batch: Callable[[list[Any]], dict[Any, Any]] | None = None) -> None:
        self._ledger = ledger
        self._commands_max = commands_max
        self._after_batch = after_batch
        self._before_batch = before_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._held: Job | None = None
        self._inline_lock = threading.Lock()
        self.stats = WriterStats()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="timeledger-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- submitting ------------------------------------------------------------------------------
    def submit(self, run: Callable[[], Any], *, alone: bool = False, idempotency: Any = None) -> Any:
        """Run `run()` in the writer and return its result (or raise its exception)."""
        job = Job(run, alone, idempotency)
        if not self.running:  # no writer thread (a script, a test without lifespan): run inline
            with self._inline_lock:
                if self._answer_stored([job]):
                    self._run_alone(job)
                self._finish([job])
            return job.future.result()
        self._queue.put(job)
        return job.future.result()

    # -- the writer thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._held or self._queue.get()
            self._held = None
            if first is _STOP:
                return
            jobs = [first]
            if not first.alone:
                while len(jobs) < self._commands_max:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is _STOP or job.alone:
                        self._held = job  # runs next, on its own
                        break
                    jobs.append(job)
            try:
                todo = self._answer_stored(jobs)
                if todo:
                    self._run(todo)
            except BaseException as error:  # pragma: no cover - the writer must never die silently
                log.exception("writer failed")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
            self._finish(jobs)

    def _answer_stored(self, jobs: list[Job]) -> list[Job]:
        """Answer jobs whose idempotency key already has a stored response; return the rest."""
        slots = [job.idempotency for job in jobs if job.idempotency is not None]
        if not slots or self._before_batch is None:
            return jobs
        try:
            found = self._before_batch(slots)
        except Exception as error:
            log.exception("idempotency look-up failed")
            for job in jobs:
                job.future.set_exception(error)
            return []
        todo = []
        for job in jobs:
            answer = found.get(job.idempotency) if job.idempotency is not None else None
            if answer is None:
                todo.append(job)
            elif isinstance(answer, Exception):
                job.future.set_exception(answer)
            else:
                job.future.set_result(answer)
        return todo

    def _run(self, jobs: list[Job]) -> None:
        self.stats.batches += 1
        self.stats.commands += len(jobs)
        self.stats.largest_batch = max(self.stats.largest_batch, len(jobs))
        if len(jobs) == 1:
            self._run_alone(jobs[0])
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._ledger.batch():
                for job in jobs:
                    before = self._ledger.batch_mark()
                    try:
                        outcomes.append((True, job.run()))
                    except REFUSALS as error:
                        if self._ledger.batch_mark() != before:
                            raise _Poisoned() from error
                        outcomes.append((False, error))
        except Exception as error:  # noqa: BLE001 - the batch was not saved: fall back, one by one
            if not isinstance(error, (_Poisoned, ConcurrentUpdate)):
                log.warning("batch of %d failed (%s); running its commands one by one", len(jobs),
                            type(error).__name__)
            self.stats.fallbacks += 1
            for job in jobs:
                self._run_alone(job)
            return
        for job, (ok, value) in zip(jobs, outcomes):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    def _run_alone(self, job: Job) -> None:
        for attempt in range(2):
            try:
                job.future.set_result(job.run())
                return
            except ConcurrentUpdate as error:
                if attempt == 1:
                    job.future.set_exception(error)
            except BaseException as error:  # noqa: BLE001 - handed to the waiting request
                job.future.set_exception(error)
                return

    def _finish(self, jobs: list[Job]) -> None:
        done = [(job.idempotency, job.future.result()) for job in jobs
                if job.idempotency is not None and job.future.done() and job.future.exception() is None]
        if done and self._after_batch is not None:
            try:
                self._after_batch(done)
            except Exception:  # pragma: no cover - a lost idempotency record only costs a re-run
                log.exception("could not store idempotency records")
