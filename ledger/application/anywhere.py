"""通存通兑: a member of region A redeems certified minutes at a counter of region B of the federation,
without moving the account, exactly once, with both regions' ledgers agreeing (issue #14).

Counter region B                                       Home region A (the member's account)
`redeem_at_counter`: the basket at B's prices; B's
region key signs an `authorise` request, kept in a
RemoteRedemption (Requested, signed by the counter)  → `answer`: checks B's signature (a registered
                                                       peer), the member and the balance; holds the
                                                       minutes (TimeAccount.Held, signed by A) and
                                                     ← signs "authorised" (or a signed refusal)
Authorised (A's answer kept verbatim); B signs a
`capture` request                                    → the hold becomes a redemption (HoldCaptured)
Captured (A's answer kept)                           ← signs "captured"
A `void` request releases a hold (HoldReleased); a hold B does not capture in time is released as
expired (`release_expired`, and before any new hold on the account). Every answer is a function of the
stored state, so a retried request gets the very same signed bytes (Ed25519 is deterministic): retries
of any step are safe, and a capture after a release is refused with `hold_released` / `hold_expired`.

A message that does not verify (unreadable, not from a registered peer, signed with another region's
key, not for this region) gets `AnywhereRefused` with a code and changes nothing; a verified request
refused for substance (not enough balance, unknown member, frozen account) gets a signed refusal.
Transport: the same bytes over HTTP (api/), `Post` as for transfers.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence, TypeVar, cast
from uuid import UUID

from ledger.application import Actor, Ledger
from ledger.domain.anywhere import ANSWER_FORMAT, REQUEST_FORMAT, RemoteOfflineDay, RemoteRedemption

from ledger.domain.base import CLOCK
from ledger.domain.errors import (
    BalanceWouldGoNegative,
    HoldExpired,
    HoldCaptured as HoldCapturedError,
    HoldReleased as HoldReleasedError,
    InvalidInput,
    LedgerError,
    NotFound,
    RedemptionExistsWithDifferentTerms,
    Unavailable,
    WrongState,
)
from ledger.domain.limits import (
    NAME_CHARS_MAX,
    OFFLINE_BOUND_MINUTES_MAX,
    PRICE_MINUTES_MAX,
    QUANTITY_MAX,
    REDEMPTION_LINES_MAX,
)
from ledger.domain.member import Member
from ledger.domain.time_account import Hold, TimeAccount
from ledger.domain.values import CHINA_TIME, check_region_code, check_text
from ledger.signing import keys as ed25519
from ledger.signing.canonical import JsonInputError, loads_bounded
from ledger.signing.message import MessageError, Signed, parse_message, sign_body

KINDS = ("authorise", "capture", "void", "offline")  # offline: accepted while home was unreachable, presented later
HOLD_SECONDS = 2 * 3600  # what B has to capture: its counter captures at once, its sweeper retries within this
MESSAGE_BYTES_MAX = 64 * 1024  # 50 lines of a basket are far below this
FEDERATION_REDEMPTION_PATH = "/v1/federation/redemptions"

Post = Callable[[str, bytes], tuple[int, bytes]]  # (url, body) -> (status, body)


class AnywhereRefused(InvalidInput):
    """A message that does not verify: nothing recorded, nothing signed. `code` says which check failed."""

    code = "anywhere_refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class HomeRegionRefused(WrongState):
    """The member's home region refused the redemption (its signed refusal is kept): `code` is its code,
    e.g. balance_would_go_negative."""

    code = "home_region_refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class HomeRegionNotPeer(NotFound):
    """The member's QR names a region that is not a registered peer of this one: no 通存通兑 with it."""

    code = "home_region_not_peer"


class HomeRegionRejected(WrongState):
    """The member's home region would not read this region's message (a 4xx with its code, e.g.
    anywhere_unknown_region: it has not registered this region, or not its current key). Nothing was
    recorded or given; the same bytes again get the same answer, so it is not retried as if the
    region were down: the two regions' administrators check their federation registries."""

    code = "home_region_rejected_request"

    def __init__(self, home_code: str, detail: str) -> None:
        super().__init__(detail)
        self.home_code = home_code


