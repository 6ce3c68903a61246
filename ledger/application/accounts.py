"""爱心超市: balances and redemptions."""


from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence
from uuid import UUID


from ledger.domain.errors import (
    DeviceKeyRevoked,
    DeviceSignatureInvalid,
    InvalidInput,
    OfflineItemUnknown,
    OfflineRecordInvalid,
)
from ledger.domain.organisations import Community, Counter
from ledger.domain.time_account import DeviceOfflineDay, TimeAccount
from ledger.domain.limits import (
    OFFLINE_BOUND_MINUTES_MAX,
    PRICE_MINUTES_MAX,
    QUANTITY_MAX,
    REDEMPTION_LINES_MAX,
)
from ledger.domain.values import Role, local_date
from ledger.signing import keys as ed25519
from ledger.signing.offline import (
    LINE_FIELDS,
    RECORD_FIELDS,
    UUID_TEXT,
    check_shape,
    offline_redemption_bytes,
)
from ledger.application.core import Actor, LedgerCore, RedemptionResult



@dataclass(frozen=True)
class OfflineSyncResult:
    """What the ledger answers a counter device syncing one offline redemption (the same answer for a
    retry, with `applied` False)."""

    redemption_id: UUID
    member_id: UUID
    minutes: int
    owed_added_minutes: int  # what the balance could not cover: owed by the member, flagged to the community
    balance_minutes: int
    applied: bool
    lines: list[dict[str, Any]]


@dataclass(frozen=True)
class _OfflineRecord:
    redemption_id: UUID
    counter_id: UUID
    member_id: UUID
    device_key_id: str
    items: list[tuple[UUID, int, int]]  # item, quantity, price as the device showed it
    minutes: int
    created_at: datetime
    created_at_text: str


