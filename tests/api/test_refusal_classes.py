"""Refusals are real classes with stable codes; their HTTP statuses live in one table in `api/`.

The pinned table below is the contract clients rely on: a refusal's class name, its `code` and its
HTTP status. Renaming a code, changing a status, or adding a refusal without writing it down here
fails. Discovery walks every module of `ledger`, `projections` and `api`, so the test keeps working
when modules move (it pins class names, not paths)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pytest

import api
import ledger
import projections
from api.errors import HTTP_STATUSES, REFUSALS, ApiError, http_status_of
from ledger.domain.errors import LedgerError

# class name: (code, HTTP status)
PINNED: dict[str, tuple[str, int]] = {
    # ledger/domain/errors.py: categories
    "NotFound": ("not_found", 404),
    "InvalidInput": ("invalid_input", 422),
    "NotPermitted": ("not_permitted", 403),
    "WrongState": ("wrong_state", 409),
    "ExistsWithDifferentTerms": ("exists_with_different_terms", 409),
    "ConcurrentUpdate": ("concurrent_update", 409),
    "Unavailable": ("unavailable", 503),
    # ledger/domain/errors.py: refusals
    "AlreadyExists": ("already_exists", 409),
    "BalanceWouldGoNegative": ("balance_would_go_negative", 409),
    "RedemptionExistsWithDifferentTerms": ("redemption_exists_with_different_terms", 409),
    "MemberFrozen": ("member_frozen", 409),
    "MemberNotRegistered": ("member_not_registered", 409),
    "SessionNotRated": ("session_not_rated", 409),
    "SessionAlreadyDecided": ("session_already_decided", 409),
    "SessionNotCertified": ("session_not_certified", 409),
    "LastPostCannotBeReleased": ("last_post_cannot_be_released", 409),
    "ItemNotAvailable": ("item_not_available", 409),
    "OrderWrongState": ("order_wrong_state", 409),
    "KeyRevoked": ("key_revoked", 403),
    "KeyNotCertified": ("key_not_certified", 403),
    "SignatureInvalid": ("signature_invalid", 422),
    "ConsentMissing": ("consent_missing", 403),
    "PersonalDataErased": ("personal_data_erased", 409),
    "MemberKeyLocked": ("member_key_locked", 403),
    "MemberKeyHeldByMember": ("member_key_held_by_member", 409),
    "ReportSlipNamesAnotherCommunity": ("report_slip_names_another_community", 403),
    "CheckinCodeMalformed": ("checkin_code_malformed", 422),
    "CheckinCodeSignatureInvalid": ("checkin_code_signature_invalid", 422),
    "CheckinCodeExpired": ("checkin_code_expired", 409),
    "CheckinCodeWrongActivity": ("checkin_code_wrong_activity", 422),
    "ActivityClosed": ("activity_closed", 409),
    "MemberNotRegisteredHere": ("member_not_registered_here", 403),
    "NotAnOrganiser": ("not_an_organiser", 403),
    "OrganiserWithdrawn": ("organiser_withdrawn", 403),
    "AlreadyCheckedIn": ("already_checked_in", 409),
    "NotCheckedIn": ("not_checked_in", 409),
    "OfflineRedemptionsOff": ("offline_redemptions_off", 409),
    "OfflineBoundExceeded": ("offline_bound_exceeded", 409),
    "DeviceKeyUnknown": ("device_key_unknown", 403),
    "DeviceKeyRevoked": ("device_key_revoked", 403),
    "DeviceSignatureInvalid": ("device_signature_invalid", 422),
    "OfflineRecordInvalid": ("offline_record_invalid", 422),
    "OfflineItemUnknown": ("offline_item_unknown", 422),
    # elsewhere in ledger/
    "InvalidCalendar": ("invalid_calendar", 422),
    "DemoPredatesRegion": ("demo_predates_region", 409),
    "TransferRefused": ("transfer_refused", 422),
    "BundleWrongDestination": ("bundle_wrong_destination", 409),
    "TransferAlreadyImported": ("transfer_already_imported", 409),
    "DestinationUnreachable": ("destination_unreachable", 503),
    "TransferNotExpired": ("transfer_not_expired", 409),
    "VoidNeedsAnswer": ("transfer_void_needs_answer", 409),
    # 通存通兑 (issue #14)
    "HoldPending": ("hold_pending", 409),
    "HoldNotFound": ("hold_not_found", 404),
    "HoldReleased": ("hold_released", 409),
    "HoldCaptured": ("hold_captured", 409),
    "HoldExpired": ("hold_expired", 409),
    "AnywhereRefused": ("anywhere_refused", 422),
    "HomeRegionRefused": ("home_region_refused", 409),
    "HomeRegionRejected": ("home_region_rejected_request", 409),
    "HomeRegionUnreachable": ("home_region_unreachable", 503),
    "HomeRegionNotPeer": ("home_region_not_peer", 404),
    "SettlementRefused": ("settlement_refused", 422),
    "PeerUnreachable": ("settlement_peer_unreachable", 503),
    # api/: the API's own refusals
    "AuthenticationFailed": ("not_authenticated", 401),
    "InvalidCredentials": ("invalid_credentials", 401),
    "TokenExpired": ("token_expired", 401),
    "TokenRevoked": ("token_revoked", 401),
    "MemberLoginRefused": ("member_login_by_member_only", 403),
    "TooManyAttempts": ("too_many_attempts", 429),
    "SignInBusy": ("sign_in_busy", 503),
    "WeakPassword": ("weak_password", 422),
    "MemberKeyNotOwn": ("member_key_not_own", 403),
    "ActivationCodeInvalid": ("activation_code_invalid", 403),
    "MemberLoginExists": ("member_login_exists", 409),
    "ReasonRequired": ("reason_required", 422),
    "IdempotencyKeyReused": ("idempotency_key_reused", 409),
    "IdempotencyKeyInProgress": ("idempotency_key_in_progress", 409),
    "InvalidHeader": ("invalid_header", 422),
    "RateLimited": ("rate_limited", 429),
    "BundleTooLarge": ("bundle_too_large", 413),
    "CsrfRefused": ("csrf_refused", 403),
    "WrongRolePage": ("wrong_role_page", 403),
    "TooLarge": ("request_too_large", 413),
}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _subclasses(base: type) -> Iterator[type]:
    for sub in base.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.fixture(scope="module")
def refusal_classes() -> list[type[Any]]:
    for package in (ledger, projections, api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith(".__main__"):  # `python -m api.cli` runs the CLI when imported
                importlib.import_module(module.name)
    found = {cls for base in REFUSALS for cls in _subclasses(base) if cls.__module__.split(".")[0] != "tests"}
    return sorted(found, key=lambda cls: cls.__name__)


def _status(cls: type[Any]) -> int:
    return http_status_of(cls.__new__(cls))  # an instance only to read its class


def test_every_refusal_is_pinned_with_its_code_and_status(refusal_classes: list[type[Any]]) -> None:
    found = {cls.__name__: (cls.code, _status(cls)) for cls in refusal_classes}
    assert len(found) == len(refusal_classes), "two refusal classes share a name"
    assert found == PINNED


def test_every_refusal_is_a_class_statement_with_its_own_snake_case_code(
        refusal_classes: list[type[Any]]) -> None:
    codes: dict[str, str] = {}
    for cls in refusal_classes:
        source = inspect.getsource(importlib.import_module(cls.__module__))
        assert re.search(rf"^class {cls.__name__}\(", source, re.MULTILINE), f"{cls.__name__} is not written out"
        code = cls.__dict__.get("code")
        assert isinstance(code, str) and SNAKE.match(code), f"{cls.__name__} has no code of its own"
        assert code not in codes, f"{cls.__name__} and {codes.get(code)} share the code {code}"
        codes[code] = cls.__name__


def test_the_ledger_knows_no_http_and_web_refusals_are_not_ledger_refusals(
        refusal_classes: list[type[Any]]) -> None:
    for cls in refusal_classes:
        assert not hasattr(cls, "http_status"), f"{cls.__name__} carries an HTTP status"
        assert not (issubclass(cls, LedgerError) and issubclass(cls, ApiError)), cls.__name__
        if cls.__module__.startswith("ledger."):
            assert issubclass(cls, LedgerError), cls.__name__
        if issubclass(cls, ApiError):
            assert cls.__module__.startswith("api."), cls.__name__
            assert cls.code in HTTP_STATUSES, f"{cls.__name__}: no status for {cls.code}"


def test_a_transfer_refusal_keeps_its_check_code_and_its_class_status() -> None:
    from ledger.application.transfers import BundleWrongDestination, TransferRefused

    refused = TransferRefused("bundle_signature_invalid", "the bundle's signature does not verify")
    assert (refused.code, http_status_of(refused)) == ("bundle_signature_invalid", 422)
    wrong = BundleWrongDestination("bundle_wrong_destination", "the bundle is addressed to another region")
    assert isinstance(wrong, TransferRefused) and http_status_of(wrong) == 409