class HomeRegionUnreachable(Unavailable):
    """The member's home region did not answer: nothing was given; the same redemption may be retried."""

    code = "home_region_unreachable"


# -------------------------------------------------------------------------------------------
# Signed messages


def sign_message(ledger: Ledger, body: dict[str, Any]) -> bytes:
    key_id, _, private_key = ledger._signer_for(ledger.region_actor())
    return sign_body(key_id, private_key, body)


def read_message(message: bytes, expected_format: str, *, bytes_max: int = MESSAGE_BYTES_MAX) -> Signed:
    """Parse a signed message (not yet its signature). Total: any bytes → Signed or AnywhereRefused."""
    try:
        return parse_message(message, expected_format, bytes_max=bytes_max)
    except MessageError as error:
        raise AnywhereRefused("anywhere_message_unreadable", str(error)) from None


def check_peer_signature(ledger: Ledger, signed: Signed, region_code: Any) -> None:
    """`signed` was signed by `region_code` under the key registered for it in this region's registry."""
    try:
        code = check_region_code(region_code)
        peer = ledger.get_region().require_peer(code)
    except (LedgerError, TypeError, ValueError):
        raise AnywhereRefused("anywhere_unknown_region", f"region {region_code!r} is not a registered peer") from None
    if signed.key_id != peer["key_id"]:
        raise AnywhereRefused("anywhere_wrong_key", f"the message is not signed with region {code}'s key")
    if not signed.signed_by(ed25519.unb64(peer["public_key"])):
        raise AnywhereRefused("anywhere_signature_invalid", "the message's signature does not verify")


def _uuid(value: Any, what: str) -> UUID:
    try:
        if not isinstance(value, str):
            raise ValueError(what)
        return UUID(value)
    except ValueError:
        raise AnywhereRefused("anywhere_message_invalid", f"{what} is not an id") from None


def _item_name(value: Any) -> bool:
    """A catalogue item's name as every region's catalogue lists it (`check_text`, already trimmed): a
    name the counter's region accepted is never refused here (a full-width space, a tab, Arabic)."""
    try:
        return isinstance(value, str) and check_text(value, "item name", chars_max=NAME_CHARS_MAX) == value
    except InvalidInput:
        return False


def _lines(value: Any) -> tuple[tuple[str, int, int], ...]:
    """[[name, quantity, price in minutes], …] within the counter's own bounds."""
    if not isinstance(value, list) or not 1 <= len(value) <= REDEMPTION_LINES_MAX:
        raise AnywhereRefused("anywhere_message_invalid", f"a basket has 1 to {REDEMPTION_LINES_MAX} lines")
    lines = []
    for line in value:
        if (not isinstance(line, list) or len(line) != 3 or not _item_name(line[0])
                or any(not isinstance(n, int) or isinstance(n, bool) for n in line[1:])
                or not 1 <= line[1] <= QUANTITY_MAX or not 1 <= line[2] <= PRICE_MINUTES_MAX):
            raise AnywhereRefused("anywhere_message_invalid", "a basket line is [name, quantity, price in minutes]")
        lines.append((line[0], line[1], line[2]))
    return tuple(lines)


# -------------------------------------------------------------------------------------------
# Home region (A): answering a counter region's requests


@dataclass(frozen=True)
class Request:
    signed: Signed
    kind: str
    counter_region: str
    redemption_id: UUID
    member_id: UUID
    counter_id: str
    lines: tuple[tuple[str, int, int], ...]
    minutes: int


