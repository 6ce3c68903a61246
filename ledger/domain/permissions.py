"""Which role's key may sign which event type. The ledger checks it before signing; `verify`
checks it again for every stored event, so a statement signed by the wrong kind of actor is
named even when its signature is valid."""

from __future__ import annotations

from ledger.domain.values import Role

P, R, U, C, K, M, S, A = (Role.PROVINCE, Role.REGION, Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER,
                          Role.RESIDENT, Role.AUDITOR)

SIGNER_ROLES: dict[str, frozenset[Role]] = {
    "Key.Registered": frozenset({P, R, U, C}),  # further checked against CERTIFIERS
    "Key.Revoked": frozenset({P, R, U, C}),
    "Region.Initialised": frozenset({R}),
    "Region.SettingsChanged": frozenset({R}),
    "Region.ReportDeadlineSet": frozenset({R}),
    "Region.PolicyAdopted": frozenset({R}),
    "Region.YearRescored": frozenset({R}),
    "Region.PeerRegistered": frozenset({R}),
    "Region.TransferTimeoutSet": frozenset({R}),
    "Region.CalendarPublished": frozenset({R}),
    "Region.CounterConfirmationSet": frozenset({R}),
    "Region.PresenceShareSet": frozenset({R}),
    "Region.OfflineBoundSet": frozenset({R}),
    "Region.OfflineBoundsSet": frozenset({R}),
    "Transfer.Initiated": frozenset({R}),
    "Transfer.Exported": frozenset({R}),
    "Transfer.Completed": frozenset({R}),
    "Transfer.Voided": frozenset({R}),
    "Transfer.VoidForced": frozenset({R}),
    "TransferImport.Accepted": frozenset({R}),
    "TransferRejection.Recorded": frozenset({R}),
    "Member.HistoryImported": frozenset({R}),
    "Member.Reopened": frozenset({R}),
    "Member.JoinedUnit": frozenset({U}),
    "ScoringPolicy.Published": frozenset({P, R}),
    "Unit.Registered": frozenset({R}),
    "Unit.MembersDeclared": frozenset({U}),
    "Unit.Paired": frozenset({U, R}),
    "Community.Registered": frozenset({R}),
    "Counter.Opened": frozenset({C, R}),  # a community its own; the region any community's (issue #12)
    "Member.Enrolled": frozenset({U, R}),
    "Member.Registered": frozenset({C}),
    "Member.PostClaimed": frozenset({M, C}),
    "Member.PostReleased": frozenset({M, C}),
    "Member.JoinedTeam": frozenset({C}),
    "Member.LeftTeam": frozenset({C}),
    "Member.ExemptionGranted": frozenset({U}),
    "Member.ExemptionWithdrawn": frozenset({U}),
    "Member.ConsentGiven": frozenset({M}),
    "Member.ConsentWithdrawn": frozenset({M}),
    "Member.PersonalDataErased": frozenset({C, R}),
    "Member.Frozen": frozenset({R}),
    "Member.Unfrozen": frozenset({R}),
    "Member.Closed": frozenset({R}),
    "ReportSlip.Issued": frozenset({U}),
    "Member.ReportSlipIssued": frozenset({U}),
    "ReportSlip.ReceiptSent": frozenset({C}),
    "ReportSlip.Reminded": frozenset({U}),
    "ServiceSession.Recorded": frozenset({M, C}),
    "ServiceSession.Rated": frozenset({S, C, U}),
    "ServiceSession.Certified": frozenset({C}),
    "ServiceSession.Rejected": frozenset({C}),
    "ServiceSession.Corrected": frozenset({C}),
    "ServiceSession.ComplaintUpheld": frozenset({C}),
    "TimeAccount.Opened": frozenset({C, R}),
    "TimeAccount.Credited": frozenset({C, R}),
    "TimeAccount.ClawedBack": frozenset({C}),
    "TimeAccount.Redeemed": frozenset({K}),
    "TimeAccount.RedeemedOffline": frozenset({K}),  # the counter, carrying its device's signature
    "TimeAccount.Frozen": frozenset({R}),
    "TimeAccount.Unfrozen": frozenset({R}),
    "TimeAccount.TransferredOut": frozenset({R}),
    "TimeAccount.TransferredIn": frozenset({R}),
    # 通存通兑 (issue #14): the home region holds, captures and releases on a counter region's signed request
    "TimeAccount.Held": frozenset({R}),
    "TimeAccount.HoldCaptured": frozenset({R}),
    "TimeAccount.HoldReleased": frozenset({R}),
    # … and the counter's region keeps each such redemption with the home region's signed answers
    "RemoteRedemption.Requested": frozenset({K}),
    "RemoteRedemption.Authorised": frozenset({K, R}),
    "RemoteRedemption.Refused": frozenset({K, R}),
    "RemoteRedemption.Captured": frozenset({K, R}),
    "RemoteRedemption.Released": frozenset({K, R}),
    "RemoteRedemption.AcceptedOffline": frozenset({K}),
    "RemoteRedemption.OfflinePresented": frozenset({K, R}),
    "DeviceOfflineDay.Opened": frozenset({K}),  # a counter device's offline total that day (issue #15)
    "DeviceOfflineDay.Used": frozenset({K}),
    "RemoteOfflineDay.Opened": frozenset({K}),
    "RemoteOfflineDay.Used": frozenset({K}),
    "TimeAccount.CapturedOffline": frozenset({R}),
    "SettlementLog.Opened": frozenset({R}),  # a peer's settlement statements checked here (issue #14)
    "SettlementLog.Checked": frozenset({R}),
    "Order.Placed": frozenset({S, C}),  # the resident, or their community on their behalf (电话、上门点单)
    "Order.Dispatched": frozenset({C}),
    "Order.Accepted": frozenset({M}),
    "Order.Declined": frozenset({M}),
    "Order.Fulfilled": frozenset({C}),
    "Order.Cancelled": frozenset({S, C}),
    "Suggestion.Submitted": frozenset({M}),
    "Suggestion.Adopted": frozenset({C}),
    "Suggestion.Forwarded": frozenset({C}),
    # check-in at the venue (issue #15): the community runs the activity, or a member it named organiser
    # (活动组织者, Community.OrganiserNamed) runs it with the member's own key; a member's own scan is
    # signed by the member, the organiser's scan of a member's code (and 团体录入) by the office or the
    # organiser. Which member may sign which activity event is checked across records by
    # ledger/verification/organisers.py.
    "Activity.Opened": frozenset({C, M}),
    "Activity.CheckedIn": frozenset({M, C}),
    "Activity.CheckedOut": frozenset({M, C}),
    "Activity.CheckOutMissed": frozenset({C, M}),
    "Activity.ScanSynced": frozenset({C}),  # a venue device's offline scan, synced by its community
    "Activity.Closed": frozenset({C, M}),
}
# Community events other than registration are signed by the community itself.
for _name in ("PostDefined", "PostRetired", "TeamFormed", "MenuItemPublished", "MenuItemWithdrawn", "ItemListed",
              "ItemRepriced", "ItemDelisted", "OrganiserNamed", "OrganiserWithdrawn"):
    SIGNER_ROLES[f"Community.{_name}"] = frozenset({C})
del _name
