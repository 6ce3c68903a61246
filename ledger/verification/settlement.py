"""通存通兑 settlement statements, read and checked (issue #14); and the auditor's offline check of two
regions' settlement evidence against both logs, trusting only root public keys.

A statement (`timeledger-settlement/v1`, a signed message, see `ledger.signing.message`) from region X
to region Y lists, by X's own log, `as_home` (X's members' redemptions captured at Y's counters) and
`as_counter` (Y's members' redemptions at X's counters), each entry `[redemption id, minutes, leaf
index]` — the leaf of the capture in X's Merkle log — with the totals and a checkpoint X signed over
a tree that holds every leaf listed.

Evidence (`timeledger-settlement-evidence/v1`, canonical JSON) is what an auditor takes away from X:

    {"format": "timeledger-settlement-evidence/v1",
     "statement": "<X's signed statement, verbatim>",
     "events": [{"index": <leaf index>, "event": "<base64 stored envelope>", "proof": ["<base64 hash>", …]}, …]}

`events` holds the capture event behind every entry and the `Key.Registered`/`Key.Revoked` events of
every key that signed them, the statement or the checkpoint, up to the root — each with its RFC 9162
inclusion proof against the statement's checkpoint, sorted by leaf index.

`audit_evidence(x, y, roots)` checks each side (X's region key chains to one of the root keys; the
statement and the checkpoint are signed by it; every event is in X's log under that checkpoint and
signed by a key the root certified; each entry is backed by its capture event with the same redemption
and minutes — and a redemption at X's counter by the home region's own signed "captured" answer, checked
with the home region's key from the other file), then the two sides against each other: X's `as_home`
must be Y's `as_counter` and the other way round. Total and fail closed: any bytes in → an
`SettlementAudit` whose findings name every check that failed; it is `ok` only with none and no dispute.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Sequence

from ledger.domain.anywhere import ANSWER_FORMAT
from ledger.domain.errors import InvalidInput
from ledger.domain.region import Region
from ledger.domain.values import Role, check_region_code
from ledger.signing import merkle
from ledger.signing.canonical import JsonInputError, canonical_bytes, loads_bounded
from ledger.signing.message import MessageError, Signed, parse_message
from ledger.signing.statement import EnvelopeError, Statement, event_type_of, parse_signed_bytes, unpack
from ledger.storage.checkpoints import CheckpointError
from ledger.verification.checkpoints import RegionKeyring

FORMAT = "timeledger-settlement/v1"
EVIDENCE_FORMAT = "timeledger-settlement-evidence/v1"
ENTRIES_MAX = 1_000_000  # a statement's entries on each side: far above a year between two districts
STATEMENT_BYTES_MAX = 32 * 1024 * 1024  # a statement's size (cumulative: far beyond a 通存通兑 message's)
EVIDENCE_BYTES_MAX = 512 * 1024 * 1024
PROOF_HASHES_MAX = 64
KEY_TYPES = ("Key.Registered", "Key.Revoked")
# what backs an entry: the capture event each side records (stored topics' event types never move)
AS_HOME_TYPES = ("TimeAccount.HoldCaptured", "TimeAccount.CapturedOffline")
AS_COUNTER_TYPES = ("RemoteRedemption.Captured", "RemoteRedemption.OfflinePresented")


class SettlementRefused(InvalidInput):
    """A statement that does not verify (unreadable, not from the peer, not for this region)."""

    code = "settlement_refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class ParsedStatement:
    """A statement's body, its form checked (its signature not yet: whose key depends on the reader)."""

    signed: Signed
    from_region: str
    to_region: str
    made_at: str
    as_home: dict[str, tuple[int, int]]  # redemption id → (minutes, leaf index)
    as_counter: dict[str, tuple[int, int]]
    checkpoint: dict[str, Any]  # {"size", "root" (hex), "note"}

    @property
    def as_home_minutes(self) -> int:
        return sum(minutes for minutes, _ in self.as_home.values())

    @property
    def as_counter_minutes(self) -> int:
        return sum(minutes for minutes, _ in self.as_counter.values())


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entries(value: Any, what: str) -> dict[str, tuple[int, int]]:
    if not isinstance(value, list) or len(value) > ENTRIES_MAX:
        raise SettlementRefused("settlement_unreadable", f"{what} is a list of entries")
    found: dict[str, tuple[int, int]] = {}
    for entry in value:
        if (not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str)
                or not _whole(entry[1]) or entry[1] <= 0 or not _whole(entry[2]) or entry[2] < 0):
            raise SettlementRefused("settlement_unreadable",
                                    f"an entry of {what} is [redemption id, minutes, leaf index]")
        if entry[0] in found:
            raise SettlementRefused("settlement_unreadable", f"{what} lists a redemption twice")
        found[entry[0]] = (entry[1], entry[2])
    return found


