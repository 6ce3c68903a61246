"""通存通兑 settlement between two regions (issue #14): who owes whom, each side from its own log.

Between regions X and Y, X's statement lists, by X's own records:
* `as_home` — redemptions of X's members captured at Y's counters (TimeAccount.HoldCaptured with
  counter region Y): X owes Y the goods its members took there;
* `as_counter` — redemptions at X's counters for Y's members (RemoteRedemption.Captured with home Y,
  each with Y's signed "captured" answer): Y owes X;
with each entry's position in X's log (the notification id of the capture), the totals, the net, and
a checkpoint X signed over its whole log (so every position listed is covered by it). The statement is
cumulative (every capture so far), signed with X's region key.

Y verifies X's statement against its own log: X's `as_home` must be exactly Y's `as_counter` and X's
`as_counter` exactly Y's `as_home` (same redemption ids, same minutes). A disagreement names each
redemption in dispute and what each side recorded. Total: any bytes → a Verdict or SettlementRefused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from ledger.application import Ledger
from ledger.application.anywhere import (
    AnywhereRefused,
    Post,
    check_peer_signature,
    read_message,
    sign_message,
)
from ledger.domain.anywhere import RemoteRedemption, SettlementLog
from ledger.domain.base import CLOCK
from ledger.domain.errors import InvalidInput, Unavailable
from ledger.signing.canonical import JsonInputError, loads_bounded
from ledger.domain.values import check_region_code

FORMAT = "timeledger-settlement/v1"
HOLD_CAPTURED = "ledger.domain.time_account:TimeAccount.HoldCaptured"  # stored topics never move
CAPTURED_OFFLINE = "ledger.domain.time_account:TimeAccount.CapturedOffline"
REMOTE_CAPTURED = "ledger.domain.anywhere:RemoteRedemption.Captured"
REMOTE_PRESENTED = "ledger.domain.anywhere:RemoteRedemption.OfflinePresented"
REMOTE_OFFLINE = "ledger.domain.anywhere:RemoteRedemption.AcceptedOffline"
SCAN_PAGE = 1000  # notifications read at a time
ENTRIES_MAX = 1_000_000  # a statement's entries on each side: far above a year between two districts
STATEMENT_BYTES_MAX = 32 * 1024 * 1024  # a statement's size (cumulative: far beyond a 通存通兑 message's)
FEDERATION_SETTLEMENT_PATH = "/v1/federation/settlements"


class SettlementRefused(InvalidInput):
    """A statement that does not verify (unreadable, not from the peer, not for this region)."""

    code = "settlement_refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Entry:
    redemption_id: str
    minutes: int
    position: int  # the notification id of the capture in the log of the side that lists it

    def as_json(self) -> list[Any]:
        return [self.redemption_id, self.minutes, self.position]


def _scan(ledger: Ledger, *topics: str) -> Iterator[Any]:
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=SCAN_PAGE, topics=list(topics))
        for notification in page:
            yield notification
        if len(page) < SCAN_PAGE:
            return
        start = page[-1].id + 1


@dataclass
class Captures:
    """The cross-region redemptions captured between this region and one peer, by this region's log."""

    as_home: list[Entry] = field(default_factory=list)  # this region's members at the peer's counters
    as_counter: list[Entry] = field(default_factory=list)  # the peer's members at this region's counters
    offline_pending: list[Entry] = field(default_factory=list)  # taken offline here, not yet presented to the peer

    @property
    def we_owe_minutes(self) -> int:
        return sum(entry.minutes for entry in self.as_home)

    @property
    def they_owe_minutes(self) -> int:
        return sum(entry.minutes for entry in self.as_counter)