def check_request(ledger: Ledger, message: bytes) -> Request:
    """Parse and verify a counter region's request (no writes). AnywhereRefused if it does not verify."""
    signed = read_message(message, REQUEST_FORMAT)
    body = signed.body
    if body.get("home") != ledger.region_code:
        raise AnywhereRefused("anywhere_wrong_home", f"the request is for region {body.get('home')!r}, not this one")
    check_peer_signature(ledger, signed, body.get("counter_region"))
    if body.get("kind") not in KINDS:
        raise AnywhereRefused("anywhere_message_invalid", f"kind is one of {', '.join(KINDS)}")
    expected = {"format", "kind", "home", "counter_region", "redemption_id", "member_id", "counter_id", "minutes"}
    if body["kind"] in ("authorise", "offline"):
        expected |= {"lines"}
    if set(body) != expected:
        raise AnywhereRefused("anywhere_message_invalid", f"a {body['kind']} request has exactly {sorted(expected)}")
    lines = _lines(body["lines"]) if body["kind"] in ("authorise", "offline") else ()
    minutes = body["minutes"]
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
        raise AnywhereRefused("anywhere_message_invalid", "minutes is a positive whole number")
    if lines and minutes != sum(quantity * price for _, quantity, price in lines):
        raise AnywhereRefused("anywhere_message_invalid", "minutes is not the basket's total")
    counter_id = str(_uuid(body["counter_id"], "counter_id"))
    return Request(signed, body["kind"], body["counter_region"], _uuid(body["redemption_id"], "redemption_id"),
                   _uuid(body["member_id"], "member_id"), counter_id, lines, minutes)


def answer(ledger: Ledger, message: bytes, checked: Request | None = None) -> bytes:
    """Answer a counter region's signed request with this region's signed answer (authorised,
    captured, released, or refused with a code). AnywhereRefused when the request does not verify.
    `checked`: what `check_request` made of these very bytes already (a server checks outside its
    writer, then answers in it)."""
    request = checked if checked is not None and checked.signed.raw == message else check_request(ledger, message)
    try:
        account = ledger.get_account(request.member_id)
        ledger._get(request.member_id, Member)
    except NotFound:
        return _refusal(ledger, request, "member_not_found")
    now = CLOCK.get()()
    try:
        if request.kind == "authorise":
            return _authorise(ledger, request, account, now)
        if request.kind == "capture":
            return _capture(ledger, request, account, now)
        if request.kind == "offline":
            return _offline(ledger, request, account)
        return _void(ledger, request, account)
    except LedgerError as error:
        return _refusal(ledger, request, error.code)


def _authorise(ledger: Ledger, request: Request, account: TimeAccount, now: datetime) -> bytes:
    expired = account.release_expired(now)  # a hold never captured in time gives its minutes back first
    try:
        held = account.hold(redemption_id=request.redemption_id, counter_region=request.counter_region,
                            counter_id=request.counter_id, lines=request.lines, minutes=request.minutes,
                            expires_at=now + timedelta(seconds=HOLD_SECONDS), request_sha256=request.signed.sha256)
    except (BalanceWouldGoNegative, RedemptionExistsWithDifferentTerms, WrongState):
        if expired:
            ledger._commit(ledger.region_actor(), None, account)
        raise
    if held or expired:
        ledger._commit(ledger.region_actor(), f"anywhere:{request.signed.sha256}", account)
    return _hold_answer(ledger, request, account.holds[request.redemption_id], "authorised")


def _capture(ledger: Ledger, request: Request, account: TimeAccount, now: datetime) -> bytes:
    found = account.require_hold(request.redemption_id, request.counter_region)
    if found.minutes != request.minutes:
        return _refusal(ledger, request, RedemptionExistsWithDifferentTerms.code)
    if found.status == "released":
        return _hold_answer(ledger, request, found, "captured")
    try:
        captured = account.capture(redemption_id=request.redemption_id, counter_region=request.counter_region,
                                   now=now, request_sha256=request.signed.sha256)
    except HoldExpired:
        account.release(redemption_id=request.redemption_id, counter_region=request.counter_region, reason="expired")
        ledger._commit(ledger.region_actor(), None, account)
        raise
    if captured:
        ledger._commit(ledger.region_actor(), f"anywhere:{request.signed.sha256}", account)
    return _hold_answer(ledger, request, account.holds[request.redemption_id], "captured")


