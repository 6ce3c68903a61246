"""Domain refusals. Each has a stable snake_case `code` that clients and tests match on.

Every refusal is a class written out here (greppable, "go to definition" works) under one of the
categories below. The ledger knows nothing of HTTP: `api/errors.py` maps the categories to statuses
in one table. A code, once published, never changes (clients and the API tests match on it).
"""

from __future__ import annotations


Param = str | int


class LedgerError(Exception):
    """Base of every expected refusal. `code` is stable; `detail` is the ledger's explanation (English,
    for operators and API clients). What a person reads comes from the message catalogue
    (api/catalogue.py), keyed by `code` and, where the refusal is about one input, by `field` and
    `reason` (a stable snake_case word: "required", "too_long", "minutes_exceed_span" …) with safe
    `params` (numbers, limits, object kinds: never personal data, never ids)."""

    code = "ledger_error"

    def __init__(self, detail: str, *, field: str | None = None, reason: str | None = None,
                 params: dict[str, Param] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.reason = reason
        self.params: dict[str, Param] = dict(params or {})


# -- categories ------------------------------------------------------------------------------------

class NotFound(LedgerError):
    """No such object (in this region)."""

    code = "not_found"


class InvalidInput(LedgerError):
    """The command's input breaks a rule of its shape (a limit, a format, a missing field)."""

    code = "invalid_input"


class NotPermitted(LedgerError):
    """The actor may not do this to this object."""

    code = "not_permitted"


class WrongState(LedgerError):
    """The object is not in a state that allows the command."""

    code = "wrong_state"


class ExistsWithDifferentTerms(LedgerError):
    """A client id was used before with other terms (idempotency conflict)."""

    code = "exists_with_different_terms"


class ConcurrentUpdate(LedgerError):
    """Another command changed the same object first; retrying is safe."""

    code = "concurrent_update"


class Unavailable(LedgerError):
    """A party the command needs (another region) did not answer; nothing changed, retrying later is safe."""

    code = "unavailable"


# -- refusals --------------------------------------------------------------------------------------

class AlreadyExists(WrongState):
    """An object with this id or name exists already, or the step was taken already."""

    code = "already_exists"


class BalanceWouldGoNegative(WrongState):
    """The time account does not hold the minutes the redemption or transfer needs."""

    code = "balance_would_go_negative"


class RedemptionExistsWithDifferentTerms(ExistsWithDifferentTerms):
    """A redemption id was used before for another basket or member."""

    code = "redemption_exists_with_different_terms"


class MemberFrozen(WrongState):
    """The member or account is frozen by a pending transfer."""

    code = "member_frozen"


class MemberNotRegistered(WrongState):
    """The member is enrolled but no community has registered them yet."""

    code = "member_not_registered"


class SessionNotRated(WrongState):
    """A session is certified only after it was rated."""

    code = "session_not_rated"


class SessionAlreadyDecided(WrongState):
    """The session was certified or rejected already."""

    code = "session_already_decided"


class SessionNotCertified(WrongState):
    """The session is not certified (only a certified session is corrected or counted)."""

    code = "session_not_certified"


class LastPostCannotBeReleased(WrongState):
    """A registered member keeps at least one post."""

    code = "last_post_cannot_be_released"


class ItemNotAvailable(WrongState):
    """The item is not in the catalogue of this service point."""

    code = "item_not_available"


class OrderWrongState(WrongState):
    """The order's state does not allow this step (e.g. collecting a cancelled order)."""

    code = "order_wrong_state"


class KeyRevoked(NotPermitted):
    """The signing key was revoked before this act."""

    code = "key_revoked"


class KeyNotCertified(NotPermitted):
    """The signing key is not certified by the key of the role above."""

    code = "key_not_certified"


class SignatureInvalid(InvalidInput):
    """A client-made signature does not match its statement, or the statements are stale."""

    code = "signature_invalid"


class ConsentMissing(NotPermitted):
    """The member has not consented to share this with this party."""

    code = "consent_missing"


class PersonalDataErased(WrongState):
    """The member's personal data was erased: there is nothing to show or change."""

    code = "personal_data_erased"


class MemberKeyLocked(NotPermitted):
    """The member's key is protected by their password: only their own sign-in signs with it."""

    code = "member_key_locked"


class MemberKeyHeldByMember(WrongState):
    """The member holds their own key: the community may no longer sign for them."""

    code = "member_key_held_by_member"


class ReportSlipNamesAnotherCommunity(NotPermitted):
    """The member's report slip sends them to another community."""

    code = "report_slip_names_another_community"


# -- check-in at the venue (签到码, issue #15) -------------------------------------------------------

class CheckinCodeMalformed(InvalidInput):
    """The text is not a check-in code (typed wrongly, cut short, or another QR)."""

    code = "checkin_code_malformed"


class CheckinCodeSignatureInvalid(InvalidInput):
    """The check-in code was altered, or not signed by the activity's community."""

    code = "checkin_code_signature_invalid"


class CheckinCodeExpired(WrongState):
    """The check-in code's 30-second window has passed (a photo forwarded later): scan the screen."""

    code = "checkin_code_expired"


class CheckinCodeWrongActivity(InvalidInput):
    """The check-in code belongs to another activity (or another region)."""

    code = "checkin_code_wrong_activity"


class ActivityClosed(WrongState):
    """The activity is closed: nobody checks in or out any more."""

    code = "activity_closed"


class MemberNotRegisteredHere(NotPermitted):
    """The member is not registered with the community that runs the activity."""

    code = "member_not_registered_here"


class NotAnOrganiser(NotPermitted):
    """The member was not named an organiser (活动组织者) by the activity's community."""

    code = "not_an_organiser"


class OrganiserWithdrawn(NotPermitted):
    """The community withdrew the member as organiser: they no longer run its activities."""

    code = "organiser_withdrawn"


class AlreadyCheckedIn(WrongState):
    """The member checked in to this activity already (and has not checked out)."""

    code = "already_checked_in"


class NotCheckedIn(WrongState):
    """A check-out without a check-in (or after the member's check-out)."""

    code = "not_checked_in"


# -- 通存通兑: redeeming at a counter of another region (issue #14) ------------------------------------
class HoldPending(WrongState):
    """The account has minutes held for a counter of another region: it cannot move region until each
    hold is captured or released."""

    code = "hold_pending"


class HoldNotFound(NotFound):
    """No hold of that redemption id on this account (a capture or void for an unknown redemption)."""

    code = "hold_not_found"


class HoldReleased(WrongState):
    """The hold was released (voided, or it expired) and its minutes are spendable again: it can no
    longer be captured."""

    code = "hold_released"


class HoldCaptured(WrongState):
    """The hold was captured into a redemption: it can no longer be voided."""

    code = "hold_captured"


class HoldExpired(WrongState):
    """The counter region did not capture within the hold's time limit: the hold was released."""

    code = "hold_expired"
# -- offline capture at the counter (离线兑换, issue #15) --------------------------------------------

class OfflineRedemptionsOff(WrongState):
    """The region allows no offline redemption (its offline bound is 0 minutes)."""

    code = "offline_redemptions_off"


class OfflineBoundExceeded(WrongState):
    """The member's offline redemptions at this counter that day would pass the region's bound."""

    code = "offline_bound_exceeded"


class DeviceKeyUnknown(NotPermitted):
    """The offline record names a device key that is not a registered key of this counter."""

    code = "device_key_unknown"


class DeviceKeyRevoked(NotPermitted):
    """The counter device's key was revoked: its offline records are not accepted."""

    code = "device_key_revoked"


class DeviceSignatureInvalid(InvalidInput):
    """The offline record's signature does not match it (altered, or another device's key)."""

    code = "device_signature_invalid"


class OfflineRecordInvalid(InvalidInput):
    """The offline record is malformed, names another counter or region, or is dated impossibly."""

    code = "offline_record_invalid"


class OfflineItemUnknown(InvalidInput):
    """The offline record names an item that is not in the counter's community catalogue."""

    code = "offline_item_unknown"