def read_statement(data: Any, check_signer: Callable[[Signed, str, str], None]) -> ParsedStatement:
    """A statement's parts, if it is signed as `check_signer(signed, from, to)` requires (it raises
    SettlementRefused if not; called before the content is read) and its form holds: the totals are the
    entries' sums and the checkpoint holds every leaf listed (a statement that says otherwise of itself is
    not taken, whatever its entries say). Total: any bytes → ParsedStatement or SettlementRefused."""
    try:
        signed = parse_message(data, FORMAT, bytes_max=STATEMENT_BYTES_MAX)
    except MessageError as error:
        raise SettlementRefused("settlement_unreadable", str(error)) from None
    body = signed.body
    try:
        from_region = check_region_code(body["from"])
    except (InvalidInput, KeyError, TypeError, ValueError):
        raise SettlementRefused("settlement_unknown_region", f"from {body.get('from')!r} is not a region") from None
    try:
        to_region = check_region_code(body["to"])
    except (InvalidInput, KeyError, TypeError, ValueError):
        raise SettlementRefused("settlement_wrong_region", f"the statement is for {body.get('to')!r}") from None
    check_signer(signed, from_region, to_region)
    made_at = body.get("made_at")
    if not isinstance(made_at, str):
        raise SettlementRefused("settlement_unreadable", "made_at is a time")
    as_home, as_counter = _entries(body.get("as_home"), "as_home"), _entries(body.get("as_counter"), "as_counter")
    parsed = ParsedStatement(signed, from_region, to_region, made_at, as_home, as_counter, {})
    owed_by, owed_to = parsed.as_home_minutes, parsed.as_counter_minutes
    expected = {"as_home_minutes": owed_by, "as_counter_minutes": owed_to, "net_minutes": owed_to - owed_by}
    totals = body.get("totals")
    if (not isinstance(totals, dict) or set(totals) != set(expected)
            or any(not _whole(totals[name]) or totals[name] != minutes for name, minutes in expected.items())):
        raise SettlementRefused("settlement_totals_mismatch", f"the totals are not the entries' sums {expected}")
    checkpoint = body.get("checkpoint")
    last = max((index for _, index in [*as_home.values(), *as_counter.values()]), default=-1)
    if (not isinstance(checkpoint, dict) or set(checkpoint) != {"size", "root", "note"}
            or not _whole(checkpoint["size"]) or not isinstance(checkpoint["root"], str)
            or not isinstance(checkpoint["note"], str) or checkpoint["size"] <= last):
        raise SettlementRefused("settlement_unreadable", "the checkpoint does not hold every leaf listed")
    return ParsedStatement(signed, from_region, to_region, made_at, as_home, as_counter, checkpoint)


# -------------------------------------------------------------------------------------------------------
# The auditor's offline check of two regions' evidence


@dataclass(frozen=True)
class Finding:
    code: str  # a stable name: evidence_unreadable, key_untrusted, statement_signature_invalid, …
    detail: str
    region: str | None = None
    redemption_id: str | None = None

    def __str__(self) -> str:
        where = " ".join(part for part in (self.region and f"region {self.region}",
                                          self.redemption_id and f"redemption {self.redemption_id}") if part)
        return f"[{self.code}] " + (f"{where}: " if where else "") + self.detail


@dataclass(frozen=True)
class Disagreement:
    redemption_id: str
    home: str  # the member's home region (which owes)
    counter_region: str  # where the goods were taken
    at_home: int | None  # minutes in the home region's statement (None: not listed)
    at_counter: int | None