def captures_by_peer(ledger: Ledger) -> dict[str, Captures]:
    """Every captured cross-region redemption in this region's log, by the other region (one pass)."""
    found: dict[str, Captures] = {}
    for notification in _scan(ledger, HOLD_CAPTURED, CAPTURED_OFFLINE):
        event: Any = ledger.mapper.to_domain_event(notification)
        found.setdefault(event.counter_region, Captures()).as_home.append(
            Entry(str(event.redemption_id), int(event.minutes), int(notification.id)))
    for notification in _scan(ledger, REMOTE_CAPTURED, REMOTE_PRESENTED, REMOTE_OFFLINE):
        record = ledger._get(notification.originator_id, RemoteRedemption)
        entry = Entry(str(record.redemption_id), int(record.minutes), int(notification.id))
        if notification.topic != REMOTE_OFFLINE:
            found.setdefault(record.home, Captures()).as_counter.append(entry)
        elif record.status == RemoteRedemption.OFFLINE:  # the exposure while the peer could not be reached
            found.setdefault(record.home, Captures()).offline_pending.append(entry)
    return found


def captures_with(ledger: Ledger, peer: str) -> Captures:
    return captures_by_peer(ledger).get(peer, Captures())


def make_statement(ledger: Ledger, peer: str) -> bytes:
    """This region's signed, cumulative settlement statement with `peer`, bound to a checkpoint."""
    from ledger.application.checkpoints import sign_checkpoint

    peer = check_region_code(peer)
    ledger.get_region().require_peer(peer)
    captured = captures_with(ledger, peer)
    as_home, as_counter = captured.as_home, captured.as_counter
    checkpoint = sign_checkpoint(ledger, reuse_latest=True)
    owed_by_us, owed_to_us = captured.we_owe_minutes, captured.they_owe_minutes
    body = {"format": FORMAT, "from": ledger.region_code, "to": peer, "made_at": CLOCK.get()().isoformat(),
            "as_home": [e.as_json() for e in as_home], "as_counter": [e.as_json() for e in as_counter],
            "totals": {"as_home_minutes": owed_by_us, "as_counter_minutes": owed_to_us,
                       "net_minutes": owed_to_us - owed_by_us},
            "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex(), "note": checkpoint.note}}
    return sign_message(ledger, body)


@dataclass(frozen=True)
class Dispute:
    redemption_id: str
    ours: int | None  # minutes in our record (None: we have none)
    theirs: int | None
    direction: str  # "their_members" (they are home) or "our_members" (we are home)


@dataclass
class Verdict:
    peer: str
    agreed: int = 0  # redemptions both sides recorded alike
    agreed_minutes_they_owe: int = 0
    agreed_minutes_we_owe: int = 0
    disputes: list[Dispute] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.disputes


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entries(value: Any, what: str) -> tuple[dict[str, int], int]:
    """The entries of one side (redemption id → minutes) and the highest position they name."""
    if not isinstance(value, list) or len(value) > ENTRIES_MAX:
        raise SettlementRefused("settlement_unreadable", f"{what} is a list of entries")
    found: dict[str, int] = {}
    last = 0
    for entry in value:
        if (not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str)
                or any(not _whole(n) or n <= 0 for n in entry[1:])):
            raise SettlementRefused("settlement_unreadable", f"an entry of {what} is [redemption id, minutes, position]")
        if entry[0] in found:
            raise SettlementRefused("settlement_unreadable", f"{what} lists a redemption twice")
        found[entry[0]] = entry[1]
        last = max(last, entry[2])
    return found, last


def _check_summary(body: dict[str, Any], theirs_home: dict[str, int], theirs_counter: dict[str, int],
                   last_position: int) -> None:
    """The totals are the sums of the entries, and the checkpoint covers every position listed: a
    statement that says otherwise of itself is not taken (whatever its entries say)."""
    owed_by_them, owed_to_them = sum(theirs_home.values()), sum(theirs_counter.values())
    expected = {"as_home_minutes": owed_by_them, "as_counter_minutes": owed_to_them,
                "net_minutes": owed_to_them - owed_by_them}
    totals = body.get("totals")
    if (not isinstance(totals, dict) or set(totals) != set(expected)
            or any(not _whole(totals[name]) or totals[name] != minutes for name, minutes in expected.items())):
        raise SettlementRefused("settlement_totals_mismatch", f"the totals are not the entries' sums {expected}")
    checkpoint = body.get("checkpoint")
    if (not isinstance(checkpoint, dict) or set(checkpoint) != {"size", "root", "note"}
            or not _whole(checkpoint["size"]) or not isinstance(checkpoint["root"], str)
            or not isinstance(checkpoint["note"], str) or checkpoint["size"] < last_position):
        raise SettlementRefused("settlement_unreadable", "the checkpoint does not cover every position listed")