def _read_offline_record(record: Mapping[str, Any], region_code: str | None) -> _OfflineRecord:
    """The record's shape, checked before anything else reads it (see ledger/signing/offline.py)."""
    def bad(why: str) -> OfflineRecordInvalid:
        return OfflineRecordInvalid(f"the offline record {why}")

    try:
        created_at = check_shape(dict(record) if isinstance(record, Mapping) else record, RECORD_FIELDS,
                                 ("redemption_id", "counter", "member"), region_code, "created_at")
    except ValueError as error:
        raise bad(str(error)) from None
    created = record["created_at"]
    minutes = record["minutes"]
    items = record["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= REDEMPTION_LINES_MAX:
        raise bad(f"has 1 to {REDEMPTION_LINES_MAX} lines")
    lines: list[tuple[UUID, int, int]] = []
    for item in items:
        if not isinstance(item, Mapping) or set(item) != LINE_FIELDS:
            raise bad(f"has a line without exactly the fields {sorted(LINE_FIELDS)}")
        if not isinstance(item["item_id"], str) or not UUID_TEXT.fullmatch(item["item_id"]):
            raise bad("has a malformed item_id")
        quantity, price = item["quantity"], item["price_minutes"]
        if type(quantity) is not int or not 1 <= quantity <= QUANTITY_MAX:
            raise bad(f"has a quantity outside 1 to {QUANTITY_MAX}")
        if type(price) is not int or not 1 <= price <= PRICE_MINUTES_MAX:
            raise bad(f"has a price outside 1 to {PRICE_MINUTES_MAX} minutes")
        lines.append((UUID(item["item_id"]), quantity, price))
    if type(minutes) is not int or minutes != sum(quantity * price for _, quantity, price in lines):
        raise bad("has a total that is not the sum of its lines")
    return _OfflineRecord(
        redemption_id=UUID(record["redemption_id"]), counter_id=UUID(record["counter"]),
        member_id=UUID(record["member"]), device_key_id=record["device_key_id"], items=lines, minutes=minutes,
        created_at=created_at, created_at_text=created)


class AccountUseCases(LedgerCore):
    """爱心超市: balances and redemptions."""

    def get_account(self, member_id: UUID) -> TimeAccount:
        return self._get(TimeAccount.create_id(member_id), TimeAccount, "time account")

    def get_balance_minutes(self, member_id: UUID) -> int:
        return self.get_account(member_id).balance_minutes

    def basket(self, actor: Actor, items: Sequence[tuple[UUID, int]]) -> tuple[Counter, list[dict[str, Any]], int]:
        """The signed-in counter's basket at its community's catalogue prices: the lines and the total."""
        self._require_role(actor, Role.COUNTER)
        if not items or len(items) > REDEMPTION_LINES_MAX:
            raise InvalidInput(f"a redemption has 1 to {REDEMPTION_LINES_MAX} lines")
        counter = self._get(actor.actor_id, Counter)
        community = self._get(counter.community_id, Community)
        lines: list[dict[str, Any]] = []
        for item_id, quantity in items:
            if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= QUANTITY_MAX:
                raise InvalidInput(f"quantity must be 1 to {QUANTITY_MAX}")
            name, price = community.require_item(item_id)
            lines.append({"item_id": str(item_id), "name": name, "quantity": quantity, "price_minutes": price})
        return counter, lines, sum(line["quantity"] * line["price_minutes"] for line in lines)

    def redeem(self, *, actor: Actor, member_id: UUID, redemption_id: UUID,
               items: Sequence[tuple[UUID, int]], request_id: str | None = None) -> RedemptionResult:
        """Redeem certified minutes against the counter's community catalogue. Exactly once per
        `redemption_id`: a retry with the same terms returns the original result."""
        counter, lines, total = self.basket(actor, items)
        account = self.get_account(member_id)
        previous = account.redemptions.get(redemption_id)
        if previous is not None and previous[0] == str(counter.id) and _items_of(previous[2]) == _items_of(lines):
            lines, total = previous[2], previous[1]  # a retry after a price change keeps the original terms
        applied = account.redeem(redemption_id=redemption_id, counter_id=counter.id, lines=lines, minutes=total)
        if applied:
            self._commit(actor, request_id, account)
        return RedemptionResult(redemption_id=redemption_id, minutes=total, balance_minutes=account.balance_minutes,
                                applied=applied, lines=lines)


    # -- offline capture at the counter (离线兑换, issue #15) ----------------------------------------
    def sync_offline_redemption(self, *, actor: Actor, record: Mapping[str, Any], signature: bytes,
                                request_id: str | None = None) -> OfflineSyncResult:
        """Apply a redemption a counter device captured and signed while offline, re-checking every rule:
        the record's shape, the device key (a registered, unrevoked key of this counter) and its signature
        over `offline_redemption_bytes(record)`, the items (in the community's catalogue), the region's
        offline bound, and the balance (`TimeAccount.redeem_offline`: short is owed, never below zero).
        Exactly once per redemption id: a retry is answered with the original result.

        Prices: the member is charged what the device showed and signed (the catalogue's price when the
        device last loaded it: a reprice since does not rewrite what was agreed at the counter); every item
        must be in the community's catalogue (one delisted since is accepted: the goods have left)."""
        self._require_role(actor, Role.COUNTER)
        parsed = _read_offline_record(record, self.region_code)
        if parsed.counter_id != actor.actor_id:
            raise OfflineRecordInvalid("the offline record was made at another counter")
        key = self.device_key(actor=actor, key_id=parsed.device_key_id)
        public = ed25519.load_public(key.public_key)
        if len(signature) != ed25519.SIGNATURE_BYTES or not ed25519.verify(
                public, signature, offline_redemption_bytes(dict(record))):
            raise DeviceSignatureInvalid("the device's signature does not match the record")
        counter = self._get(actor.actor_id, Counter)
        community = self._get(counter.community_id, Community)
        lines: list[dict[str, Any]] = []
        for item_id, quantity, price in parsed.items:
            known = community.catalogue.get(item_id)
            if known is None:
                raise OfflineItemUnknown(f"item {item_id} is not in the catalogue of {community.name}")
            lines.append({"item_id": str(item_id), "name": known[0], "quantity": quantity, "price_minutes": price})
        account = self.get_account(parsed.member_id)
        if parsed.redemption_id not in account.redemptions:  # a retry is answered whatever happened since
            if key.revoked_at is not None:
                raise DeviceKeyRevoked(f"device key {key.key_id} is revoked")
            self.check_device_moment(key, parsed.created_at, "record")
        region = self.get_region()
        bound = min(region.offline_minutes_per_member_day, OFFLINE_BOUND_MINUTES_MAX)
        device_day: DeviceOfflineDay | None = None
        if region.offline_minutes_per_device_day > 0 and parsed.redemption_id not in account.redemptions:
            day = local_date(parsed.created_at).isoformat()  # the device's total that China day, beside the member's
            day_id = DeviceOfflineDay.create_id(key.key_id, day)
            device_day = (self._get(day_id, DeviceOfflineDay) if self._exists(day_id)
                          else DeviceOfflineDay.open(device_key_id=key.key_id, day=day))
            device_day.use(redemption_id=parsed.redemption_id, minutes=parsed.minutes,
                           bound_minutes=region.offline_minutes_per_device_day)
        applied, outcome = account.redeem_offline(
            redemption_id=parsed.redemption_id, counter_id=counter.id, lines=lines, minutes=parsed.minutes,
            captured_at=parsed.created_at_text, captured_on=local_date(parsed.created_at).isoformat(),
            device_key_id=key.key_id, device_signature=ed25519.b64(signature), bound_minutes=bound)
        if applied:
            self._commit(actor, request_id, account, *([device_day] if device_day is not None else []))
        return OfflineSyncResult(
            redemption_id=parsed.redemption_id, member_id=parsed.member_id, minutes=parsed.minutes,
            owed_added_minutes=int(outcome["owed_added_minutes"]), balance_minutes=account.balance_minutes,
            applied=applied, lines=lines)


def _items_of(lines: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(line["item_id"], line["quantity"]) for line in lines]