@dataclass
class Side:
    """One region's evidence, as far as it verified."""

    region: str = ""
    peer: str = ""
    made_at: str = ""
    statement_sha256: str = ""
    checkpoint_size: int = 0
    as_home_minutes: int = 0
    as_counter_minutes: int = 0
    proven: int = 0  # entries backed by a proven, signed capture event
    statement: ParsedStatement | None = None
    trusted: dict[str, Any] = field(default_factory=dict)
    answers: list[tuple[str, Signed, datetime]] = field(default_factory=list)  # (redemption id, home's answer, when kept)


@dataclass
class SettlementAudit:
    sides: list[Side] = field(default_factory=list)
    agreed: int = 0
    agreed_minutes: dict[str, int] = field(default_factory=dict)  # home region → agreed minutes its members took
    disagreements: list[Disagreement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.sides) == 2 and not self.findings and not self.disagreements


class _Stop(Exception):
    """A side that cannot be checked further (its finding is recorded)."""


def _trust(key_envelopes: Sequence[bytes], roots: Sequence[bytes], region: str) -> dict[str, Any]:
    """The keys of `region` certified by the first root key under which its key events chain."""
    from ledger.verification.store import _certification_order, load_trusted_keys, raw_from_envelope

    raws = _certification_order([raw_from_envelope(envelope, index) for index, envelope in enumerate(key_envelopes)])
    region_actor = str(Region.create_id(region))
    for root in roots:
        trusted = load_trusted_keys(raws, root, region, [])
        if any(key.role is Role.REGION and key.owner_id == region_actor for key in trusted.values()):
            return trusted
    return {}


def _event_problem(envelope: bytes, trusted: dict[str, Any], region: str) -> tuple[Statement | None, str | None]:
    """The event's statement, and what is wrong with it (not well formed, another region's, not signed by
    a key the root certified for this kind of event at its time, signature)."""
    from ledger.verification.store import _check_canonical, _signer_problem
    from ledger.signing import keys as ed25519

    try:
        signature, signed_bytes = unpack(envelope)
        signature, signed_bytes, statement = _check_canonical(
            signature, signed_bytes, parse_signed_bytes(signed_bytes, strict=False))
    except (EnvelopeError, ValueError, TypeError, UnicodeError, RecursionError) as error:
        return None, f"not a signed event: {type(error).__name__}"
    if statement.region != region:
        return statement, f"an event of region {statement.region}"
    try:
        problem, key = _signer_problem(statement, trusted)
    except ValueError as error:  # a time or role that does not parse
        return statement, f"not a signed event: {error}"
    if problem is not None or key is None:
        return statement, problem or "no key"
    if not ed25519.verify(ed25519.load_public(ed25519.b64(key.public_key)), signature, signed_bytes):
        return statement, "its signature does not verify"
    return statement, None


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} is base64 text")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError):
        raise ValueError(f"{what} is not base64") from None
    if base64.b64encode(data).decode("ascii") != value:
        raise ValueError(f"{what} is not canonical base64")
    return data


def _read_evidence(data: Any) -> tuple[str, list[tuple[int, bytes, list[bytes]]]]:
    if not isinstance(data, bytes) or len(data) > EVIDENCE_BYTES_MAX:
        raise ValueError("evidence is a file of at most 512 MiB")
    document = loads_bounded(data)
    if not isinstance(document, dict) or set(document) != {"format", "statement", "events"}:
        raise ValueError("evidence has the fields format, statement and events")
    if document["format"] != EVIDENCE_FORMAT:
        raise ValueError(f"not {EVIDENCE_FORMAT}")
    if canonical_bytes(document) != data:
        raise ValueError("the file is not in canonical JSON form (it was edited or re-encoded)")
    if not isinstance(document["statement"], str) or not isinstance(document["events"], list):
        raise ValueError("statement is text and events a list")
    events: list[tuple[int, bytes, list[bytes]]] = []
    for number, entry in enumerate(document["events"]):
        if not isinstance(entry, dict) or set(entry) != {"index", "event", "proof"}:
            raise ValueError(f"events[{number}] has the fields index, event and proof")
        index, proof = entry["index"], entry["proof"]
        if not _whole(index) or index < 0 or (events and index <= events[-1][0]):
            raise ValueError(f"events[{number}]: leaf indexes are whole, increasing and not repeated")
        if not isinstance(proof, list) or len(proof) > PROOF_HASHES_MAX:
            raise ValueError(f"events[{number}]: a proof is a list of at most {PROOF_HASHES_MAX} hashes")
        events.append((index, _b64(entry["event"], f"events[{number}] event"),
                       [_b64(value, f"events[{number}] proof") for value in proof]))
    return document["statement"], events


