"""Domain refusals. Each has a stable snake_case `code` that clients and tests match on."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every expected refusal. `code` is stable; `detail` is for people."""

    code = "ledger_error"
    http_status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(LedgerError):
    code = "not_found"
    http_status = 404


class InvalidInput(LedgerError):
    code = "invalid_input"
    http_status = 422


class NotPermitted(LedgerError):
    """The actor may not do this to this object."""

    code = "not_permitted"
    http_status = 403


class WrongState(LedgerError):
    """The object is not in a state that allows the command."""

    code = "wrong_state"
    http_status = 409


class ExistsWithDifferentTerms(LedgerError):
    """A client id was used before with other terms (idempotency conflict)."""

    code = "exists_with_different_terms"
    http_status = 409


class ConcurrentUpdate(LedgerError):
    """Another command changed the same object first; retrying is safe."""

    code = "concurrent_update"
    http_status = 409


def _refusal(name: str, base: type[LedgerError], code: str) -> type[LedgerError]:
    return type(name, (base,), {"code": code, "__doc__": code.replace("_", " ")})


# Stable refusal codes, grouped by the base that gives their HTTP status.
AlreadyExists = _refusal("AlreadyExists", WrongState, "already_exists")
BalanceWouldGoNegative = _refusal("BalanceWouldGoNegative", WrongState, "balance_would_go_negative")
RedemptionExistsWithDifferentTerms = _refusal(
    "RedemptionExistsWithDifferentTerms", ExistsWithDifferentTerms, "redemption_exists_with_different_terms"
)
MemberFrozen = _refusal("MemberFrozen", WrongState, "member_frozen")
MemberNotRegistered = _refusal("MemberNotRegistered", WrongState, "member_not_registered")
SessionNotRated = _refusal("SessionNotRated", WrongState, "session_not_rated")
SessionAlreadyDecided = _refusal("SessionAlreadyDecided", WrongState, "session_already_decided")
SessionNotCertified = _refusal("SessionNotCertified", WrongState, "session_not_certified")
LastPostCannotBeReleased = _refusal("LastPostCannotBeReleased", WrongState, "last_post_cannot_be_released")
ItemNotAvailable = _refusal("ItemNotAvailable", WrongState, "item_not_available")
OrderWrongState = _refusal("OrderWrongState", WrongState, "order_wrong_state")
KeyRevoked = _refusal("KeyRevoked", NotPermitted, "key_revoked")
KeyNotCertified = _refusal("KeyNotCertified", NotPermitted, "key_not_certified")
SignatureInvalid = _refusal("SignatureInvalid", InvalidInput, "signature_invalid")
ConsentMissing = _refusal("ConsentMissing", NotPermitted, "consent_missing")
PersonalDataErased = _refusal("PersonalDataErased", WrongState, "personal_data_erased")
MemberKeyLocked = _refusal("MemberKeyLocked", NotPermitted, "member_key_locked")
MemberKeyHeldByMember = _refusal("MemberKeyHeldByMember", WrongState, "member_key_held_by_member")
ReportSlipNamesAnotherCommunity = _refusal("ReportSlipNamesAnotherCommunity", NotPermitted,
                                          "report_slip_names_another_community")