def _offline(ledger: Ledger, request: Request, account: TimeAccount) -> bytes:
    """A redemption the counter region accepted while this region was unreachable, presented now: it is
    taken as it was (the goods have left); what the balance no longer covers is owed."""
    if account.capture_offline(redemption_id=request.redemption_id, counter_region=request.counter_region,
                               counter_id=request.counter_id, lines=request.lines, minutes=request.minutes,
                               request_sha256=request.signed.sha256):
        ledger._commit(ledger.region_actor(), f"anywhere:{request.signed.sha256}", account)
    return _hold_answer(ledger, request, account.holds[request.redemption_id], "captured")


def _void(ledger: Ledger, request: Request, account: TimeAccount) -> bytes:
    account.require_hold(request.redemption_id, request.counter_region)
    if account.release(redemption_id=request.redemption_id, counter_region=request.counter_region,
                       reason="voided", request_sha256=request.signed.sha256):
        ledger._commit(ledger.region_actor(), f"anywhere:{request.signed.sha256}", account)
    return _hold_answer(ledger, request, account.holds[request.redemption_id], "released")


def _hold_answer(ledger: Ledger, request: Request, found: Hold, kind: str) -> bytes:
    """The answer about a hold, from its stored state alone: the same request gets the same bytes. A
    released hold is never answered as authorised or captured: an expired one is refused `hold_expired`
    (whatever was asked), a voided one `hold_released` (and a void of it is answered released)."""
    if found.status == "released" and found.release_code == "expired":
        return _refusal(ledger, request, HoldExpired.code)
    if found.status == "released" and kind != "released":
        return _refusal(ledger, request, HoldReleasedError.code)
    body = _answer_body(ledger, request, kind)
    body.update({"minutes": found.minutes, "authorise_sha256": found.request_sha256})
    if kind == "authorised":
        body.update({"expires_at": found.expires_at.isoformat() if found.expires_at else None,
                     "balance_minutes": found.balance_after_minutes})
    if found.expires_at is None:  # taken offline: what the balance no longer covered is owed
        body.update({"owed_minutes": found.owed_minutes, "balance_minutes": found.balance_after_minutes})
    return sign_message(ledger, body)


def _refusal(ledger: Ledger, request: Request, code: str) -> bytes:
    body = _answer_body(ledger, request, "refused")
    body["code"] = code
    return sign_message(ledger, body)


def _answer_body(ledger: Ledger, request: Request, kind: str) -> dict[str, Any]:
    return {"format": ANSWER_FORMAT, "kind": kind, "home": ledger.region_code,
            "counter_region": request.counter_region, "redemption_id": str(request.redemption_id),
            "member_id": str(request.member_id), "request_sha256": request.signed.sha256}


def release_expired(ledger: Ledger, member_id: UUID) -> int:
    """Release the member's holds whose time ran out (signed, reason `expired`); how many."""
    account = ledger.get_account(member_id)
    expired = account.release_expired(CLOCK.get()())
    if expired:
        ledger._commit(ledger.region_actor(), None, account)
    return expired


# -------------------------------------------------------------------------------------------
# Counter region (B): the counter's side


@dataclass(frozen=True)
class RemoteResult:
    redemption_id: UUID
    home: str
    home_name: str
    minutes: int
    lines: list[dict[str, Any]]
    balance_minutes: int | None  # the member's spendable balance at home after this redemption
    status: str  # authorised (capture pending: retried) or captured
    applied: bool  # False when this was a retry of a redemption already authorised


T = TypeVar("T")
Write = Callable[[Callable[[], T]], T]  # runs a step that commits (a server: in its single writer)


def _direct(step: Callable[[], T]) -> T:
    return step()


