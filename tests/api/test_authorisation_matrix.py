"""The authorisation matrix: every endpoint × every role × own/other object, checked against a table
written here from DOMAIN.md (who may do what to whose objects), not read from api/policy.py: the
test proves the API answers what the domain says, not merely that the code's table is enforced.

For each endpoint a fresh two-sided world is built (tests/api/world.py); the caller is always a side-A
actor (or the region admin / auditor), "own" targets side A's objects and "other" side B's. A cell the
table forbids must answer 403 `not_permitted` (and change nothing); a cell it allows must not be
refused for authorisation (it may still be a 409 for the object's state, never a 401/403/404/5xx).
Every route of the app must appear here, so a new endpoint cannot skip the matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.policy import POLICY, Kind, Scope  # the promise test below reads it; the matrix does not
from api.settings import settings_for_tests
from ledger.application import Actor, Ledger
from ledger.domain.values import ConsentPurpose, Role, stable_id
from ledger.signing import keys as ed25519
from ledger.signing.offline import offline_redemption_bytes, offline_scan_bytes, offline_session_bytes
from tests.api.world import Side, World, build_world, today_iso

ROLES = [Role.REGION, Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER, Role.RESIDENT, Role.AUDITOR]
NOT_IN_POLICY = {  # every signed-in login may use these: they act on the caller's own session
    ("POST", "/v1/auth/token"), ("POST", "/v1/auth/revoke"), ("POST", "/v1/auth/password"), ("GET", "/v1/auth/me"),
    ("GET", "/healthz"),
    # the caller's own logins and tokens (tests/api/test_member_logins.py), and a member's activation (no login yet:
    # the one-time code is the credential)
    ("GET", "/v1/auth/logins"), ("POST", "/v1/auth/logins/{username}/disable"), ("GET", "/v1/auth/tokens"),
    ("POST", "/v1/auth/tokens/{token_id}/revoke"), ("POST", "/v1/auth/activate"),
    # a peer region pushes a bundle: no login, the bundle's signatures are its credentials
    ("POST", "/v1/federation/transfer-imports"), ("POST", "/v1/federation/transfer-status"),
    # 通存通兑: a peer region's counter asks about a member of this region; its signature is its credential
    ("POST", "/v1/federation/redemptions"),
    ("POST", "/v1/federation/settlements"),  # the statement proves who sends it (a peer region's signature)
}


def authority_target(world: World, role: Role, side: Side) -> Actor:
    """An actor the role manages on that side: a community its counter, a unit (and the region) a member."""
    return side.counter if role is Role.COMMUNITY else side.member


def key_target(world: World, role: Role, side: Side) -> str:
    return side.counter_key_id if role is Role.COMMUNITY else side.member_key_id


Target = Callable[[World, Role, Side], dict[str, str]]
Body = Callable[[World, Role, Side], Any]


@dataclass(frozen=True)
class Spec:
    method: str
    path: str
    action: str
    params: Target = lambda w, r, s: {}
    body: Body = lambda w, r, s: None
    query: Target = lambda w, r, s: {}
    tolerate: frozenset[int] = frozenset()  # statuses an allowed cell may get for the object's state


def _ids(**names: str) -> Target:
    return lambda w, r, s: {k: str(getattr(s, v).actor_id if isinstance(getattr(s, v), Actor) else getattr(s, v))
                            for k, v in names.items()}


def _session(w: World, r: Role, s: Side) -> dict[str, Any]:
    return {"member_id": str(s.member.actor_id), "activity": "平安巡逻", "content": "夜间巡逻", "place": "小区",
            "service_date": today_iso(w.ledger), "start_time": "19:00", "end_time": "21:00", "minutes": 90}


def _consent_id(w: World, r: Role, s: Side) -> dict[str, str]:
    consent = stable_id("consent", s.member.actor_id, ConsentPurpose.UNIT_FEEDBACK.value, str(s.unit.actor_id))
    return {"member_id": str(s.member.actor_id), "consent_id": str(consent)}


def _public_key() -> str:
    return ed25519.b64(ed25519.public_bytes(ed25519.generate().public_key()))


def _offline_sync(w: World, r: Role, s: Side) -> dict[str, Any]:
    """One offline record of side A's counter for the side's member, signed by that counter's key."""
    key_id, sign = w.ledger.signer_of(w.a.counter)
    record = {"redemption_id": str(uuid4()), "region": w.ledger.region_code, "counter": str(w.a.counter.actor_id),
              "device_key_id": key_id, "member": str(s.member.actor_id),
              "items": [{"item_id": str(w.a.item_id), "quantity": 1, "price_minutes": 30}], "minutes": 30,
              "created_at": w.ledger.get_key(key_id).created_on.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    return {"record": record, "signature": ed25519.b64(sign(offline_redemption_bytes(record)))}


def _offline_session(w: World, r: Role, s: Side) -> dict[str, Any]:
    """One record the side's member typed offline, signed by that member's phone."""
    key_id = s.phone_key_id
    record = {"session_id": str(uuid4()), "region": w.ledger.region_code, "member": str(s.member.actor_id),
              "device_key_id": key_id, "activity": "敬老助餐", "content": "送餐", "place": "社区",
              "service_date": w.ledger.today().isoformat(), "start_time": "09:00", "end_time": "10:00", "minutes": 60,
              "post_id": "", "order_id": "", "organiser": "", "recipient": "",
              "created_at": w.ledger.get_key(key_id).created_on.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    return {"record": record, "signature": ed25519.b64(s.phone.sign(offline_session_bytes(record)))}


def _offline_scan(w: World, r: Role, s: Side) -> dict[str, Any]:
    """One offline scan of side A's activity for the side's member, signed by that community's key."""
    key_id, sign = w.ledger.signer_of(w.a.community)
    record = {"scan_id": str(uuid4()), "region": w.ledger.region_code, "community": str(w.a.community.actor_id),
              "activity": str(s.activity_id), "device_key_id": key_id, "member": str(s.member.actor_id),
              "action": "in", "scanned_at": w.ledger.get_key(key_id).created_on.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    return {"record": record, "signature": ed25519.b64(sign(offline_scan_bytes(record)))}


SPECS: list[Spec] = [
    Spec("GET", "/v1/region", "region.read"),
    Spec("POST", "/v1/region/settings", "region.change_settings", body=lambda w, r, s: {"display_name": "时间银行"}),
    Spec("PUT", "/v1/region/report-deadlines/{year}", "region.set_deadline", lambda w, r, s: {"year": "2027"},
         lambda w, r, s: {"deadline": "2027-08-31"}),
    Spec("PUT", "/v1/region/transfer-timeout", "region.set_transfer_timeout",
         body=lambda w, r, s: {"days": 45, "reason": "跨省转移回执较慢"}),
    Spec("POST", "/v1/region/scoring-policies", "region.publish_policy", body=lambda w, r, s: {
        "version": 2, "from_year": 2027, "note": "", "rules": {
            "points_per_certified_hour": 10, "rating_factor_permille": {"优": 1200, "良": 1000, "一般": 800},
            "points_per_certified_session": 5, "points_per_distinct_item": 10, "points_per_excellent_order": 5,
            "points_per_adopted_suggestion": 10, "star_thresholds": [50, 100, 200, 400, 800]}}),
    Spec("GET", "/v1/region/scoring-policies/{version}", "policy.read", lambda w, r, s: {"version": "1"}),
    Spec("POST", "/v1/region/rescoring", "region.rescore", body=lambda w, r, s: {"year": 2026, "version": 1}),
    Spec("PUT", "/v1/region/calendars/{year}", "region.publish_calendar", lambda w, r, s: {"year": "2027"},
         lambda w, r, s: {"holidays": ["2027-10-01"], "workdays": [], "source": "国务院办公厅关于2027年部分节假日安排的通知",
                          "published_on": "2026-11-10"}),
    Spec("GET", "/v1/region/calendars/{year}", "region.read", lambda w, r, s: {"year": "2027"}),
    Spec("POST", "/v1/region/auditors", "auditor.register", body=lambda w, r, s: {"label": "第二审计组"}),
    Spec("POST", "/v1/units", "unit.register",
         body=lambda w, r, s: {"name": f"单位{uuid4().hex[:6]}", "unit_type": "企业", "declared_members": 3}),
    Spec("POST", "/v1/communities", "community.register",
         body=lambda w, r, s: {"name": f"社区{uuid4().hex[:6]}", "county": "玄武区", "street": "街道"}),
    Spec("GET", "/v1/units/{unit_id}", "unit.read", _ids(unit_id="unit")),
    Spec("POST", "/v1/units/{unit_id}/pairing", "unit.pair", _ids(unit_id="unit"),
         lambda w, r, s: {"community_id": str(s.community.actor_id)}),
    Spec("PUT", "/v1/units/{unit_id}/declared-members", "unit.declare_members", _ids(unit_id="unit"),
         lambda w, r, s: {"count": 12}),
    Spec("POST", "/v1/members", "member.enrol", body=lambda w, r, s: {"name": "李明", "party_status": "预备"}),
    Spec("GET", "/v1/communities/{community_id}", "community.read", _ids(community_id="community")),
    Spec("POST", "/v1/communities/{community_id}/posts", "community.define_post", _ids(community_id="community"),
         lambda w, r, s: {"name": "防汛值守岗"}),
    Spec("POST", "/v1/communities/{community_id}/posts/{post_id}/retirement", "community.retire_post",
         _ids(community_id="community", post_id="post_id")),
    Spec("POST", "/v1/communities/{community_id}/teams", "community.form_team", _ids(community_id="community"),
         lambda w, r, s: {"name": "书法文艺志愿队", "kind": "趣缘"}),
    Spec("POST", "/v1/communities/{community_id}/menu", "community.publish_menu", _ids(community_id="community"),
         lambda w, r, s: {"title": "上门理发"}),
    Spec("POST", "/v1/communities/{community_id}/menu/{item_id}/withdrawal", "community.withdraw_menu",
         _ids(community_id="community", item_id="menu_item_id")),
    Spec("POST", "/v1/communities/{community_id}/catalogue", "community.list_item", _ids(community_id="community"),
         lambda w, r, s: {"name": "食用油", "price_minutes": 60}),
    Spec("PUT", "/v1/communities/{community_id}/catalogue/{item_id}/price", "community.reprice_item",
         _ids(community_id="community", item_id="item_id"), lambda w, r, s: {"price_minutes": 45}),
    Spec("POST", "/v1/communities/{community_id}/catalogue/{item_id}/delisting", "community.delist_item",
         _ids(community_id="community", item_id="item_id")),
    Spec("POST", "/v1/communities/{community_id}/counters", "community.open_counter", _ids(community_id="community"),
         lambda w, r, s: {"name": "第二收银台"}),
    Spec("POST", "/v1/communities/{community_id}/residents", "community.register_resident",
         _ids(community_id="community"), lambda w, r, s: {"label": "5栋居民"}),
    Spec("GET", "/v1/counters/{counter_id}", "counter.read", _ids(counter_id="counter")),
    Spec("GET", "/v1/members/{member_id}", "member.read", _ids(member_id="member")),
    Spec("GET", "/v1/members/{member_id}/personal", "member.read_personal", _ids(member_id="member")),
    Spec("GET", "/v1/members/{member_id}/balance", "balance.read", _ids(member_id="member")),
    Spec("GET", "/v1/members/{member_id}/account/entries", "account.read", _ids(member_id="member")),
    Spec("POST", "/v1/members/{member_id}/report-slips", "member.issue_slip", _ids(member_id="member"),
         lambda w, r, s: {"community_id": str(s.community.actor_id)}),
    Spec("POST", "/v1/members/{member_id}/registration", "member.register", _ids(member_id="member"),
         lambda w, r, s: {"post_ids": [str(w.a.post_id)]}),
    Spec("POST", "/v1/members/{member_id}/posts", "member.claim_post", _ids(member_id="member"),
         lambda w, r, s: {"post_id": str(s.post_id)}),
    Spec("DELETE", "/v1/members/{member_id}/posts/{post_id}", "member.release_post",
         _ids(member_id="member", post_id="post_id")),
    Spec("POST", "/v1/members/{member_id}/teams", "member.join_team", _ids(member_id="member"),
         lambda w, r, s: {"team_id": str(s.team_id)}),
    Spec("DELETE", "/v1/members/{member_id}/teams/{team_id}", "member.leave_team",
         _ids(member_id="member", team_id="team_id")),
    Spec("PUT", "/v1/members/{member_id}/exemptions/{year}", "member.grant_exemption",
         lambda w, r, s: {"member_id": str(s.member.actor_id), "year": "2026"}, lambda w, r, s: {"reason": "长期病休"}),
    Spec("DELETE", "/v1/members/{member_id}/exemptions/{year}", "member.withdraw_exemption",
         lambda w, r, s: {"member_id": str(s.member.actor_id), "year": "2025"}),
    Spec("POST", "/v1/members/{member_id}/consents", "member.give_consent", _ids(member_id="member"),
         lambda w, r, s: {"purpose": "transfer", "recipient": "320104"}),
    Spec("DELETE", "/v1/members/{member_id}/consents/{consent_id}", "member.withdraw_consent", _consent_id),
    Spec("POST", "/v1/members/{member_id}/personal-data/erasure", "member.erase_personal", _ids(member_id="member"),
         lambda w, r, s: {"reason": "党员本人申请"}),
    Spec("POST", "/v1/members/{member_id}/suggestions", "member.submit_suggestion", _ids(member_id="member"),
         lambda w, r, s: {"content": "建议增设社区食堂"}),
    Spec("GET", "/v1/report-slips/{slip_id}", "slip.read", _ids(slip_id="slip_id")),
    Spec("POST", "/v1/report-slips/{slip_id}/receipt", "slip.send_receipt", _ids(slip_id="slip_id")),
    Spec("POST", "/v1/orders", "order.place", body=lambda w, r, s: {
        "community_id": str(s.community.actor_id), "menu_item_id": str(s.menu_item_id),
        **({"resident_id": str(s.resident.actor_id)} if r is Role.COMMUNITY else {})}),
    Spec("GET", "/v1/orders/{order_id}", "order.read", _ids(order_id="order_id")),
    Spec("POST", "/v1/orders/{order_id}/dispatch", "order.dispatch", _ids(order_id="order_id"),
         lambda w, r, s: {"member_id": str(s.member.actor_id)}),
    Spec("POST", "/v1/orders/{order_id}/acceptance", "order.accept", _ids(order_id="order_id")),
    Spec("POST", "/v1/orders/{order_id}/declination", "order.decline", _ids(order_id="order_id"),
         lambda w, r, s: {"reason": "当天出差"}, tolerate=frozenset({409})),
    Spec("POST", "/v1/orders/{order_id}/cancellation", "order.cancel", _ids(order_id="order_id"),
         lambda w, r, s: {"reason": "居民临时外出"}),
    Spec("POST", "/v1/sessions", "session.record", body=_session),
    Spec("GET", "/v1/sessions/{session_id}", "session.read", _ids(session_id="session_id")),
    Spec("POST", "/v1/sessions/{session_id}/rating", "session.rate", _ids(session_id="session_id"),
         lambda w, r, s: {"rating": "良"}),
    Spec("POST", "/v1/sessions/{session_id}/certification", "session.certify", _ids(session_id="session_id")),
    Spec("POST", "/v1/sessions/{session_id}/rejection", "session.reject", _ids(session_id="open_session_id"),
         lambda w, r, s: {"reason": "无法核实"}),
    Spec("POST", "/v1/sessions/{session_id}/corrections", "session.correct", _ids(session_id="session_id"),
         lambda w, r, s: {"reason": "更正地点", "place": "社区活动室"}),
    Spec("POST", "/v1/sessions/{session_id}/complaints", "session.uphold_complaint", _ids(session_id="session_id"),
         lambda w, r, s: {"reason": "投诉属实"}),
    # 签到签退 (issue #15): the member scans a code the community shows now; at 23:59 the day's activity ends (409)
    Spec("PUT", "/v1/region/presence-share", "region.set_presence_share",
         body=lambda w, r, s: {"percent": 70, "reason": "区文明办通知"}),
    Spec("POST", "/v1/communities/{community_id}/activities", "activity.open", _ids(community_id="community"),
         lambda w, r, s: {"title": "清扫楼道", "place": "3栋", "service_date": today_iso(w.ledger),
                          "start_time": "00:00", "end_time": "23:59", "expected_members": 3,
                          "post_id": str(s.post_id)}),
    Spec("POST", "/v1/communities/{community_id}/organisers", "community.name_organiser",
         _ids(community_id="community"), lambda w, r, s: {"member_id": str(s.member.actor_id)},
         tolerate=frozenset({409})),  # the world's member is named already
    Spec("POST", "/v1/communities/{community_id}/organisers/{member_id}/withdrawal", "community.withdraw_organiser",
         _ids(community_id="community", member_id="member"), lambda w, r, s: {"reason": "工作调动"}),
    Spec("GET", "/v1/communities/{community_id}/organisers", "community.read_organisers",
         _ids(community_id="community")),
    Spec("GET", "/v1/activities/{activity_id}", "activity.read", _ids(activity_id="activity_id")),
    Spec("GET", "/v1/activities/{activity_id}/checkin-code", "activity.show_code", _ids(activity_id="activity_id")),
    Spec("POST", "/v1/activities/{activity_id}/scans", "activity.scan", _ids(activity_id="activity_id"),
         lambda w, r, s: {"code": w.ledger.checkin_code(actor=s.community, activity_id=s.activity_id)},
         tolerate=frozenset({409})),
    Spec("POST", "/v1/activities/{activity_id}/member-scans", "activity.scan_member",
         _ids(activity_id="activity_id"), lambda w, r, s: {"member_id": str(s.member.actor_id)},
         tolerate=frozenset({409})),
    Spec("POST", "/v1/activities/{activity_id}/group-entries", "activity.group_entry",
         _ids(activity_id="activity_id"), lambda w, r, s: {"member_ids": [str(s.member.actor_id)]},
         tolerate=frozenset({409})),
    Spec("POST", "/v1/activities/{activity_id}/offline-scans", "activity.sync_offline",
         _ids(activity_id="activity_id"), _offline_scan, tolerate=frozenset({409})),
    Spec("POST", "/v1/sessions/offline/device-keys", "session.register_device",
         body=lambda w, r, s: {"public_key": _public_key(), "label": "我的手机"}),
    Spec("POST", "/v1/sessions/offline", "session.sync_offline", body=_offline_session, tolerate=frozenset({409})),
    Spec("POST", "/v1/activities/device-keys", "activity.register_device",
         body=lambda w, r, s: {"public_key": _public_key(), "label": "签到平板"}),
    Spec("POST", "/v1/activities/{activity_id}/closure", "activity.close", _ids(activity_id="activity_id")),
    Spec("GET", "/v1/suggestions/{suggestion_id}", "suggestion.read", _ids(suggestion_id="suggestion_id")),
    Spec("POST", "/v1/suggestions/{suggestion_id}/adoption", "suggestion.adopt", _ids(suggestion_id="suggestion_id"),
         lambda w, r, s: {"note": "已采纳"}),
    Spec("POST", "/v1/suggestions/{suggestion_id}/forwarding", "suggestion.forward",
         _ids(suggestion_id="suggestion_id"), lambda w, r, s: {"agency": "区住建局"}),
    Spec("POST", "/v1/redemptions", "redemption.create", body=lambda w, r, s: {
        "member_id": str(s.member.actor_id), "redemption_id": str(uuid4()),
        "items": [{"item_id": str(w.a.item_id), "quantity": 1}]}),
    # 通存通兑: the matrix's region has no peers, so an allowed counter is told the home region is unknown
    Spec("POST", "/v1/redemptions/anywhere", "redemption.anywhere", body=lambda w, r, s: {
        "member_id": str(s.member.actor_id), "home_region": "320104", "redemption_id": str(uuid4()),
        "items": [{"item_id": str(w.a.item_id), "quantity": 1}]}, tolerate=frozenset({404})),
    Spec("POST", "/v1/redemptions/anywhere/{redemption_id}/void", "redemption.anywhere",
         lambda w, r, s: {"redemption_id": str(uuid4())}, tolerate=frozenset({404})),
    Spec("GET", "/v1/redemptions/anywhere/{redemption_id}", "redemption.anywhere",
         lambda w, r, s: {"redemption_id": str(uuid4())}, tolerate=frozenset({404})),
    # 离线兑换 (issue #15): a record signed by the calling counter's own key (no registration: nothing written first)
    Spec("POST", "/v1/counter/device-keys", "counter.register_device",
         body=lambda w, r, s: {"public_key": _public_key(), "label": "收银台平板"}),
    Spec("POST", "/v1/redemptions/offline", "redemption.sync_offline", body=_offline_sync, tolerate=frozenset({409})),
    Spec("GET", "/v1/region/offline-bound", "region.read"),
    Spec("PUT", "/v1/region/offline-bound", "region.set_offline_bound",
         body=lambda w, r, s: {"minutes_per_member_day": 60, "reason": "网络不稳定的社区保障老人兑换"}),
    Spec("GET", "/v1/keys/{key_id}", "key.read", lambda w, r, s: {"key_id": s.counter_key_id}),
    Spec("POST", "/v1/keys", "key.register_client", body=lambda w, r, s: {
        "owner_id": str(authority_target(w, r, s).actor_id), "public_key": _public_key(), "label": "终端"}),
    Spec("POST", "/v1/actors/{actor_id}/key-rotation", "key.rotate",
         lambda w, r, s: {"actor_id": str(authority_target(w, r, s).actor_id)}, lambda w, r, s: {"reason": "轮换"}),
    Spec("POST", "/v1/keys/{key_id}/revocation", "key.revoke", lambda w, r, s: {"key_id": key_target(w, r, s)},
         lambda w, r, s: {"reason": "终端丢失"}),
    Spec("POST", "/v1/logins", "login.create", body=lambda w, r, s: {  # members set up their own (below)
        "username": f"new-{uuid4().hex[:10]}", "password": "a long password", "actor_id": str(s.counter.actor_id)}),
    Spec("POST", "/v1/members/{member_id}/activation-codes", "login.activate",
         lambda w, r, s: {"member_id": str(s.member.actor_id)}, lambda w, r, s: {"reason": "遗失密码，本人申请"}),
    Spec("GET", "/v1/actors/{actor_id}/logins", "login.list",
         lambda w, r, s: {"actor_id": str(authority_target(w, r, s).actor_id)}),
    Spec("POST", "/v1/logins/{username}/disable", "login.disable",
         lambda w, r, s: {"username": w.usernames[authority_target(w, r, s).actor_id]}),
    Spec("POST", "/v1/logins/{username}/enable", "login.enable",
         lambda w, r, s: {"username": w.usernames[authority_target(w, r, s).actor_id]}),
    # transfers: no peer region exists in this world, so an allowed call may be refused for that (404/422)
    Spec("GET", "/v1/region/card", "region.card"),
    Spec("POST", "/v1/region/peers", "region.add_peer", body=lambda w, r, s: {
        "format": "timeledger-region/v1", "code": "320104", "name": "秦淮区", "key_id": "0" * 32,
        "public_key": "A" * 43 + "=", "sealing_key": "A" * 43 + "=", "certificate": "AAAA", "root_key_id": "0" * 32},
         tolerate=frozenset({422})),
    Spec("POST", "/v1/transfers", "transfer.initiate",
         body=lambda w, r, s: {"member_id": str(s.member.actor_id), "destination": "320104"},
         tolerate=frozenset({404})),
    Spec("GET", "/v1/transfers/{transfer_id}", "transfer.read",
         lambda w, r, s: {"transfer_id": str(s.order_id)}, tolerate=frozenset({404})),
    Spec("POST", "/v1/transfers/{transfer_id}/export", "transfer.export",
         lambda w, r, s: {"transfer_id": str(s.order_id)}, tolerate=frozenset({404})),
    Spec("POST", "/v1/transfer-imports", "transfer.import", body=lambda w, r, s: {"format": "x"},
         tolerate=frozenset({422})),
    Spec("POST", "/v1/transfer-imports/rejection", "transfer.import", body=lambda w, r, s: {"format": "x"},
         tolerate=frozenset({422})),
    Spec("POST", "/v1/transfers/{transfer_id}/completion", "transfer.complete",
         lambda w, r, s: {"transfer_id": str(s.order_id)},
         lambda w, r, s: {"receipt": {}, "key_id": "0" * 32, "signature": "AAAA"}, tolerate=frozenset({422})),
    Spec("POST", "/v1/transfers/{transfer_id}/voiding", "transfer.void",
         lambda w, r, s: {"transfer_id": str(s.order_id)}, lambda w, r, s: {"reason": "超时"},
         tolerate=frozenset({404})),
    Spec("GET", "/v1/log/checkpoint", "log.read", tolerate=frozenset({404})),
    Spec("POST", "/v1/log/checkpoints", "log.checkpoint"),
    Spec("GET", "/v1/log/proofs/inclusion", "log.read", query=lambda w, r, s: {"position": 1},
         tolerate=frozenset({404})),
    Spec("GET", "/v1/log/proofs/consistency", "log.read", query=lambda w, r, s: {"from": 1, "to": 1},
         tolerate=frozenset({422})),
    Spec("POST", "/v1/members/{member_id}/certificates", "certificate.issue", _ids(member_id="member"),
         tolerate=frozenset({422})),
    Spec("POST", "/v1/report-slips/{slip_id}/reminders", "slip.remind", _ids(slip_id="slip_id"),
         lambda w, r, s: {"note": "电话提醒"}, tolerate=frozenset({409})),  # side A's member has reported
    Spec("PUT", "/v1/region/counter-confirmation", "region.change_settings",  # issue #12: the counter's check
         body=lambda w, r, s: {"required": True, "reason": "防止冒用党员码"}),
    Spec("POST", "/v1/transfers/{transfer_id}/send", "transfer.send",
         lambda w, r, s: {"transfer_id": str(s.order_id)}, tolerate=frozenset({404})),
    Spec("POST", "/v1/transfers/{transfer_id}/settlement", "transfer.send",
         lambda w, r, s: {"transfer_id": str(s.order_id)}, tolerate=frozenset({404})),
    Spec("POST", "/v1/members/{member_id}/key", "member.issue_key", _ids(member_id="member")),
    Spec("POST", "/v1/members/{member_id}/adoption", "member.adopt", _ids(member_id="member")),
    # lists and reports: one spec per scope (the filter names the object)
    *[Spec("GET", path, action, query=query) for path in ("/v1/lists/members", "/v1/lists/missing",
                                                          "/v1/lists/balances")
      for action, query in (("report.region", lambda w, r, s: {}),
                            ("report.unit", lambda w, r, s: {"unit_id": str(s.unit.actor_id)}),
                            ("report.community", lambda w, r, s: {"community_id": str(s.community.actor_id)}))
      ],
    Spec("GET", "/v1/lists/sessions", "report.community",
         query=lambda w, r, s: {"community_id": str(s.community.actor_id), "status": "recorded"}),
    Spec("GET", "/v1/lists/sessions", "report.member", query=lambda w, r, s: {"member_id": str(s.member.actor_id)}),
    Spec("GET", "/v1/reports/{kind}", "report.unit", lambda w, r, s: {"kind": "unit-stats"},
         query=lambda w, r, s: {"unit_id": str(s.unit.actor_id), "year": "2026"}),
    Spec("GET", "/v1/reports/{kind}", "report.community", lambda w, r, s: {"kind": "register"},
         query=lambda w, r, s: {"community_id": str(s.community.actor_id), "format": "csv"}),
    Spec("GET", "/v1/reports/{kind}", "report.community_personal", lambda w, r, s: {"kind": "register"},
         query=lambda w, r, s: {"community_id": str(s.community.actor_id), "personal": "true"}),
    Spec("GET", "/v1/reports/{kind}", "report.member", lambda w, r, s: {"kind": "card"},
         query=lambda w, r, s: {"member_id": str(s.member.actor_id), "format": "pdf"}),
    Spec("GET", "/v1/reports/{kind}", "report.region", lambda w, r, s: {"kind": "overview"}),
]


# Who may do what, from DOMAIN.md. Columns: region, unit, community, counter, member, resident, auditor.
# A = on any object of the region; O = only on its own (the unit's enrolled members, the community's
# registered members and their sessions, orders and suggestions, the member's own record, the
# resident's own order, the counter itself); C = own and only with the member's consent to the unit
# (PIPL: "sending a member's record to the employer needs the member's separate consent", the world's
# member A has given it); G = own and only while the member is an organiser its community named (member
# A is named for community A); . = never. For an action on no particular object (registering a unit,
# reading the region), O and A mean the same.
#   action                          reg unit comm cntr memb resi audi
EXPECTED_TABLE = """
    region.read                     A   A    A    A    A    A    A     everyone reads the region's public card
    region.change_settings          A   .    .    .    .    .    .     the region runs its ledger
    region.set_deadline             A   .    .    .    .    .    .
    region.set_transfer_timeout     A   .    .    .    .    .    .     转移接续: how long a transfer-out waits
    region.publish_policy           A   .    .    .    .    .    .
    region.publish_calendar         A   .    .    .    .    .    .     法定节假日 as a signed region event
    region.rescore                  A   .    .    .    .    .    .
    policy.read                     A   A    A    A    A    A    A
    unit.register                   A   .    .    .    .    .    .     the region certifies units' keys
    community.register              A   .    .    .    .    .    .
    auditor.register                A   .    .    .    .    .    .
    unit.read                       A   O    A    .    .    .    A     a community sees every unit that sends it members
    unit.pair                       A   O    .    .    .    .    .     a unit pairs itself with one community
    unit.declare_members            .   O    .    .    .    .    .
    member.enrol                    .   A    .    .    .    .    .     a unit enrols onto its own roster
    member.enrol_import             .   A    .    .    .    .    .     a unit imports its paper roster (党员入册), onto its own roster only
    community.read                  A   A    A    A    A    A    A     the menu and catalogue are public
    community.define_post           .   .    O    .    .    .    .     a community sets its own posts, teams, menu,
    community.retire_post           .   .    O    .    .    .    .     catalogue and counters
    community.form_team             .   .    O    .    .    .    .
    community.publish_menu          .   .    O    .    .    .    .
    community.withdraw_menu         .   .    O    .    .    .    .
    community.list_item             .   .    O    .    .    .    .
    community.reprice_item          .   .    O    .    .    .    .
    community.delist_item           .   .    O    .    .    .    .
    community.open_counter          A   .    O    .    .    .    .     the region certifies counters too
    community.register_resident     .   .    O    .    .    .    .
    counter.read                    A   .    O    O    .    .    A
    member.identify                 .   .    .    O    .    .    .     the counter checks who is spending (own community)
    member.read                     A   O    O    .    O    .    A
    member.read_personal            .   O    O    .    O    .    .     personal fields: own community and unit only
    member.issue_slip               .   O    .    .    .    .    .     the unit issues the 报到单
    member.register                 .   .    O    .    .    .    .     the community the slip names registers
    member.claim_post               .   .    O    .    O    .    .
    member.release_post             .   .    O    .    O    .    .
    member.join_team                .   .    O    .    .    .    .     the community places members in teams
    member.leave_team               .   .    O    .    .    .    .
    member.grant_exemption          .   O    .    .    .    .    .     the unit grants "有故"
    member.withdraw_exemption       .   O    .    .    .    .    .
    member.give_consent             .   .    .    .    O    .    .     consent is the member's alone
    member.withdraw_consent         .   .    .    .    O    .    .
    member.erase_personal           A   .    O    .    .    .    .
    member.submit_suggestion        .   .    .    .    O    .    .
    balance.read                    A   O    O    A    O    .    A     a counter redeems for any member (通存通兑)
    account.read                    A   C    O    .    O    .    A
    slip.read                       A   O    O    .    O    .    A
    slip.send_receipt               .   .    O    .    .    .    .     回执单: the community answers the unit
    slip.remind                     .   O    .    .    .    .    .     催报: the unit that issued the slip
    order.place                     .   .    O    .    .    A    .     居民点单 from any community's menu; the community for its residents
    order.read                      A   .    O    .    O    O    A
    order.dispatch                  .   .    O    .    .    .    .     支部下单
    order.accept                    .   .    .    .    O    .    .     党员接单
    order.decline                   .   .    .    .    O    .    .     党员婉拒（说明原因，退回社区重新派单）
    order.cancel                    .   .    O    .    .    O    .
    session.record                  .   .    O    .    O    .    .
    session.register_device         .   .    .    .    A    .    .     the member's own phone; the community certifies
    session.sync_offline            .   .    .    .    O    .    .     what the member typed offline on it
    session.read                    A   C    O    .    O    O    A
    session.rate                    .   O    O    .    .    O    .     the recipient or the organiser rates
    session.certify                 .   .    O    .    .    .    .     the community certifies (认证签字)
    session.import                  .   .    A    .    .    .    .     the community enters its paper record cards (补录), only its own members
    member.import                   .   .    A    .    .    .    .     the community enters its paper 登记表 (附件2), only members sent to it
    post.import                     .   .    A    .    .    .    .     the community enters claimed posts from paper, only its own members
    session.reject                  .   .    O    .    .    .    .
    session.correct                 .   .    O    .    .    .    .     corrected by the community, by a new event
    session.uphold_complaint        .   .    O    .    .    .    .
    region.set_presence_share       A   .    .    .    .    .    .     签到最低在场比例: a region setting
    activity.open                   .   .    O    .    G    .    .     签到签退: the community runs its activities, or
    activity.read                   A   .    O    .    O    .    A     a member it named organiser (活动组织者); a
    activity.show_code              .   .    O    .    G    .    .     member of the community sees it; the code is
    activity.close                  .   .    O    .    G    .    .     signed with the community's key either way
    activity.scan                   .   .    .    .    O    .    .     the member scans at their own community
    activity.scan_member            .   .    O    .    G    .    .     the organiser scans the member's code
    activity.group_entry            .   .    O    .    G    .    .     团体录入
    activity.register_device        .   .    A    .    .    .    .     its own venue device; the region certifies
    activity.sync_offline           .   .    O    .    .    .    .     what its venue device scanned offline
    community.name_organiser        .   .    O    .    .    .    .     the community names its own members
    community.withdraw_organiser    .   .    O    .    .    .    .
    community.read_organisers       A   .    O    .    .    .    A
    suggestion.read                 A   .    O    .    O    .    A
    suggestion.adopt                .   .    O    .    .    .    .
    suggestion.forward              .   .    O    .    .    .    .
    redemption.create               .   .    .    A    .    .    .     only a counter redeems
    redemption.anywhere             .   .    .    A    .    .    .     跨区兑换: a counter, for a member of another region
    settlement.make                 A   .    .    .    .    .    .     通存通兑 settlement: the region signs its statement
    settlement.read                 A   .    .    .    .    .    A     … and checks a peer's (an auditor too)
    settlement.read_evidence        A   .    .    .    .    .    A     … and hands its evidence to an auditor
    redemption.sync_offline         .   .    .    A    .    .    .     what a counter's device took offline
    counter.register_device         .   .    .    A    .    .    .     its own device; its community certifies
    region.set_offline_bound        A   .    .    .    .    .    .     离线兑换上限: a region setting
    key.read                        A   A    A    A    A    A    A     public keys are public
    key.register_client             A   .    O    .    .    .    .     a member's key: only by activation (/v1/auth/activate)
    key.rotate                      A   O    O    .    .    .    .
    key.revoke                      A   O    O    .    .    .    .
    login.create                    A   .    O    .    .    .    .     a member's login comes only from their own activation
    login.activate                  A   O    O    .    .    .    .     an office hands the member a one-time code
    login.list                      A   O    O    .    .    .    .     a member lists their own at /v1/auth/logins
    login.disable                   A   O    O    .    .    .    .
    login.enable                    A   .    O    .    .    .    .     re-opening a member's login is a reset
    region.card                     A   A    A    A    A    A    A
    region.add_peer                 A   .    .    .    .    .    .     the region sends and receives transfers
    transfer.initiate               A   .    .    .    .    .    .
    transfer.read                   A   .    .    .    .    .    A
    transfer.export                 A   .    .    .    .    .    .
    transfer.import                 A   .    .    .    .    .    .
    transfer.complete               A   .    .    .    .    .    .
    transfer.void                   A   .    .    .    .    .    .
    transfer.send                   A   .    .    .    .    .    .
    log.read                        A   A    A    .    A    A    A     the log's proofs are for anyone who verifies
    log.checkpoint                  A   .    .    .    .    .    .     the region signs checkpoints
    certificate.issue               A   C    O    .    O    .    .     the auditor verifies, it does not issue
    member.issue_key                A   O    O    .    .    .    .
    member.adopt                    .   A    .    .    .    .    .
    report.region                   A   .    .    .    .    .    A
    report.unit                     A   O    .    .    .    .    A
    report.community                A   .    O    .    .    .    A
    report.member                   A   C    O    .    O    .    A
    report.community_personal      .   .    O    .    .    .    .     the register with personal fields
"""
ROLE_COLUMNS = [Role.REGION, Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER, Role.RESIDENT, Role.AUDITOR]


def _expected() -> dict[str, dict[Role, str]]:
    table: dict[str, dict[Role, str]] = {}
    for line in EXPECTED_TABLE.strip().splitlines():
        action, *cells = line.split()[:8]
        assert len(cells) == 7 and set(cells) <= {"A", "O", "C", "G", "."}, line
        table[action] = {role: cell for role, cell in zip(ROLE_COLUMNS, cells) if cell != "."}
    return table


EXPECTED = _expected()


def expected_allowed(action: str, role: Role, own: bool) -> bool:
    cell = EXPECTED[action].get(role)
    return cell == "A" or (cell in ("O", "C", "G") and own)


@pytest.fixture(scope="module")
def routes() -> set[tuple[str, str]]:
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    found = {(method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations}
    ledger.close()
    return found


def test_every_route_is_in_the_matrix(routes: set[tuple[str, str]]) -> None:
    covered = {(spec.method, spec.path) for spec in SPECS}
    assert routes - NOT_IN_POLICY - covered == set(), "add these endpoints to the matrix"
    assert covered - routes == set()
    assert {spec.action for spec in SPECS} <= set(POLICY)
    assert set(EXPECTED) == set(POLICY), "every action the API knows has a row written from DOMAIN.md"


def _call(client: TestClient, world: World, spec: Spec, role: Role, own: bool) -> tuple[int, dict[str, Any]]:
    side = world.a if own else world.b
    params = spec.params(world, role, side)
    path = spec.path.format(**params)
    body = spec.body(world, role, side)
    response = client.request(spec.method, path, headers=world.headers(world.actor(role)),
                              json=body if body is not None else None, params=spec.query(world, role, side))
    if response.headers["content-type"].startswith("application/json"):
        document = response.json()
        return response.status_code, document if isinstance(document, dict) else {"items": document}
    return response.status_code, {}


@pytest.fixture(scope="module")
def read_world() -> Iterator[tuple[Ledger, TestClient, World]]:
    """Reads change nothing, so every GET cell shares one world."""
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ledger, client, build_world(app)
    ledger.close()


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.method} {s.path} {s.action}" for s in SPECS])
def test_matrix(spec: Spec, read_world: tuple[Ledger, TestClient, World]) -> None:
    if spec.method == "GET":
        ledger, client, world = read_world
        failures = _check_cells(ledger, client, world, spec)
    else:  # a command gets a fresh world: what one allowed cell changes must not decide another
        ledger = Ledger("memory:")
        app: FastAPI = create_app(settings_for_tests(), ledger)
        with TestClient(app, raise_server_exceptions=False) as client:
            failures = _check_cells(ledger, client, build_world(app), spec)
        ledger.close()
    assert not failures, f"{spec.method} {spec.path} ({spec.action}):\n" + "\n".join(failures)


def _check_cells(ledger: Ledger, client: TestClient, world: World, spec: Spec) -> list[str]:
    failures: list[str] = []
    cells = [(role, own) for role in ROLES for own in (True, False)]
    # forbidden cells first: they must change nothing, so the allowed ones still find the world intact
    cells.sort(key=lambda cell: expected_allowed(spec.action, cell[0], cell[1]))
    for role, own in cells:
        allowed = expected_allowed(spec.action, role, own)
        events_before = ledger.recorder.max_notification_id()
        status, body = _call(client, world, spec, role, own)
        cell = f"{role.value:9} {'own' if own else 'other':5} → {status} {body.get('code', '')}"
        refused = status in (401, 403, 404) or status >= 500 or (status == 422 and spec.method != "GET")
        if allowed and refused and status not in spec.tolerate:
            failures.append(f"allowed but refused: {cell} {body}")
        if not allowed:
            if status != 403 or body.get("code") != "not_permitted":
                failures.append(f"forbidden but answered: {cell} {body}")
            if ledger.recorder.max_notification_id() != events_before:
                failures.append(f"forbidden but wrote events: {cell}")
    return failures


def test_the_table_keeps_the_issue_promises() -> None:
    reads = {a for a in POLICY if a.endswith(".read") or a.startswith(("balance.", "account.", "report."))
             or ".read_" in a or a == "region.card"}
    writes = set(POLICY) - reads - {"login.list"}
    assert all(Role.AUDITOR not in POLICY[a].scopes for a in writes), "an auditor writes nothing"
    assert Role.AUDITOR not in POLICY["member.read_personal"].scopes, "no personal fields for auditors"
    assert {a for a in POLICY if Role.COUNTER in POLICY[a].scopes} - {
        "region.read", "policy.read", "community.read", "key.read", "region.card"} == {
        "balance.read", "redemption.create", "redemption.anywhere", "counter.read", "member.identify",
        "redemption.sync_offline", "counter.register_device"}, \
        "a counter reads balances, redeems (online, for a member of another region, or offline synced later with " \
        "its own device key) and checks who is spending (name, masked phone), nothing else"
    assert POLICY["member.identify"].scopes == {Role.COUNTER: Scope.OWN}  # its own community's members only
    assert POLICY["member.read_personal"].scopes == {Role.MEMBER: Scope.OWN, Role.COMMUNITY: Scope.OWN,
                                                     Role.UNIT: Scope.OWN}
    for action, rule in POLICY.items():
        if Role.MEMBER in rule.scopes and rule.kind is not Kind.NONE:
            assert rule.scopes[Role.MEMBER] is Scope.OWN or action.endswith("read") and rule.kind is Kind.COMMUNITY \
                or rule.scopes[Role.MEMBER] is Scope.ORGANISER and action.startswith("activity.") \
                or rule.scopes[Role.MEMBER] is Scope.ANY and action in ("region.read", "policy.read", "key.read",
                                                                        "community.read", "region.card"), action


# ---------------------------------------------------------------------------------------------
# The web pages (api/web/pages): every HTML route × every role, and a community, unit and member
# acting on the other side's objects. The pages of one role are that role's alone (DOMAIN.md: the
# community registers, dispatches, certifies and runs its catalogue; the unit grants exemptions; the
# member records, suggests and consents; the counter redeems); the region overview is for the region
# and the auditor; the sign-in, language, home, logout and certificate-check pages are for anyone.

PAGE_ROLES: dict[str, set[Role] | None] = {  # path prefix → the roles it serves (None: every role)
    "/community": {Role.COMMUNITY}, "/counter": {Role.COUNTER}, "/me": {Role.MEMBER}, "/unit": {Role.UNIT},
    "/resident": {Role.RESIDENT},
    "/region": {Role.REGION, Role.AUDITOR}, "/reports/overview": {Role.REGION, Role.AUDITOR},
    # the region administrator's pages (issue #12): the region's alone
    "/region/settings": {Role.REGION}, "/region/organisations": {Role.REGION}, "/region/units": {Role.REGION},
    "/region/communities": {Role.REGION}, "/region/counters": {Role.REGION}, "/region/pairings": {Role.REGION},
    "/region/logins": {Role.REGION}, "/region/keys": {Role.REGION}, "/region/policies": {Role.REGION},
    "/region/rescoring": {Role.REGION}, "/region/peers": {Role.REGION}, "/region/calendars": {Role.REGION},
    "/audit": None, "/audit/settlement/": {Role.REGION, Role.AUDITOR}, "/login": None, "/logout": None, "/lang": None, "/activate": None, "/": None,
}
PAGE_PATHS: dict[str, Callable[[World], str]] = {  # a concrete path (side A's objects) per route
    "/community/receipts/{slip_id}": lambda w: f"/community/receipts/{w.a.slip_id}",
    "/community/menu/{item_id}/withdraw": lambda w: f"/community/menu/{w.a.menu_item_id}/withdraw",
    "/community/orders/{order_id}/dispatch": lambda w: f"/community/orders/{w.a.order_id}/dispatch",
    "/community/orders/{order_id}/cancel": lambda w: f"/community/orders/{w.a.order_id}/cancel",
    "/community/posts/{post_id}/retire": lambda w: f"/community/posts/{w.a.post_id}/retire",
    "/community/catalogue/{item_id}/price": lambda w: f"/community/catalogue/{w.a.item_id}/price",
    "/community/catalogue/{item_id}/delist": lambda w: f"/community/catalogue/{w.a.item_id}/delist",
    "/community/suggestions/{suggestion_id}/adopt": lambda w: f"/community/suggestions/{w.a.suggestion_id}/adopt",
    "/community/suggestions/{suggestion_id}/forward":
        lambda w: f"/community/suggestions/{w.a.suggestion_id}/forward",
    "/me/consents/{consent_id}/withdraw": lambda w: "/me/consents/{}/withdraw".format(
        stable_id("consent", w.a.member.actor_id, ConsentPurpose.UNIT_FEEDBACK.value, str(w.a.unit.actor_id))),
    "/me/certificate/{token}/{name}": lambda w: "/me/certificate/0123456789abcdef/x.json",
    "/lang/{code}": lambda w: "/lang/en",
    "/resident/sessions/{session_id}/rating": lambda w: f"/resident/sessions/{w.a.session_id}/rating",
    "/resident/orders/{order_id}/cancel": lambda w: f"/resident/orders/{w.a.order_id}/cancel",
    "/me/orders/{order_id}/accept": lambda w: f"/me/orders/{w.a.order_id}/accept",
    "/me/orders/{order_id}/decline": lambda w: f"/me/orders/{w.a.order_id}/decline",
    "/reports/{kind}": lambda w: "/reports/overview",
    "/reports/{kind}/file": lambda w: "/reports/overview/file?format=json",
    "/counter/balance": lambda w: f"/counter/balance?member={w.a.member.actor_id}",
    "/counter/search": lambda w: "/counter/search?q=0000",  # issue #12: by the phone's last four digits
    "/community/logins/{member_id}/activation-code":
        lambda w: f"/community/logins/{w.a.member.actor_id}/activation-code",
    "/unit/logins/{member_id}/activation-code": lambda w: f"/unit/logins/{w.a.member.actor_id}/activation-code",
    # a member never named (the world's organiser stays named for the /me/activities rows)
    "/community/organisers/{member_id}/withdraw": lambda w: f"/community/organisers/{w.a.unit.actor_id}/withdraw",
    "/community/activities/{activity_id}/offline-scan":
        lambda w: f"/community/activities/{w.a.activity_id}/offline-scan",
}
# an activity's pages: the office's, and the same pages for an organiser it named (活动组织者): member A runs
# community A's
ACTIVITY_PAGES = ("", "/qr.svg", "/code", "/member-scan", "/group", "/close")
ACTIVITY_BASES = {Role.COMMUNITY: "/community/activities", Role.MEMBER: "/me/activities"}
PAGE_PATHS.update({f"{base}/{{activity_id}}{rest}": (lambda w, base=base, rest=rest: f"{base}/{w.a.activity_id}{rest}")
                   for base in ACTIVITY_BASES.values() for rest in ACTIVITY_PAGES})


def _page_roles(path: str) -> set[Role]:
    path = path.split("?")[0]
    if path.endswith("{rest:path}"):
        return set(ROLES)  # the "no such page" fallback under each prefix: a 404 page for anyone
    for prefix in sorted(PAGE_ROLES, key=len, reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/") or (prefix == "/" and path == "/"):
            served = PAGE_ROLES[prefix]
            return set(ROLES) if served is None else served
    raise AssertionError(f"{path}: add it to PAGE_ROLES")


def _web_routes(app: FastAPI) -> list[tuple[str, str]]:
    from api.web.core import WebRoute

    def walk(routes: Any) -> Iterator[Any]:
        for route in routes:
            inner = getattr(route, "original_router", None)  # FastAPI wraps an included router
            yield from walk(inner.routes) if inner is not None else (route,)

    return sorted({(method, route.path) for route in walk(app.routes) if isinstance(route, WebRoute)
                   for method in route.methods if method in ("GET", "POST")})


@pytest.fixture(scope="module")
def web_world() -> Iterator[tuple[Ledger, TestClient, World]]:
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield ledger, client, build_world(app)
    ledger.close()


def _web_call(client: TestClient, world: World, role: Role, method: str, path: str,
              form: dict[str, str] | None = None) -> Any:
    from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token

    token = world.tokens[world.actor(role).actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**(form or {}), CSRF_FIELD: csrf_token(token), "nonce": uuid4().hex},
                       headers={"X-CSRF-Token": csrf_token(token)})


def _flash(response: Any) -> dict[str, str]:
    import json
    import urllib.parse

    raw = response.cookies.get("tl_flash")
    return json.loads(urllib.parse.unquote(raw.strip('"'))) if raw else {}


def test_every_page_route_has_a_row(web_world: tuple[Ledger, TestClient, World]) -> None:
    _, client, _ = web_world
    routes = _web_routes(client.app)
    assert len(routes) >= 51, routes
    for _, path in routes:
        _page_roles(path)  # raises for a route nobody decided


def test_page_routes_by_role(web_world: tuple[Ledger, TestClient, World]) -> None:
    """Each page route × each role: another role's page answers 403 and a POST to it writes nothing;
    a role's own page is never refused for authorisation (a form without fields may be a 4xx)."""
    ledger, client, world = web_world
    failures = []
    for method, template in _web_routes(client.app):
        if template in ("/logout", "/login"):
            continue  # signing in and out: test_auth and the browser tests
        path = PAGE_PATHS.get(template, lambda w: template)(world)
        served = _page_roles(template if template.endswith("{rest:path}") else path)
        for role in ROLES:
            before = ledger.recorder.max_notification_id()
            response = _web_call(client, world, role, method, path)
            wrote = ledger.recorder.max_notification_id() != before
            cell = f"{method} {path} as {role.value} → {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"5xx: {cell}")
            elif role in served:
                if response.status_code in (401, 403):
                    failures.append(f"own page refused: {cell}")
            else:
                if response.status_code != 403:
                    failures.append(f"another role's page answered: {cell}")
                if wrote:
                    failures.append(f"another role's page wrote events: {cell}")
    assert not failures, "\n".join(failures)


def test_pages_refuse_the_other_sides_objects(web_world: tuple[Ledger, TestClient, World]) -> None:
    """A community, unit or member of side A acting through the pages on side B's objects: refused
    (403, or a redirect with an error message), nothing written, and no B name shown."""
    ledger, client, world = web_world
    b = world.b
    b_consent = stable_id("consent", b.member.actor_id, ConsentPurpose.UNIT_FEEDBACK.value, str(b.unit.actor_id))
    b_name = ledger.get_member(b.member.actor_id).name
    cases: list[tuple[Role, str, str, dict[str, str] | None]] = [
        (Role.COMMUNITY, "POST", f"/community/receipts/{b.slip_id}", {}),
        (Role.COMMUNITY, "POST", f"/community/menu/{b.menu_item_id}/withdraw", {}),
        (Role.COMMUNITY, "POST", f"/community/logins/{b.member.actor_id}/activation-code", {}),
        (Role.UNIT, "POST", f"/unit/logins/{b.member.actor_id}/activation-code", {}),
        (Role.COMMUNITY, "POST", f"/community/orders/{b.order_id}/dispatch", {"member_id": str(b.member.actor_id)}),
        (Role.COMMUNITY, "POST", f"/community/orders/{b.order_id}/cancel", {"reason": "居民临时外出"}),
        (Role.COMMUNITY, "POST", f"/community/posts/{b.post_id}/retire", {}),
        (Role.COMMUNITY, "POST", "/community/teams/join", {"member_id": str(b.member.actor_id),
                                                            "team_id": str(b.team_id)}),
        (Role.COMMUNITY, "POST", f"/community/catalogue/{b.item_id}/price", {"price_minutes": "45"}),
        (Role.COMMUNITY, "POST", f"/community/catalogue/{b.item_id}/delist", {}),
        # an activity of side B, by its pages for the office and for an organiser (member A: community A's)
        *[(role, "GET", f"{base}/{b.activity_id}{rest}", None) for role, base in ACTIVITY_BASES.items()
          for rest in ("", "/qr.svg", "/code")],
        *[(role, "POST", f"{base}/{b.activity_id}{rest}", {"member": str(b.member.actor_id)} if rest != "/close" else {})
          for role, base in ACTIVITY_BASES.items() for rest in ("/member-scan", "/group", "/close")],
        (Role.COMMUNITY, "POST", "/community/organisers", {"member_id": str(b.member.actor_id)}),
        (Role.COMMUNITY, "POST", f"/community/organisers/{b.member.actor_id}/withdraw", {"reason": "调动"}),
        (Role.COMMUNITY, "POST", f"/community/suggestions/{b.suggestion_id}/adopt", {"note": "已采纳"}),
        (Role.COMMUNITY, "POST", f"/community/suggestions/{b.suggestion_id}/forward", {"agency": "区住建局"}),
        (Role.COMMUNITY, "POST", "/community/queue", {"session": str(b.open_session_id), "action": "certify",
                                                      f"rating-{b.open_session_id}": "优"}),
        (Role.COMMUNITY, "POST", "/community/queue", {"session": str(b.open_session_id), "action": "reject",
                                                      "reason": "无法核实"}),
        (Role.COMMUNITY, "GET", f"/community/registrations/new?slip={b.slip_id}", None),
        (Role.COMMUNITY, "GET", f"/community/registrations/new?member={b.member.actor_id}", None),
        (Role.COMMUNITY, "GET", f"/reports/register?community_id={b.community.actor_id}", None),
        (Role.UNIT, "POST", "/unit/exemptions", {"member_id": str(b.member.actor_id), "year": "2027",
                                                 "reason": "长期病休"}),
        # issue #12: a unit's slip for side B's member; side B's session decided from A's late list
        (Role.UNIT, "POST", "/unit/reminders", {"slip_id": str(b.slip_id), "note": "电话提醒"}),
        (Role.UNIT, "POST", "/unit/report-slips", {"member_id": str(b.member.actor_id),
                                                   "community_id": str(b.community.actor_id)}),
        (Role.COMMUNITY, "POST", "/community/queue", {"session": str(b.open_session_id), "action": "reject",
                                                      "reason": "无法核实", "back": "/community/late"}),
        (Role.COMMUNITY, "GET", f"/community/registrations/new?member={str(b.member.actor_id).replace('-', '')}",
         None),
        (Role.UNIT, "GET", f"/reports/unit-stats?unit_id={b.unit.actor_id}", None),
        (Role.UNIT, "GET", f"/reports/feedback?unit_id={b.unit.actor_id}", None),
        (Role.MEMBER, "POST", f"/me/consents/{b_consent}/withdraw", {}),
        (Role.MEMBER, "POST", f"/me/orders/{b.order_id}/accept", {}),
        (Role.MEMBER, "POST", f"/me/orders/{b.order_id}/decline", {"reason": "当天出差"}),
        (Role.RESIDENT, "POST", f"/resident/sessions/{b.open_session_id}/rating", {"rating": "优"}),
        (Role.RESIDENT, "POST", f"/resident/sessions/{b.session_id}/rating", {"rating": "优"}),
        (Role.RESIDENT, "POST", f"/resident/orders/{b.order_id}/cancel", {"reason": "不需要了"}),
        (Role.RESIDENT, "POST", "/resident/orders", {"menu_item_id": str(b.menu_item_id), "note": "别的社区"}),
        (Role.COMMUNITY, "POST", "/community/orders/new", {"resident_id": str(b.resident.actor_id),
                                                          "menu_item_id": str(world.a.menu_item_id)}),
        (Role.MEMBER, "GET", f"/reports/card?member_id={b.member.actor_id}", None),
        (Role.RESIDENT, "GET", f"/reports/card?member_id={b.member.actor_id}", None),
        (Role.COUNTER, "GET", f"/reports/register?community_id={b.community.actor_id}", None),
        # the notice's 附件1 and 附件2 (issue 11)
        (Role.COMMUNITY, "GET", f"/reports/slip?slip_id={b.slip_id}", None),
        (Role.COMMUNITY, "GET", f"/reports/receipt?slip_id={b.slip_id}", None),
        (Role.COMMUNITY, "GET", f"/reports/member-form?member_id={b.member.actor_id}", None),
        (Role.COMMUNITY, "GET", f"/reports/slip/file?format=pdf&personal=true&slip_id={b.slip_id}", None),
        (Role.UNIT, "GET", f"/reports/slip?slip_id={b.slip_id}", None),
        (Role.UNIT, "GET", f"/reports/receipt/file?format=json&slip_id={b.slip_id}", None),
        (Role.UNIT, "GET", f"/reports/member-form?member_id={b.member.actor_id}", None),
        (Role.MEMBER, "GET", f"/reports/slip?slip_id={b.slip_id}", None),
        (Role.RESIDENT, "GET", f"/reports/member-form/file?format=pdf&member_id={b.member.actor_id}", None),
    ]
    failures = []
    for role, method, path, form in cases:
        before = ledger.recorder.max_notification_id()
        response = _web_call(client, world, role, method, path, form)
        cell = f"{role.value} {method} {path} → {response.status_code} {_flash(response)}"
        if ledger.recorder.max_notification_id() != before:
            failures.append(f"wrote events: {cell}")
        if response.status_code >= 500:
            failures.append(f"5xx: {cell}")
        if method == "GET":
            if response.status_code == 200 and b_name in response.text:
                failures.append(f"shows side B's member: {cell}")
        elif response.status_code == 303 and _flash(response).get("kind") == "ok":
            failures.append(f"reported success: {cell}")
    assert not failures, "\n".join(failures)


def test_notice_forms_print_only_for_their_own_side(web_world: tuple[Ledger, TestClient, World]) -> None:
    """附件1 (slip, receipt) and 附件2 (member-form), pages and files: side A's unit, community and
    member print their own side's forms and are refused (403) side B's; personal fields need
    `member.read_personal`."""
    _, client, world = web_world
    a, b = world.a, world.b
    paths = {
        "slip": lambda side: f"/reports/slip?slip_id={side.slip_id}",
        "receipt": lambda side: f"/reports/receipt?slip_id={side.slip_id}",
        "member-form": lambda side: f"/reports/member-form?member_id={side.member.actor_id}",
        "slip-file": lambda side: f"/reports/slip/file?format=json&personal=true&slip_id={side.slip_id}",
        "form-file": lambda side: f"/reports/member-form/file?format=json&personal=true&member_id={side.member.actor_id}",
    }
    failures = []
    for role in (Role.UNIT, Role.COMMUNITY, Role.MEMBER):
        for name, path in paths.items():
            own = _web_call(client, world, role, "GET", path(a)).status_code
            other = _web_call(client, world, role, "GET", path(b)).status_code
            if own != 200:
                failures.append(f"{role.value} {name} own side → {own}")
            if other != 403:
                failures.append(f"{role.value} {name} other side → {other}")
    for role in (Role.COUNTER, Role.RESIDENT):
        for name, path in paths.items():
            status = _web_call(client, world, role, "GET", path(a)).status_code
            if status != 403:
                failures.append(f"{role.value} {name} → {status}")
    assert not failures, "\n".join(failures)
