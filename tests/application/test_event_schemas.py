"""The stored shape of events (issue 13): every event class has a stable topic (pinned below: a
rename or a move fails here, and stored topics such as `ledger.domain.member:Member.Registered`
must never move), exactly one signer-role entry, and the upcasters its class version needs; and
every event the demo year stores decodes into its class with exactly that class's fields.
How to change an event's schema: docs/schema-evolution.md."""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

import ledger.domain
from ledger.application import Ledger
from ledger.demo import generate
from ledger.domain import base
from ledger.domain.base import LedgerAggregate
from ledger.domain.permissions import SIGNER_ROLES
from ledger.domain.values import Role
from ledger.storage.mapper import CLASS_VERSION, event_type_name

PINNED_TOPICS = [
    "ledger.domain.activities:Activity.CheckOutMissed",
    "ledger.domain.activities:Activity.CheckedIn",
    "ledger.domain.activities:Activity.CheckedOut",
    "ledger.domain.activities:Activity.Closed",
    "ledger.domain.activities:Activity.Opened",
    "ledger.domain.activities:Activity.ScanSynced",
    "ledger.domain.anywhere:RemoteOfflineDay.Opened",
    "ledger.domain.anywhere:RemoteOfflineDay.Used",
    "ledger.domain.anywhere:RemoteRedemption.AcceptedOffline",
    "ledger.domain.anywhere:RemoteRedemption.Authorised",
    "ledger.domain.anywhere:RemoteRedemption.Captured",
    "ledger.domain.anywhere:RemoteRedemption.OfflinePresented",
    "ledger.domain.anywhere:RemoteRedemption.Refused",
    "ledger.domain.anywhere:RemoteRedemption.Released",
    "ledger.domain.anywhere:RemoteRedemption.Requested",
    "ledger.domain.anywhere:SettlementLog.Checked",
    "ledger.domain.anywhere:SettlementLog.Opened",
    "ledger.domain.keys:Key.Registered",
    "ledger.domain.keys:Key.Revoked",
    "ledger.domain.member:Member.Closed",
    "ledger.domain.member:Member.ConsentGiven",
    "ledger.domain.member:Member.ConsentWithdrawn",
    "ledger.domain.member:Member.Enrolled",
    "ledger.domain.member:Member.ExemptionGranted",
    "ledger.domain.member:Member.ExemptionWithdrawn",
    "ledger.domain.member:Member.Frozen",
    "ledger.domain.member:Member.HistoryImported",
    "ledger.domain.member:Member.JoinedTeam",
    "ledger.domain.member:Member.JoinedUnit",
    "ledger.domain.member:Member.LeftTeam",
    "ledger.domain.member:Member.PersonalDataErased",
    "ledger.domain.member:Member.PostClaimed",
    "ledger.domain.member:Member.PostReleased",
    "ledger.domain.member:Member.Registered",
    "ledger.domain.member:Member.Reopened",
    "ledger.domain.member:Member.ReportSlipIssued",
    "ledger.domain.member:Member.Unfrozen",
    "ledger.domain.member:ReportSlip.Issued",
    "ledger.domain.member:ReportSlip.ReceiptSent",
    "ledger.domain.member:ReportSlip.Reminded",
    "ledger.domain.orders:Order.Accepted",
    "ledger.domain.orders:Order.Cancelled",
    "ledger.domain.orders:Order.Declined",
    "ledger.domain.orders:Order.Dispatched",
    "ledger.domain.orders:Order.Fulfilled",
    "ledger.domain.orders:Order.Placed",
    "ledger.domain.orders:Suggestion.Adopted",
    "ledger.domain.orders:Suggestion.Forwarded",
    "ledger.domain.orders:Suggestion.Submitted",
    "ledger.domain.organisations:Community.ItemDelisted",
    "ledger.domain.organisations:Community.ItemListed",
    "ledger.domain.organisations:Community.ItemRepriced",
    "ledger.domain.organisations:Community.MenuItemPublished",
    "ledger.domain.organisations:Community.MenuItemWithdrawn",
    "ledger.domain.organisations:Community.OrganiserNamed",
    "ledger.domain.organisations:Community.OrganiserWithdrawn",
    "ledger.domain.organisations:Community.PostDefined",
    "ledger.domain.organisations:Community.PostRetired",
    "ledger.domain.organisations:Community.Registered",
    "ledger.domain.organisations:Community.TeamFormed",
    "ledger.domain.organisations:Counter.Opened",
    "ledger.domain.organisations:Unit.MembersDeclared",
    "ledger.domain.organisations:Unit.Paired",
    "ledger.domain.organisations:Unit.Registered",
    "ledger.domain.region:Region.CalendarPublished",
    "ledger.domain.region:Region.CounterConfirmationSet",
    "ledger.domain.region:Region.Initialised",
    "ledger.domain.region:Region.OfflineBoundSet",
    "ledger.domain.region:Region.OfflineBoundsSet",
    "ledger.domain.region:Region.PeerRegistered",
    "ledger.domain.region:Region.PolicyAdopted",
    "ledger.domain.region:Region.PresenceShareSet",
    "ledger.domain.region:Region.ReportDeadlineSet",
    "ledger.domain.region:Region.SettingsChanged",
    "ledger.domain.region:Region.TransferTimeoutSet",
    "ledger.domain.region:Region.YearRescored",
    "ledger.domain.scoring:ScoringPolicy.Published",
    "ledger.domain.service_session:ServiceSession.Certified",
    "ledger.domain.service_session:ServiceSession.ComplaintUpheld",
    "ledger.domain.service_session:ServiceSession.Corrected",
    "ledger.domain.service_session:ServiceSession.Rated",
    "ledger.domain.service_session:ServiceSession.Recorded",
    "ledger.domain.service_session:ServiceSession.Rejected",
    "ledger.domain.time_account:DeviceOfflineDay.Opened",
    "ledger.domain.time_account:DeviceOfflineDay.Used",
    "ledger.domain.time_account:TimeAccount.CapturedOffline",
    "ledger.domain.time_account:TimeAccount.ClawedBack",
    "ledger.domain.time_account:TimeAccount.Credited",
    "ledger.domain.time_account:TimeAccount.Frozen",
    "ledger.domain.time_account:TimeAccount.Held",
    "ledger.domain.time_account:TimeAccount.HoldCaptured",
    "ledger.domain.time_account:TimeAccount.HoldReleased",
    "ledger.domain.time_account:TimeAccount.Opened",
    "ledger.domain.time_account:TimeAccount.Redeemed",
    "ledger.domain.time_account:TimeAccount.RedeemedOffline",
    "ledger.domain.time_account:TimeAccount.TransferredIn",
    "ledger.domain.time_account:TimeAccount.TransferredOut",
    "ledger.domain.time_account:TimeAccount.Unfrozen",
    "ledger.domain.transfer:Transfer.Completed",
    "ledger.domain.transfer:Transfer.Exported",
    "ledger.domain.transfer:Transfer.Initiated",
    "ledger.domain.transfer:Transfer.VoidForced",
    "ledger.domain.transfer:Transfer.Voided",
    "ledger.domain.transfer:TransferImport.Accepted",
    "ledger.domain.transfer:TransferRejection.Recorded",
]
# Event classes past version 1: a bump is written here, beside its upcaster (docs/schema-evolution.md).
PINNED_CLASS_VERSIONS = {"Suggestion.Forwarded": 2, "ServiceSession.Recorded": 2,
                         # issue #12: a region's setting changes carry their reason
                         "Region.SettingsChanged": 2, "Region.ReportDeadlineSet": 2, "Region.YearRescored": 2,
                         "Region.TransferTimeoutSet": 2, "Unit.Paired": 2}