def redeem_at_counter(ledger: Ledger, *, actor: Actor, member_id: UUID, home: str, redemption_id: UUID,
                      items: Sequence[tuple[UUID, int]], post: Post, write: Write[Any] = _direct,
                      capture: bool = True, offline: bool = False) -> RemoteResult:
    """Redeem at this region's counter for a member of region `home`: authorise at home (the minutes
    are held there), then (with `capture`; a service does it right after answering the counter)
    capture. Exactly once per `redemption_id`: the authorise request is a function of the basket, so a
    retry sends the very same signed bytes, and home answers it with the very same answer. Refused at
    home → HomeRegionRefused (its code); home unreachable → HomeRegionUnreachable, nothing recorded
    and nothing given — or, with `offline` (the clerk chose to go on), accepted within this region's
    offline bound per member and day (status "offline"; presented to home later, exactly once, where
    what the balance no longer covers becomes owed). The record is written through `write` once home has answered; the messages to
    home are sent outside it (a slow region never holds up this one's writer)."""
    home = check_region_code(home)
    if home == ledger.region_code:
        raise InvalidInput("the member is of this region: redeem here")
    try:
        peer = ledger.get_region().require_peer(home)
    except NotFound:
        raise HomeRegionNotPeer(f"region {home} is not in this region's federation registry") from None
    counter, lines, minutes = ledger.basket(actor, items)
    record_id = RemoteRedemption.create_id(redemption_id)
    applied = not ledger._exists(record_id)
    if applied:
        request = _authorise_request(ledger, home=home, member_id=member_id, redemption_id=redemption_id,
                                     counter_id=counter.id, lines=lines, minutes=minutes)
        try:
            answer_bytes = _exchange(_address(ledger, home), request, post, home)
        except HomeRegionUnreachable:
            if not offline:
                raise
            record, applied = write(lambda: _accept_offline(ledger, actor, redemption_id, home, member_id,
                                                            counter.id, lines, minutes, request))
        else:
            record, applied = write(lambda: _record_authorisation(ledger, actor, redemption_id, home, member_id,
                                                                  counter.id, lines, minutes, request, answer_bytes))
    else:
        record = _same_terms_or_refuse(get_remote_redemption(ledger, redemption_id), home, member_id, counter.id,
                                       lines)
    if record.status == RemoteRedemption.AUTHORISED and capture:
        try:
            record = capture_pending(ledger, actor, redemption_id, post, write)
        except HomeRegionUnreachable:
            pass  # the hold stands at home; the capture is retried (the goods were authorised)
    if record.status in (RemoteRedemption.REFUSED, RemoteRedemption.RELEASED):
        raise _refused(record)
    return RemoteResult(redemption_id=redemption_id, home=home, home_name=peer.get("name", home),
                        minutes=record.minutes, lines=record.lines, balance_minutes=record.balance_minutes,
                        status=record.status, applied=applied)


def _accept_offline(ledger: Ledger, actor: Actor, redemption_id: UUID, home: str, member_id: UUID,
                    counter_id: UUID, lines: list[dict[str, Any]], minutes: int,
                    request: bytes) -> tuple[RemoteRedemption, bool]:
    """Home cannot be reached: within this region's offline bound for the member today, the counter
    takes the redemption on its own signature; the "offline" request is kept to present later."""
    record_id = RemoteRedemption.create_id(redemption_id)
    if ledger._exists(record_id):
        return _same_terms_or_refuse(get_remote_redemption(ledger, redemption_id), home, member_id,
                                    counter_id, lines), False
    bound = min(ledger.get_region().offline_minutes_per_member_day, OFFLINE_BOUND_MINUTES_MAX)
    day = CLOCK.get()().astimezone(CHINA_TIME).date().isoformat()
    day_id = RemoteOfflineDay.create_id(home, member_id, day)
    tally = ledger._get(day_id, RemoteOfflineDay) if ledger._exists(day_id) else RemoteOfflineDay.open(
        home=home, member_id=member_id, day=day)
    tally.use(redemption_id=redemption_id, minutes=minutes, bound_minutes=bound)
    body = dict(read_message(request, REQUEST_FORMAT).body, kind="offline")
    record = RemoteRedemption.start(redemption_id=redemption_id, home=home, member_id=member_id,
                                    counter_id=counter_id, lines=lines, minutes=minutes,
                                    request=base64.b64encode(request).decode())
    record.accept_offline(offline_request=base64.b64encode(sign_message(ledger, body)).decode())
    ledger._commit(actor, None, record, tally)
    return record, True


def _same_terms_or_refuse(record: RemoteRedemption, home: str, member_id: UUID, counter_id: UUID,
                          lines: list[dict[str, Any]]) -> RemoteRedemption:
    if not record.same_terms(home=home, member_id=member_id, counter_id=counter_id, lines=lines):
        raise RedemptionExistsWithDifferentTerms(f"redemption {record.redemption_id} was already used with other terms")
    return record