def _check_side(data: Any, roots: Sequence[bytes], audit: SettlementAudit) -> Side:
    side = Side()

    def stop(code: str, detail: str, region: str | None = None) -> _Stop:
        audit.findings.append(Finding(code, detail, region or side.region or None))
        return _Stop()

    try:
        statement_text, events = _read_evidence(data)
    except (JsonInputError, ValueError, TypeError) as error:
        raise stop("evidence_unreadable", str(error)) from None
    key_events = [envelope for _, envelope, _ in events if event_type_of(envelope) in KEY_TYPES]

    def check_signer(signed: Signed, region: str, peer: str) -> None:
        side.region, side.peer = region, peer
        side.trusted = _trust(key_events, roots, region)
        key = side.trusted.get(signed.key_id)
        if key is None or key.role is not Role.REGION or key.owner_id != str(Region.create_id(region)):
            raise SettlementRefused("key_untrusted", f"the statement's key {signed.key_id} is not a region key of "
                                    f"{region} certified by the root keys given")
        if not signed.signed_by(key.public_key):
            raise SettlementRefused("statement_signature_invalid", "the statement's signature does not verify")

    try:
        statement = read_statement(statement_text.encode("utf-8"), check_signer)
    except SettlementRefused as refused:
        raise stop(refused.code, str(refused)) from None
    except UnicodeError:
        raise stop("settlement_unreadable", "the statement is not UTF-8 text") from None
    side.made_at, side.statement_sha256 = statement.made_at, statement.signed.sha256
    side.checkpoint_size = statement.checkpoint["size"]
    by_index = {index: (envelope, proof) for index, envelope, proof in events}
    try:
        checkpoint, _ = RegionKeyring(side.region, list(side.trusted.values())).open(statement.checkpoint["note"])
    except CheckpointError as error:
        raise stop("checkpoint_invalid", str(error)) from None
    if (checkpoint.size, checkpoint.root_hash.hex()) != (statement.checkpoint["size"], statement.checkpoint["root"]):
        raise stop("checkpoint_invalid", "the checkpoint's note names another tree than the statement")
    # every event of the file: in the log under the checkpoint, signed by a certified key
    statements: dict[int, Statement] = {}
    for index, (envelope, proof) in by_index.items():
        try:
            merkle.verify_inclusion(merkle.leaf_hash(envelope), index, checkpoint.size, proof, checkpoint.root_hash)
        except (merkle.ProofError, ValueError) as error:
            audit.findings.append(Finding("event_not_in_log", f"leaf {index}: not proven in the log of size "
                                          f"{checkpoint.size}: {error}", side.region))
            continue
        parsed, problem = _event_problem(envelope, side.trusted, side.region)
        if problem is not None:
            audit.findings.append(Finding("event_invalid", f"leaf {index}: {problem}", side.region))
        elif parsed is not None:
            statements[index] = parsed
    # every entry: backed by its capture event
    entries = [(rid, minutes, index, AS_HOME_TYPES) for rid, (minutes, index) in statement.as_home.items()]
    entries += [(rid, minutes, index, AS_COUNTER_TYPES) for rid, (minutes, index) in statement.as_counter.items()]
    backing: set[int] = set()
    for rid, minutes, index, types in entries:
        problem = _entry_problem(statements.get(index), index in by_index, rid, minutes, types, side)
        if problem is not None:
            audit.findings.append(Finding("entry_unproven", f"leaf {index}: {problem}", side.region, rid))
        else:
            side.proven += 1
            backing.add(index)
    for index, parsed_event in sorted(statements.items()):
        if index not in backing and parsed_event.type not in KEY_TYPES:
            audit.findings.append(Finding("evidence_extra_event", f"leaf {index}: a {parsed_event.type} that backs "
                                          "no entry", side.region))
    side.statement = statement
    side.as_home_minutes, side.as_counter_minutes = statement.as_home_minutes, statement.as_counter_minutes
    return side