def _check_checkpoint(ledger: Ledger, peer: str, checkpoint: dict[str, Any]) -> None:
    """The statement's checkpoint is one the peer's region key signed over its log, of the size and root
    the statement names (an auditor can then ask the peer for inclusion proofs of the positions)."""
    from ledger.signing import keys as ed25519
    from ledger.signing.note import Ed25519Verifier, NoteError, open_checkpoint
    from ledger.storage.checkpoints import origin_of

    public_key = ed25519.unb64(ledger.get_region().require_peer(peer)["public_key"])
    try:
        opened = open_checkpoint(checkpoint["note"], Ed25519Verifier(origin_of(peer), public_key))
    except (NoteError, ValueError) as error:
        raise SettlementRefused("settlement_checkpoint_invalid", f"the checkpoint does not verify: {error}") from None
    if opened.checkpoint.size != checkpoint["size"] or opened.checkpoint.root_hash.hex() != checkpoint["root"]:
        raise SettlementRefused("settlement_checkpoint_invalid", "the checkpoint's note names another tree")


def verify_statement(ledger: Ledger, statement: bytes) -> Verdict:
    """Check a peer's statement against this region's own log: every redemption in dispute is named."""
    try:
        signed = read_message(statement, FORMAT, bytes_max=STATEMENT_BYTES_MAX)
    except AnywhereRefused as refused:
        raise SettlementRefused("settlement_unreadable", str(refused)) from None
    body = signed.body
    if body.get("to") != ledger.region_code:
        raise SettlementRefused("settlement_wrong_region", f"the statement is for region {body.get('to')!r}")
    try:
        check_peer_signature(ledger, signed, body.get("from"))
    except AnywhereRefused as refused:
        raise SettlementRefused(refused.code.replace("anywhere_", "settlement_"), str(refused)) from None
    peer = body["from"]
    theirs_home, last_home = _entries(body.get("as_home"), "as_home")
    theirs_counter, last_counter = _entries(body.get("as_counter"), "as_counter")
    _check_summary(body, theirs_home, theirs_counter, max(last_home, last_counter))
    _check_checkpoint(ledger, peer, body["checkpoint"])
    captured = captures_with(ledger, peer)
    ours_counter = {e.redemption_id: e.minutes for e in captured.as_counter}
    ours_home = {e.redemption_id: e.minutes for e in captured.as_home}
    verdict = Verdict(peer=peer)
    for direction, theirs, ours in (("their_members", theirs_home, ours_counter),
                                    ("our_members", theirs_counter, ours_home)):
        for redemption_id in sorted(set(theirs) | set(ours)):
            mine, other = ours.get(redemption_id), theirs.get(redemption_id)
            if mine is not None and mine == other:
                verdict.agreed += 1
                if direction == "their_members":
                    verdict.agreed_minutes_they_owe += mine
                else:
                    verdict.agreed_minutes_we_owe += mine
            else:
                verdict.disputes.append(Dispute(redemption_id, mine, other, direction))
    return verdict


# -- the exchange over HTTP: one call, both statements ---------------------------------------------------
Write = Callable[[Callable[[], Any]], Any]  # runs a step that records (the service's writer; direct in the CLI)


class PeerUnreachable(Unavailable):
    """The peer region did not answer the settlement exchange (nothing recorded here)."""

    code = "settlement_peer_unreachable"


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {"peer": verdict.peer, "ok": verdict.ok, "agreed": verdict.agreed,
            "agreed_minutes_they_owe": verdict.agreed_minutes_they_owe,
            "agreed_minutes_we_owe": verdict.agreed_minutes_we_owe,
            "disputes": [{"redemption_id": d.redemption_id, "ours": d.ours, "theirs": d.theirs,
                          "direction": d.direction} for d in verdict.disputes]}


