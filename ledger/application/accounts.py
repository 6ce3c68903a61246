"""爱心超市: balances and redemptions."""


from __future__ import annotations

from typing import Any, Sequence
from uuid import UUID


from ledger.domain.errors import (
    InvalidInput,
)
from ledger.domain.organisations import Community, Counter
from ledger.domain.time_account import TimeAccount
from ledger.domain.limits import QUANTITY_MAX, REDEMPTION_LINES_MAX
from ledger.domain.values import Role
from ledger.application.core import Actor, LedgerCore, RedemptionResult


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


def _items_of(lines: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(line["item_id"], line["quantity"]) for line in lines]