GENERATED_BASES = ("Event", "Created")  # made by eventsourcing for every aggregate; never stored
DEMO_CLOCK_START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # the web tests' pinned demo clock
DEMO_YEAR = 2026
DEMO_MEMBERS = 10  # the fewest the demo makes (it picks four members to exempt)


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _fields(cls: type) -> set[str]:
    """The instance fields of an event class (its annotations, class variables aside)."""
    return {name for name, hint in typing.get_type_hints(cls).items() if typing.get_origin(hint) is not typing.ClassVar}


def event_classes() -> list[type]:
    for module in pkgutil.iter_modules(ledger.domain.__path__):
        importlib.import_module(f"ledger.domain.{module.name}")
    found = []
    for aggregate in set(_subclasses(LedgerAggregate)):
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name not in GENERATED_BASES:
                found.append(value)
    return sorted(found, key=get_topic)


def test_every_event_class_has_its_pinned_topic() -> None:
    classes = event_classes()
    assert [get_topic(cls) for cls in classes] == PINNED_TOPICS
    for cls in classes:
        assert resolve_topic(get_topic(cls)) is cls


def test_every_event_class_has_exactly_one_signer_role_entry() -> None:
    names = [event_type_name(cls) for cls in event_classes()]
    assert len(set(names)) == len(names), "two event classes share a type name inside statements"
    assert sorted(SIGNER_ROLES) == sorted(names)
    for name, roles in SIGNER_ROLES.items():
        assert roles and all(isinstance(role, Role) for role in roles), name


def test_every_versioned_event_class_has_its_upcasters() -> None:
    versions = {event_type_name(cls): getattr(cls, "class_version", 1) for cls in event_classes()}
    assert {name: version for name, version in versions.items() if version != 1} == PINNED_CLASS_VERSIONS
    for cls in event_classes():
        class_version = getattr(cls, "class_version", 1)
        assert CLASS_VERSION not in _fields(cls), "class_version is a class attribute, not a field"
        for version in range(1, class_version):
            upcast = f"upcast_v{version}_v{version + 1}"
            declared = next((vars(k)[upcast] for k in cls.__mro__ if upcast in vars(k)), None)
            assert isinstance(declared, staticmethod), f"{event_type_name(cls)}.{upcast}"


@pytest.fixture(scope="module")
def demo_year() -> Iterator[Ledger]:
    saved = base._CLOCK_OFFSET
    base.start_clock_at(DEMO_CLOCK_START)
    ledger = Ledger("memory:")
    try:
        generate(ledger, members=DEMO_MEMBERS, year=DEMO_YEAR)
        yield ledger
    finally:
        ledger.close()
        base._CLOCK_OFFSET = saved


def test_every_stored_event_of_the_demo_year_decodes_into_its_class(demo_year: Ledger) -> None:
    stored = demo_year.recorder.select_notifications(start=1, limit=1_000_000)
    assert len(stored) > 200
    seen = set()
    for notification in stored:
        cls = resolve_topic(notification.topic)
        domain_event = demo_year.mapper.to_domain_event(notification)
        assert type(domain_event) is cls, notification.topic
        fields = {name for name in vars(domain_event) if not name.startswith("_")}
        expected = _fields(cls)
        assert fields == expected, (notification.topic, fields ^ expected)
        seen.add(event_type_name(cls))
    assert "Suggestion.Forwarded" in seen  # the worked example of a version 2 event is among them