def _entry_problem(statement: Statement | None, present: bool, rid: str, minutes: int, types: tuple[str, ...],
                   side: Side) -> str | None:
    if statement is None:
        return "the event behind it did not verify" if present else "the evidence holds no event for it"
    if statement.type not in types:
        return f"a {statement.type}, not a capture"
    payload = statement.payload
    if types is AS_HOME_TYPES:
        if (payload.get("redemption_id"), payload.get("minutes"), payload.get("counter_region")) != (
                rid, minutes, side.peer):
            return "its capture event names another redemption, other minutes or another counter region"
        return None
    try:  # a redemption at this region's counter: the home region's signed "captured" answer, kept verbatim
        answer = parse_message(_b64(payload.get("answer"), "answer"), ANSWER_FORMAT, bytes_max=64 * 1024)
    except (MessageError, ValueError) as error:
        return f"the home region's answer kept with it is not readable: {error}"
    body = answer.body
    if (body.get("kind"), body.get("home"), body.get("counter_region"), body.get("redemption_id"),
            body.get("minutes")) != ("captured", side.peer, side.region, rid, minutes):
        return "the home region's answer kept with it is not a capture of this redemption and these minutes"
    side.answers.append((rid, answer, datetime.fromisoformat(statement.time)))
    return None


def audit_evidence(first: Any, second: Any, root_keys: Sequence[bytes]) -> SettlementAudit:
    """Check two regions' settlement evidence offline, trusting only `root_keys` (32 raw bytes each)."""
    audit = SettlementAudit()
    roots = [bytes(root) for root in root_keys if isinstance(root, (bytes, bytearray)) and len(root) == 32]
    if not roots:
        audit.findings.append(Finding("root_key_missing", "give the root public key of each region's province"))
        return audit
    for data in (first, second):
        try:
            audit.sides.append(_check_side(data, roots, audit))
        except _Stop:
            continue
        except Exception as error:  # noqa: BLE001 - total: bytes nobody foresaw are a finding, never a traceback
            audit.findings.append(Finding("evidence_unreadable", f"{type(error).__name__} while reading"))
    if len(audit.sides) != 2:
        return audit
    x, y = audit.sides
    if (x.region, x.peer) != (y.peer, y.region):
        audit.findings.append(Finding("evidence_not_a_pair", f"the statements are {x.region}→{x.peer} and "
                                      f"{y.region}→{y.peer}, not two regions' statements to each other"))
        return audit
    for side, other in ((x, y), (y, x)):
        _check_answers(side, other, audit)
    assert x.statement is not None and y.statement is not None
    for home, counter in ((x, y), (y, x)):
        assert home.statement is not None and counter.statement is not None
        at_home = {rid: minutes for rid, (minutes, _) in home.statement.as_home.items()}
        at_counter = {rid: minutes for rid, (minutes, _) in counter.statement.as_counter.items()}
        agreed_minutes = 0
        for rid in sorted(set(at_home) | set(at_counter)):
            a, b = at_home.get(rid), at_counter.get(rid)
            if a is not None and a == b:
                audit.agreed += 1
                agreed_minutes += a
            else:
                audit.disagreements.append(Disagreement(rid, home.region, counter.region, a, b))
        audit.agreed_minutes[home.region] = agreed_minutes
    return audit


def _check_answers(side: Side, home: Side, audit: SettlementAudit) -> None:
    """The answers `side` kept from `home` are signed by a region key of `home`'s that the root certified
    and that was valid when `side` recorded them."""
    from ledger.verification.store import key_valid_at

    home_actor = str(Region.create_id(home.region))
    for rid, answer, kept_at in side.answers:
        key = home.trusted.get(answer.key_id)
        if key is None or key.role is not Role.REGION or key.owner_id != home_actor:
            audit.findings.append(Finding("answer_key_untrusted", f"the home region's answer is signed by key "
                                          f"{answer.key_id}, not a region key of {home.region} in its evidence",
                                          side.region, rid))
        elif not key_valid_at(key, kept_at):
            audit.findings.append(Finding("answer_key_untrusted", f"key {answer.key_id} was not valid at "
                                          f"{kept_at.isoformat()}", side.region, rid))
        elif not answer.signed_by(key.public_key):
            audit.findings.append(Finding("answer_signature_invalid", "the home region's answer does not verify",
                                          side.region, rid))


__all__ = ["Disagreement", "EVIDENCE_FORMAT", "FORMAT", "Finding", "ParsedStatement", "SettlementAudit",
           "SettlementRefused", "Side", "audit_evidence", "read_statement"]