def record_verdict(ledger: Ledger, verdict: Verdict, *, sent: bool) -> None:
    """Keep the verdict's summary in the peer's SettlementLog (signed into the log; the page shows the last)."""
    ledger.get_region().require_peer(verdict.peer)
    log_id = SettlementLog.create_id(verdict.peer)
    log = ledger._get(log_id, SettlementLog) if ledger._exists(log_id) else SettlementLog.open(peer=verdict.peer)
    log.checked(checked_at=CLOCK.get()().isoformat(), agreed=verdict.agreed,
                they_owe_minutes=verdict.agreed_minutes_they_owe, we_owe_minutes=verdict.agreed_minutes_we_owe,
                disputes=len(verdict.disputes), sent=sent)
    ledger._commit(ledger.region_actor(), None, log)


def last_verdicts(ledger: Ledger, peers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The last verdict kept for each of `peers` that has one."""
    found = {}
    for peer in peers:
        log_id = SettlementLog.create_id(peer)
        if ledger._exists(log_id):
            last = ledger._get(log_id, SettlementLog).last
            if last is not None:
                found[peer] = last
    return found


def answer_exchange(ledger: Ledger, statement: bytes, verdict: Verdict) -> bytes:
    """A peer's statement, already verified into `verdict`: record the verdict and answer with this
    region's own statement for that peer and the verdict (run by the writer)."""
    record_verdict(ledger, verdict, sent=False)
    ours = make_statement(ledger, verdict.peer)
    return json.dumps({"statement": ours.decode(), "verdict": verdict_json(verdict)},
                      ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Exchange:
    ours: Verdict  # the peer's statement checked against this region's log
    theirs: dict[str, Any]  # the peer's verdict on this region's statement, as it reported it


def exchange(ledger: Ledger, peer: str, post: Post, write: Write) -> Exchange:
    """Send this region's statement to `peer`'s federation address; check the statement it answers with
    against this region's log and record that verdict. Refusals: the peer's code (SettlementRefused),
    the peer not answering (PeerUnreachable), its statement not verifying (SettlementRefused)."""
    peer = check_region_code(peer)
    address = ledger.get_region().require_peer(peer).get("address", "").rstrip("/")
    if not address:
        raise PeerUnreachable(f"region {peer} has no service address")
    ours = write(lambda: make_statement(ledger, peer))
    try:
        status, answer_bytes = post(address + FEDERATION_SETTLEMENT_PATH, ours)
    except OSError as error:
        raise PeerUnreachable(f"region {peer} did not answer: {error}") from None
    if status != 200:
        from ledger.application.anywhere import _error_code

        if 400 <= status < 500 and status not in (408, 425, 429):
            raise SettlementRefused("settlement_peer_refused",
                                    f"region {peer} refused this region's statement ({status} {_error_code(answer_bytes)})")
        raise PeerUnreachable(f"region {peer} answered {status}; try again later")
    try:
        answer = loads_bounded(answer_bytes[:STATEMENT_BYTES_MAX * 2])
        statement, theirs = answer["statement"].encode(), answer["verdict"]
        if not isinstance(theirs, dict):
            raise TypeError("the verdict is an object")
    except (JsonInputError, KeyError, TypeError, AttributeError) as error:
        raise SettlementRefused("settlement_unreadable", f"region {peer}'s answer is not readable: {error}") from None
    verdict = verify_statement(ledger, statement)
    if verdict.peer != peer:
        raise SettlementRefused("settlement_wrong_key", f"the answer's statement is from region {verdict.peer}")
    write(lambda: record_verdict(ledger, verdict, sent=True))
    return Exchange(verdict, theirs)


__all__ = ["Captures", "Dispute", "Entry", "Exchange", "FEDERATION_SETTLEMENT_PATH", "FORMAT", "PeerUnreachable",
           "STATEMENT_BYTES_MAX", "SettlementRefused", "Verdict", "answer_exchange", "captures_by_peer",
           "captures_with", "exchange", "make_statement", "record_verdict", "verdict_json", "verify_statement"]