def _authorise_request(ledger: Ledger, *, home: str, member_id: UUID, redemption_id: UUID, counter_id: UUID,
                       lines: list[dict[str, Any]], minutes: int) -> bytes:
    """The signed authorise request: the same basket gives the same bytes (Ed25519 is deterministic)."""
    return sign_message(ledger, {
        "format": REQUEST_FORMAT, "kind": "authorise", "home": home, "counter_region": ledger.region_code,
        "redemption_id": str(redemption_id), "member_id": str(member_id), "counter_id": str(counter_id),
        "lines": [[line["name"], line["quantity"], line["price_minutes"]] for line in lines], "minutes": minutes})


def _address(ledger: Ledger, home: str) -> str:
    return ledger.get_region().require_peer(home).get("address", "").rstrip("/")


def _refused(record: RemoteRedemption) -> LedgerError:
    code = record.refusal_code or HoldReleasedError.code
    return HomeRegionRefused(code, f"region {record.home} refused redemption {record.redemption_id}: {code}")


def _exchange(address: str, message: bytes, post: Post, home: str) -> bytes:
    if not address:
        raise HomeRegionUnreachable(f"region {home} has no service address")
    try:
        status, answer_bytes = post(address + FEDERATION_REDEMPTION_PATH, message)
    except OSError as error:
        raise HomeRegionUnreachable(f"region {home} did not answer: {error}") from None
    if 400 <= status < 500 and status not in (408, 425, 429):
        raise HomeRegionRejected(error_code_of(answer_bytes), f"region {home} would not read the request ({status} "
                                 f"{error_code_of(answer_bytes)}): check both regions' federation registries")
    if status != 200:
        raise HomeRegionUnreachable(f"region {home} answered {status}; try again later")
    return answer_bytes


def error_code_of(answer_bytes: bytes) -> str:
    """The `code` of a peer's error answer, if it has one a log may show (never its other text)."""
    try:
        code = loads_bounded(answer_bytes[:4096]).get("code")
    except (JsonInputError, AttributeError):
        return "unknown"
    return code if isinstance(code, str) and code.isascii() and code.isidentifier() and len(code) <= 64 else "unknown"


def _check_answer(ledger: Ledger, record: RemoteRedemption, message: bytes, answer_bytes: bytes) -> Signed:
    """An answer signed by the member's home region about this very request."""
    signed = read_message(answer_bytes, ANSWER_FORMAT)
    check_peer_signature(ledger, signed, record.home)
    body = signed.body
    if (body.get("home") != record.home or body.get("counter_region") != ledger.region_code
            or body.get("redemption_id") != str(record.redemption_id)
            or body.get("member_id") != str(record.member_id)
            or body.get("request_sha256") != hashlib.sha256(message).hexdigest()):
        raise AnywhereRefused("anywhere_answer_mismatch", "the answer is not about this request")
    if body.get("kind") != "refused" and body.get("minutes") != record.minutes:
        raise AnywhereRefused("anywhere_answer_mismatch", "the answer names other minutes")
    return signed


def _record_authorisation(ledger: Ledger, actor: Actor, redemption_id: UUID, home: str, member_id: UUID,
                          counter_id: UUID, lines: list[dict[str, Any]], minutes: int, request: bytes,
                          answer_bytes: bytes) -> tuple[RemoteRedemption, bool]:
    """The counter's record: the request it sent and home's signed answer, in one commit (an attempt
    that crossed another with the same id finds that one's record)."""
    record_id = RemoteRedemption.create_id(redemption_id)
    if ledger._exists(record_id):  # another basket under this id overtook this one: it is not this one's answer
        existing = _same_terms_or_refuse(get_remote_redemption(ledger, redemption_id), home, member_id, counter_id,
                                         lines)
        return existing, False
    record = RemoteRedemption.start(redemption_id=redemption_id, home=home, member_id=member_id,
                                    counter_id=counter_id, lines=lines, minutes=minutes,
                                    request=base64.b64encode(request).decode())
    signed = _check_answer(ledger, record, request, answer_bytes)
    kept = base64.b64encode(signed.raw).decode()
    if signed.body.get("kind") == "authorised":
        balance = signed.body.get("balance_minutes")
        record.authorised(answer=kept, balance_minutes=balance if isinstance(balance, int) else 0)
    elif signed.body.get("kind") == "refused" and isinstance(signed.body.get("code"), str):
        record.refused(answer=kept, code=signed.body["code"][:64])
    else:
        raise AnywhereRefused("anywhere_answer_mismatch", "an authorise request is answered authorised or refused")
    ledger._commit(actor, None, record)
    return record, True


