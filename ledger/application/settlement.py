"""通存通兑 settlement between two regions (issue #14): who owes whom, each side from its own log.

Between regions X and Y, X's statement lists, by X's own records:
* `as_home` — redemptions of X's members captured at Y's counters (TimeAccount.HoldCaptured with
  counter region Y): X owes Y the goods its members took there;
* `as_counter` — redemptions at X's counters for Y's members (RemoteRedemption.Captured with home Y,
  each with Y's signed "captured" answer): Y owes X;
with each entry's leaf in X's Merkle log (the capture event's leaf index), the totals, the net, and a
checkpoint X signed over its whole log (so every leaf listed is in it). The statement is cumulative
(every capture so far), signed with X's region key. Its form is read by
`ledger.verification.settlement.read_statement`; `make_evidence` writes what an auditor checks offline
against both regions' logs with their root keys alone (`ledger.verification.settlement.audit_evidence`).

Y verifies X's statement against its own log: X's `as_home` must be exactly Y's `as_counter` and X's
`as_counter` exactly Y's `as_home` (same redemption ids, same minutes). A disagreement names each
redemption in dispute and what each side recorded. Total: any bytes → a Verdict or SettlementRefused.
In an exchange, Y answers with its own statement and its verdict on X's, signed as a whole and bound to
the statement it judged.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from ledger.application import Ledger
from ledger.application.anywhere import (
    AnywhereRefused,
    Post,
    check_peer_signature,
    error_code_of,
    read_message,
    sign_message,
)
from ledger.domain.anywhere import RemoteRedemption, SettlementLog
from ledger.domain.base import CLOCK
from ledger.domain.errors import Unavailable
from ledger.signing.canonical import JsonInputError, canonical_bytes, loads_bounded
from ledger.signing.message import Signed
from ledger.domain.values import check_region_code
from ledger.verification.settlement import (
    EVIDENCE_FORMAT,
    FORMAT,
    STATEMENT_BYTES_MAX,
    SettlementRefused,
    read_statement,
)

VERDICT_FORMAT = "timeledger-settlement-verdict/v1"
HOLD_CAPTURED = "ledger.domain.time_account:TimeAccount.HoldCaptured"  # stored topics never move
CAPTURED_OFFLINE = "ledger.domain.time_account:TimeAccount.CapturedOffline"
REMOTE_CAPTURED = "ledger.domain.anywhere:RemoteRedemption.Captured"
REMOTE_PRESENTED = "ledger.domain.anywhere:RemoteRedemption.OfflinePresented"
REMOTE_OFFLINE = "ledger.domain.anywhere:RemoteRedemption.AcceptedOffline"
SCAN_PAGE = 1000  # notifications read at a time
FEDERATION_SETTLEMENT_PATH = "/v1/federation/settlements"


@dataclass(frozen=True)
class Entry:
    redemption_id: str
    minutes: int
    position: int  # the notification id of the capture in the log of the side that lists it


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


def _statement(ledger: Ledger, peer: str, log: Any) -> tuple[bytes, list[Any], Any]:
    """This region's signed, cumulative statement with `peer`, the leaves of the captures it lists, and
    the checkpoint it is bound to (signed after the scan, so it holds every capture found)."""
    from ledger.application.checkpoints import sign_checkpoint

    peer = check_region_code(peer)
    ledger.get_region().require_peer(peer)
    captured = captures_with(ledger, peer)
    checkpoint = sign_checkpoint(ledger, log, reuse_latest=True)
    leaves = log.leaves_at_positions(entry.position for entry in [*captured.as_home, *captured.as_counter])
    missing = [entry.position for entry in [*captured.as_home, *captured.as_counter]
               if entry.position not in leaves or leaves[entry.position].index >= checkpoint.size]
    if missing:  # the log caught up before signing: a capture outside it is a broken log, never skipped
        raise Unavailable(f"captures at positions {missing[:5]} are not in the checkpoint; run `timeledger audit`")

    def listed(entries: list[Entry]) -> list[list[Any]]:
        return [[entry.redemption_id, entry.minutes, leaves[entry.position].index] for entry in entries]

    owed_by_us, owed_to_us = captured.we_owe_minutes, captured.they_owe_minutes
    body = {"format": FORMAT, "from": ledger.region_code, "to": peer, "made_at": CLOCK.get()().isoformat(),
            "as_home": listed(captured.as_home), "as_counter": listed(captured.as_counter),
            "totals": {"as_home_minutes": owed_by_us, "as_counter_minutes": owed_to_us,
                       "net_minutes": owed_to_us - owed_by_us},
            "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex(), "note": checkpoint.note}}
    used = [leaves[entry.position] for entry in [*captured.as_home, *captured.as_counter]]
    return sign_message(ledger, body), used, checkpoint


def make_statement(ledger: Ledger, peer: str) -> bytes:
    """This region's signed, cumulative settlement statement with `peer`, bound to a checkpoint."""
    from ledger.storage.merkle_log import MerkleLog

    return _statement(ledger, peer, MerkleLog.for_ledger(ledger))[0]