def request_of(ledger: Ledger, record: RemoteRedemption, kind: str) -> bytes:
    """The capture or void request of a redemption: the same bytes every time it is sent."""
    return sign_message(ledger, {"format": REQUEST_FORMAT, "kind": kind, "home": record.home,
                          "counter_region": ledger.region_code, "redemption_id": str(record.redemption_id),
                          "member_id": str(record.member_id), "counter_id": str(record.counter_id),
                          "minutes": record.minutes})


def capture_pending(ledger: Ledger, actor: Actor, redemption_id: UUID, post: Post,
                    write: Write[Any] = _direct) -> RemoteRedemption:
    """Ask home to capture an authorised redemption (again, after a lost answer: the same bytes)."""
    record = get_remote_redemption(ledger, redemption_id)
    if record.status not in (RemoteRedemption.AUTHORISED, RemoteRedemption.OFFLINE):
        return record
    request = (base64.b64decode(record.offline_request or "") if record.status == RemoteRedemption.OFFLINE
               else request_of(ledger, record, "capture"))
    answer_bytes = _exchange(_address(ledger, record.home), request, post, record.home)
    captured: RemoteRedemption = write(lambda: _record_capture(ledger, actor, redemption_id, request, answer_bytes))
    return captured


def _record_capture(ledger: Ledger, actor: Actor, redemption_id: UUID, request: bytes,
                    answer_bytes: bytes) -> RemoteRedemption:
    record = get_remote_redemption(ledger, redemption_id)
    if record.status not in (RemoteRedemption.AUTHORISED, RemoteRedemption.OFFLINE):
        return record
    signed = _check_answer(ledger, record, request, answer_bytes)
    kept = base64.b64encode(signed.raw).decode()
    if signed.body.get("kind") == "captured":
        owed = signed.body.get("owed_minutes", 0)
        record.captured(answer=kept, owed_minutes=owed if isinstance(owed, int) and 0 <= owed <= record.minutes else 0)
    elif signed.body.get("kind") == "refused" and signed.body.get("code") in ("hold_released", "hold_expired"):
        record.released(answer=kept)  # too late: home released the hold (a dispute for the settlement)
    else:
        raise AnywhereRefused("anywhere_answer_mismatch", f"home answered a capture with {signed.body.get('kind')}")
    ledger._commit(actor, None, record)
    return record


def void(ledger: Ledger, *, actor: Actor, redemption_id: UUID, post: Post,
         write: Write[Any] = _direct) -> RemoteRedemption:
    """The counter gave nothing after all: ask home to release the hold. A redemption home never
    answered is released too (a late authorisation there expires unclaimed). One that home captured
    (its answer lost) is recorded as captured and refused with `hold_captured`."""
    record = get_remote_redemption(ledger, redemption_id)
    if record.status in (RemoteRedemption.RELEASED, RemoteRedemption.REFUSED):
        return record
    if record.status == RemoteRedemption.CAPTURED:
        raise HoldCapturedError(f"redemption {redemption_id} was captured: it can no longer be voided")
    request = request_of(ledger, record, "void")
    answer_bytes = _exchange(_address(ledger, record.home), request, post, record.home)
    record = cast(RemoteRedemption, write(lambda: _record_void(ledger, actor, redemption_id, request, answer_bytes)))
    if record.status == RemoteRedemption.AUTHORISED:  # a capture got there, its answer did not
        capture_pending(ledger, actor, redemption_id, post, write)
        raise HoldCapturedError(f"redemption {redemption_id} was captured at home: it can no longer be voided")
    return record


def _record_void(ledger: Ledger, actor: Actor, redemption_id: UUID, request: bytes,
                 answer_bytes: bytes) -> RemoteRedemption:
    record = get_remote_redemption(ledger, redemption_id)
    signed = _check_answer(ledger, record, request, answer_bytes)
    kind, code = signed.body.get("kind"), signed.body.get("code")
    if kind == "refused" and code == HoldCapturedError.code:
        return record
    if kind == "released" or (kind == "refused" and code in ("hold_not_found", "hold_expired")):
        record.released(answer=base64.b64encode(signed.raw).decode())
        ledger._commit(actor, None, record)
        return record
    raise AnywhereRefused("anywhere_answer_mismatch", f"home answered a void with {kind}")


HELD_TOPIC = "ledger.domain.time_account:TimeAccount.Held"  # stored topics never move
AUTHORISED_TOPIC = "ledger.domain.anywhere:RemoteRedemption.Authorised"
OFFLINE_TOPIC = "ledger.domain.anywhere:RemoteRedemption.AcceptedOffline"
SWEEP_PAGE = 1000


@dataclass(frozen=True)
class Swept:
    released: int  # this region's members' holds released because their time ran out
    captured: int  # this region's counters' redemptions whose capture went through on a retry
    since: int  # where the next sweep starts: the oldest hold or authorised redemption still open


def sweep(ledger: Ledger, *, since: int = 1, post: Post | None = None, actor: Actor | None = None,
          write: Write[Any] = _direct) -> Swept:
    """Housekeeping a service runs every few minutes: release the holds of this region's members whose
    time ran out (signed, reason `expired`), and — with `post` and the region as `actor` — retry the
    captures of this region's counters whose answer was lost. Reads the log from notification `since`."""
    released = captured = 0
    next_since: int | None = None
    start = since
    now = CLOCK.get()()
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=SWEEP_PAGE, topics=[HELD_TOPIC, AUTHORISED_TOPIC, OFFLINE_TOPIC])
        for notification in page:
            still_open = False
            if notification.topic == HELD_TOPIC:
                event: Any = ledger.mapper.to_domain_event(notification)
                account = ledger._get(UUID(str(notification.originator_id)), TimeAccount)
                found = account.holds.get(event.redemption_id)
                if found is not None and found.status == "held":
                    if found.expires_at is not None and now > found.expires_at:
                        member_id: UUID = account.member_id
                        released += int(write(partial(release_expired, ledger, member_id)))
                    else:
                        still_open = True
            else:
                record = ledger._get(UUID(str(notification.originator_id)), RemoteRedemption)
                waiting = (RemoteRedemption.AUTHORISED, RemoteRedemption.OFFLINE)
                if record.status in waiting and post is not None and actor is not None:
                    try:
                        record = capture_pending(ledger, actor, record.redemption_id, post, write)
                        captured += record.status == RemoteRedemption.CAPTURED
                    except (HomeRegionUnreachable, HomeRegionRejected, AnywhereRefused):
                        pass
                still_open = record.status in waiting
            if still_open and next_since is None:
                next_since = int(notification.id)
        if len(page) < SWEEP_PAGE:
            end = int(page[-1].id) + 1 if page else start
            return Swept(released, captured, next_since if next_since is not None else end)
        start = int(page[-1].id) + 1


def get_remote_redemption(ledger: Ledger, redemption_id: UUID) -> RemoteRedemption:
    return ledger._get(RemoteRedemption.create_id(redemption_id), RemoteRedemption, "redemption")


__all__ = ["ANSWER_FORMAT", "AnywhereRefused", "check_peer_signature", "error_code_of", "read_message", "sign_message", "HOLD_SECONDS", "HomeRegionNotPeer", "HomeRegionRefused", "HomeRegionRejected",
           "HomeRegionUnreachable",
           "Post", "REQUEST_FORMAT", "RemoteResult", "answer", "capture_pending", "check_request",
           "get_remote_redemption", "redeem_at_counter", "release_expired", "request_of", "sweep", "void"]