def make_evidence(ledger: Ledger, peer: str) -> bytes:
    """What an auditor takes away to check this region's settlement with `peer` offline
    (`ledger.verification.settlement`): the statement, the capture event behind every entry and the key
    events of every signer up to the root, each with its inclusion proof against the statement's checkpoint."""
    from ledger.application.certificates import LeafSelection
    from ledger.signing import merkle
    from ledger.storage.merkle_log import MerkleLog

    log = MerkleLog.for_ledger(ledger)
    statement, leaves, checkpoint = _statement(ledger, peer, log)
    selection = LeafSelection()
    selection.add(log, leaves)
    selection.add_key_chain(log, {checkpoint.key_id, ledger.signer_of(ledger.region_actor())[0]}, checkpoint.size)
    ordered = sorted(selection.leaves)
    paths = merkle.inclusion_proofs(log, ordered, checkpoint.size)
    return canonical_bytes({"format": EVIDENCE_FORMAT, "statement": statement.decode(),
                            "events": [{"index": index, "event": _b64(selection.envelopes[index]),
                                        "proof": [_b64(value) for value in paths[index]]} for index in ordered]})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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
    def from_a_peer(signed: Signed, region: str, to: str) -> None:
        if to != ledger.region_code:
            raise SettlementRefused("settlement_wrong_region", f"the statement is for region {to}")
        try:
            check_peer_signature(ledger, signed, region)
        except AnywhereRefused as refused:
            raise SettlementRefused(refused.code.replace("anywhere_", "settlement_"), str(refused)) from None

    parsed = read_statement(statement, from_a_peer)
    peer = parsed.from_region
    _check_checkpoint(ledger, peer, parsed.checkpoint)
    captured = captures_with(ledger, peer)
    ours_counter = {e.redemption_id: e.minutes for e in captured.as_counter}
    ours_home = {e.redemption_id: e.minutes for e in captured.as_home}
    verdict = Verdict(peer=peer)
    for direction, listed, ours in (("their_members", parsed.as_home, ours_counter),
                                    ("our_members", parsed.as_counter, ours_home)):
        theirs = {redemption_id: minutes for redemption_id, (minutes, _) in listed.items()}
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
    signed_verdict = sign_message(ledger, {"format": VERDICT_FORMAT, "from": ledger.region_code, "to": verdict.peer,
                                           "statement_sha256": hashlib.sha256(statement).hexdigest(),
                                           **verdict_json(verdict)})
    return json.dumps({"statement": ours.decode(), "verdict": signed_verdict.decode()},
                      ensure_ascii=False, separators=(",", ":")).encode()


def _their_verdict(ledger: Ledger, peer: str, sent: bytes, text: Any) -> dict[str, Any]:
    """The peer's verdict on the statement this region sent: signed by the peer's key, about these bytes."""
    try:
        signed = read_message(text.encode() if isinstance(text, str) else text, VERDICT_FORMAT)
        check_peer_signature(ledger, signed, peer)
    except (AnywhereRefused, UnicodeError) as refused:
        raise SettlementRefused("settlement_verdict_invalid", f"region {peer}'s verdict does not verify: "
                                f"{refused}") from None
    body = signed.body
    if (body.get("from"), body.get("to"), body.get("statement_sha256")) != (
            peer, ledger.region_code, hashlib.sha256(sent).hexdigest()):
        raise SettlementRefused("settlement_verdict_invalid", f"region {peer}'s verdict is not about the statement sent")
    return body


@dataclass(frozen=True)
class Exchange:
    ours: Verdict  # the peer's statement checked against this region's log
    theirs: dict[str, Any]  # the peer's verdict on this region's statement, signed by it about the bytes sent


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
        if 400 <= status < 500 and status not in (408, 425, 429):
            raise SettlementRefused("settlement_peer_refused",
                                    f"region {peer} refused this region's statement ({status} {error_code_of(answer_bytes)})")
        raise PeerUnreachable(f"region {peer} answered {status}; try again later")
    try:
        answer = loads_bounded(answer_bytes[:STATEMENT_BYTES_MAX * 2])
        statement, verdict_text = answer["statement"].encode(), answer["verdict"]
    except (JsonInputError, KeyError, TypeError, AttributeError, UnicodeError) as error:
        raise SettlementRefused("settlement_unreadable", f"region {peer}'s answer is not readable: {error}") from None
    verdict = verify_statement(ledger, statement)
    if verdict.peer != peer:
        raise SettlementRefused("settlement_wrong_key", f"the answer's statement is from region {verdict.peer}")
    theirs = _their_verdict(ledger, peer, ours, verdict_text)
    write(lambda: record_verdict(ledger, verdict, sent=True))
    return Exchange(verdict, theirs)


__all__ = ["Captures", "Dispute", "Entry", "Exchange", "FEDERATION_SETTLEMENT_PATH", "FORMAT", "PeerUnreachable",
           "STATEMENT_BYTES_MAX", "SettlementRefused", "VERDICT_FORMAT", "Verdict", "answer_exchange",
           "captures_by_peer", "captures_with", "exchange", "make_evidence", "make_statement", "record_verdict",
           "verdict_json", "verify_statement"]
