"""Authorisation: ONE table says which role may do which action to which object.

Each action names the kind of object it acts on and, per role, a scope:

* ``ANY``  — on every object of that kind in the region;
* ``OWN``  — only on the role's own objects (what "own" means per kind is `Ledger.owns`, in
  ledger/application/ownership.py, the relations the ledger's commands refuse by: a member's own
  record, a community's registered members and their sessions, a unit's enrolled members …);
* ``OWN_CONSENTED`` — own, and only while the member has given the unit the separate consent PIPL
  requires for sending their service record to the employer (服务纪实反馈);
* ``ORGANISER`` — for a member: only on the objects of the community they registered with, and only
  while that community has named them organiser (活动组织者, issue #15) and not withdrawn them; a member
  of that community who is not (or no longer) an organiser is told so (`not_an_organiser`,
  `organiser_withdrawn`), a member of another community gets the plain `not_permitted`;
* a role not listed may not do the action at all.

The ledger checks its own rules again when the command runs (defence in depth); this table is what
the API promises and what `tests/api/test_authorisation_matrix.py` checks endpoint by endpoint.
Field-level visibility is expressed with the same table: `member.read_personal` (the sealed personal
fields: phone, address, health, birth data) and `report.community_personal` (the same fields on the
附件4 register). Names and the clear 登记表 fields are not personal fields under DOMAIN.md: whoever may
read the member reads them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID


from ledger.application import Actor, Kind, Ledger
from ledger.domain.errors import ConsentMissing, NotPermitted
from ledger.domain.values import ConsentPurpose, Role


class Scope(str, enum.Enum):
    ANY = "any"
    OWN = "own"
    OWN_CONSENTED = "own_consented"
    ORGANISER = "organiser"


@dataclass(frozen=True)
class Rule:
    kind: Kind
    scopes: Mapping[Role, Scope]
    what: str  # 中文 / English, for docs and error texts


R, U, C, K, M, S, AUD = Role.REGION, Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER, Role.RESIDENT, Role.AUDITOR
A, O, OC, OG = Scope.ANY, Scope.OWN, Scope.OWN_CONSENTED, Scope.ORGANISER  # noqa: E741 - one-letter names keep the table readable
EVERYONE = {R: A, U: A, C: A, K: A, M: A, S: A, AUD: A}

# fmt: off
POLICY: dict[str, Rule] = {
    # -- region administration (县区管理员) -------------------------------------------------------
    "region.read":               Rule(Kind.NONE, EVERYONE, "查看地区设置 read the region's settings"),
    "region.change_settings":    Rule(Kind.NONE, {R: A}, "修改地区设置 change region settings"),
    "region.set_deadline":       Rule(Kind.NONE, {R: A}, "设置报到截止日期 set the reporting deadline"),
    "region.set_transfer_timeout": Rule(Kind.NONE, {R: A}, "设置转移回执时限 set the transfer timeout"),
    "region.publish_policy":     Rule(Kind.NONE, {R: A}, "发布积分办法 publish a scoring policy"),
    "region.rescore":            Rule(Kind.NONE, {R: A}, "重新评分 re-score a year"),
    "region.publish_calendar":   Rule(Kind.NONE, {R: A}, "发布法定节假日安排 publish a holiday calendar"),
    "policy.read":               Rule(Kind.NONE, EVERYONE, "查看积分办法 read a scoring policy"),
    "unit.register":             Rule(Kind.NONE, {R: A}, "登记单位党组织 register a unit"),
    "community.register":        Rule(Kind.NONE, {R: A}, "登记社区党组织 register a community"),
    "auditor.register":          Rule(Kind.NONE, {R: A}, "登记审计 register an auditor"),
    # -- units (单位党组织) ---------------------------------------------------------------------
    "unit.read":                 Rule(Kind.UNIT, {R: A, AUD: A, U: O, C: A}, "查看单位 read a unit"),
    "unit.pair":                 Rule(Kind.UNIT, {R: A, U: O}, "结对共建 pair a unit with a community"),
    "unit.declare_members":      Rule(Kind.UNIT, {U: O}, "申报在职党员数 declare members in service"),
    "member.enrol":              Rule(Kind.NONE, {U: A}, "党员入册 enrol a member"),
    "member.enrol_import":       Rule(Kind.NONE, {U: A}, "党员名册导入 import the unit's paper roster as enrolments "
                                                        "(each member onto the importing unit's own roster)"),
    # -- communities (社区党组织): posts, teams, menu, catalogue, counters, residents ---------------
    "community.read":            Rule(Kind.COMMUNITY, EVERYONE, "查看社区岗位、菜单、目录 read a community"),
    "community.define_post":     Rule(Kind.COMMUNITY, {C: O}, "设岗 define a post"),
    "community.retire_post":     Rule(Kind.COMMUNITY, {C: O}, "撤岗 retire a post"),
    "community.form_team":       Rule(Kind.COMMUNITY, {C: O}, "编组 form a team"),
    "community.publish_menu":    Rule(Kind.COMMUNITY, {C: O}, "发布服务菜单 publish a menu item"),
    "community.withdraw_menu":   Rule(Kind.COMMUNITY, {C: O}, "撤下服务菜单 withdraw a menu item"),
    "community.list_item":       Rule(Kind.COMMUNITY, {C: O}, "爱心超市上架 list a catalogue item"),
    "community.reprice_item":    Rule(Kind.COMMUNITY, {C: O}, "爱心超市调价 reprice a catalogue item"),
    "community.delist_item":     Rule(Kind.COMMUNITY, {C: O}, "爱心超市下架 delist a catalogue item"),
    "community.open_counter":    Rule(Kind.COMMUNITY, {R: A, C: O}, "开设兑换柜台 open a counter"),
    "community.register_resident": Rule(Kind.COMMUNITY, {C: O}, "登记居民 register a resident"),
    "counter.read":              Rule(Kind.COUNTER, {R: A, AUD: A, C: O, K: O}, "查看柜台 read a counter"),
    "member.identify":           Rule(Kind.COMMUNITY, {K: O},
                                      "柜台核对本社区党员（姓名、隐去中间位的手机号）identify a member of the counter's "
                                      "community (name, masked phone)"),
    # -- members (在职党员) ---------------------------------------------------------------------
    "member.read":               Rule(Kind.MEMBER, {R: A, AUD: A, M: O, C: O, U: O}, "查看党员 read a member"),
    "member.read_personal":      Rule(Kind.MEMBER, {M: O, C: O, U: O},
                                      "查看个人信息 read personal fields (phone, address, health, birth)"),
    "member.issue_slip":         Rule(Kind.MEMBER, {U: O}, "开具报到单 issue a report slip"),
    "member.register":           Rule(Kind.MEMBER, {C: A}, "报到登记 register a member who reports"),
    "member.claim_post":         Rule(Kind.MEMBER, {M: O, C: O}, "认领岗位 claim a post"),
    "member.release_post":       Rule(Kind.MEMBER, {M: O, C: O}, "退出岗位 release a post"),
    "member.join_team":          Rule(Kind.MEMBER, {C: O}, "编入队伍 place in a team"),
    "member.leave_team":         Rule(Kind.MEMBER, {C: O}, "移出队伍 remove from a team"),
    "member.grant_exemption":    Rule(Kind.MEMBER, {U: O}, "有故免报到 grant an exemption"),
    "member.withdraw_exemption": Rule(Kind.MEMBER, {U: O}, "撤销免报到 withdraw an exemption"),
    "member.give_consent":       Rule(Kind.MEMBER, {M: O}, "同意提供信息 give a consent"),
    "member.withdraw_consent":   Rule(Kind.MEMBER, {M: O}, "撤回同意 withdraw a consent"),
    "member.erase_personal":     Rule(Kind.MEMBER, {C: O, R: A}, "删除个人信息 erase personal data"),
    "member.submit_suggestion":  Rule(Kind.MEMBER, {M: O}, "提建议 submit a suggestion"),
    "balance.read":              Rule(Kind.MEMBER, {R: A, AUD: A, M: O, C: O, U: O, K: A},
                                      "查看时间余额 read a balance"),
    "account.read":              Rule(Kind.MEMBER, {R: A, AUD: A, M: O, C: O, U: OC},
                                      "查看时间账户流水 read time-account entries"),
    "slip.read":                 Rule(Kind.SLIP, {R: A, AUD: A, U: O, C: O, M: O}, "查看报到单 read a report slip"),
    "slip.send_receipt":         Rule(Kind.SLIP, {C: O}, "寄回执单 send the receipt"),
    "slip.remind":               Rule(Kind.SLIP, {U: O}, "催报 remind a member to report (recorded)"),
    # -- 三单制 orders ------------------------------------------------------------------------
    "order.place":               Rule(Kind.COMMUNITY, {S: A, C: O},
                                      "居民点单（社区可代本社区居民点单）place an order (a community for its residents)"),
    "order.read":                Rule(Kind.ORDER, {R: A, AUD: A, S: O, C: O, M: O}, "查看订单 read an order"),
    "order.dispatch":            Rule(Kind.ORDER, {C: O}, "支部下单 dispatch an order"),
    "order.accept":              Rule(Kind.ORDER, {M: O}, "党员接单 accept an order"),
    "order.decline":             Rule(Kind.ORDER, {M: O}, "党员婉拒 decline an order"),
    "order.cancel":              Rule(Kind.ORDER, {S: O, C: O}, "取消订单 cancel an order"),
    # -- service sessions (服务记录) --------------------------------------------------------------
    "session.record":            Rule(Kind.MEMBER, {M: O, C: O}, "记录服务 record a session"),
    "session.register_device":   Rule(Kind.NONE, {M: A}, "登记党员手机密钥 register the member's phone key "
                                                         "(certified by the member's community)"),
    "session.sync_offline":      Rule(Kind.MEMBER, {M: O}, "同步离线服务记录 sync a record typed offline"),
    "session.read":              Rule(Kind.SESSION, {R: A, AUD: A, M: O, C: O, U: OC, S: O},
                                      "查看服务记录 read a session"),
    "session.rate":              Rule(Kind.SESSION, {S: O, C: O, U: O}, "评价 rate a session"),
    "session.certify":           Rule(Kind.SESSION, {C: O}, "认证 certify a session"),
    "session.import":            Rule(Kind.NONE, {C: A}, "纸质记录导入 import paper record cards as certified sessions "
                                                         "(the ledger takes only the office's own members)"),
    "member.import":             Rule(Kind.NONE, {C: A}, "登记表导入 import paper 登记表 (附件2) as registrations "
                                                        "(the ledger takes only members sent to the office)"),
    "post.import":               Rule(Kind.NONE, {C: A}, "认领岗位导入 import claimed posts "
                                                        "(the ledger takes only the office's own members)"),
    "session.reject":            Rule(Kind.SESSION, {C: O}, "不予认证 reject a session"),
    "session.correct":           Rule(Kind.SESSION, {C: O}, "更正 correct a session"),
    "session.uphold_complaint":  Rule(Kind.SESSION, {C: O}, "投诉属实 uphold a complaint"),
    # -- check-in at the venue (签到签退, issue #15) ------------------------------------------------
    "region.set_presence_share": Rule(Kind.NONE, {R: A}, "设置签到最低在场比例 set the minimum presence share"),
    # the community office, or a member it named organiser (活动组织者), runs its activities
    "activity.open":             Rule(Kind.COMMUNITY, {C: O, M: OG}, "开放活动签到 open an activity"),
    "activity.read":             Rule(Kind.ACTIVITY, {R: A, AUD: A, C: O, M: O}, "查看活动 read an activity"),
    "activity.show_code":        Rule(Kind.ACTIVITY, {C: O, M: OG}, "出示签到码 show the rotating check-in code"),
    "activity.close":            Rule(Kind.ACTIVITY, {C: O, M: OG}, "结束活动 close an activity"),
    "activity.scan":             Rule(Kind.ACTIVITY, {M: O}, "扫码签到签退 check in or out by scanning the code"),
    "activity.scan_member":      Rule(Kind.ACTIVITY, {C: O, M: OG}, "扫党员码签到 check a member in or out by their code"),
    "activity.group_entry":      Rule(Kind.ACTIVITY, {C: O, M: OG}, "团体录入 check a group in or out"),
    "activity.register_device":  Rule(Kind.NONE, {C: A}, "登记签到设备密钥 register the community's venue device key "
                                                         "(certified by the region)"),
    "activity.sync_offline":     Rule(Kind.ACTIVITY, {C: O}, "同步离线扫码 sync a scan the venue device took offline"),
    "community.name_organiser":  Rule(Kind.COMMUNITY, {C: O}, "指定活动组织者 name a member organiser"),
    "community.withdraw_organiser": Rule(Kind.COMMUNITY, {C: O}, "撤销活动组织者 withdraw an organiser"),
    "community.read_organisers": Rule(Kind.COMMUNITY, {R: A, AUD: A, C: O}, "查看活动组织者 list the organisers"),
    # -- suggestions (建议) ---------------------------------------------------------------------
    "suggestion.read":           Rule(Kind.SUGGESTION, {R: A, AUD: A, M: O, C: O}, "查看建议 read a suggestion"),
    "suggestion.adopt":          Rule(Kind.SUGGESTION, {C: O}, "采纳建议 adopt a suggestion"),
    "suggestion.forward":        Rule(Kind.SUGGESTION, {C: O}, "交转建议 forward a suggestion"),
    # -- 爱心超市 -------------------------------------------------------------------------------
    "redemption.create":         Rule(Kind.MEMBER, {K: A}, "兑换 redeem minutes"),
    "settlement.make":           Rule(Kind.NONE, {R: A}, "出具通存通兑结算单 sign this region's settlement statement"),
    "settlement.read":           Rule(Kind.NONE, {R: A, AUD: A}, "核验通存通兑结算单 check a peer's statement"),
    "settlement.read_evidence":  Rule(Kind.NONE, {R: A, AUD: A}, "下载通存通兑审计证据 take this region's settlement "
                                                                 "evidence away for an offline check"),
    "redemption.anywhere":       Rule(Kind.NONE, {K: A}, "跨区兑换 redeem for a member of another region "
                                                         "(the member's home region checks the member and the balance)"),
    # offline capture (离线兑换, issue #15): the counter's own device key; records signed by it synced later
    "counter.register_device":   Rule(Kind.NONE, {K: A}, "登记本柜台设备密钥 register this counter's device key "
                                                         "(certified by the counter's community)"),
    "redemption.sync_offline":   Rule(Kind.MEMBER, {K: A}, "同步离线兑换 sync a redemption captured offline"),
    "region.set_offline_bound":  Rule(Kind.NONE, {R: A}, "设置柜台离线兑换上限 set the counters' offline bound"),
    # -- keys and logins -------------------------------------------------------------------------
    "key.read":                  Rule(Kind.NONE, EVERYONE, "查看公钥 read a public key"),
    "key.register_client":       Rule(Kind.ACTOR, {R: A, C: O}, "登记客户端密钥 register a client-held key"),
    "key.rotate":                Rule(Kind.ACTOR, {R: A, C: O, U: O}, "轮换密钥 rotate a server-held key"),
    "key.revoke":                Rule(Kind.KEY, {R: A, C: O, U: O}, "吊销密钥 revoke a key"),
    "login.create":              Rule(Kind.ACTOR, {R: A, C: O},
                                      "开设登录账号 create a login (never a member's: members activate their own)"),
    "login.activate":            Rule(Kind.MEMBER, {R: A, C: O, U: O},
                                      "签发党员激活码 issue a member's one-time activation code (region: a reset, with a reason)"),
    "login.list":                Rule(Kind.ACTOR, {R: A, C: O, U: O}, "查看登录账号 list an actor's logins"),
    "login.disable":             Rule(Kind.LOGIN, {R: A, C: O, U: O}, "停用登录账号 disable a login"),
    "login.enable":              Rule(Kind.LOGIN, {R: A, C: O}, "启用登录账号 enable a login"),
    # -- 转移接续 transfers between regions (the region operator) ----------------------------------------
    "region.card":               Rule(Kind.NONE, EVERYONE, "本区名片 this region's card"),
    "region.add_peer":           Rule(Kind.NONE, {R: A}, "登记其他地区 register a peer region"),
    "transfer.initiate":         Rule(Kind.MEMBER, {R: A}, "发起转出 start a transfer-out"),
    "transfer.read":             Rule(Kind.NONE, {R: A, AUD: A}, "查看转移 read a transfer"),
    "transfer.export":           Rule(Kind.NONE, {R: A}, "导出转移包 export the bundle"),
    "transfer.import":           Rule(Kind.NONE, {R: A}, "接收转移包 import a bundle"),
    "transfer.complete":         Rule(Kind.NONE, {R: A}, "完成转出 complete with the receipt"),
    "transfer.void":             Rule(Kind.NONE, {R: A}, "撤销转出 void a transfer"),
    "log.read":                  Rule(Kind.NONE, {R: A, U: A, C: A, M: A, S: A, AUD: A}, "查看签名检查点与证明 read checkpoints and proofs"),
    "log.checkpoint":            Rule(Kind.NONE, {R: A}, "签发检查点 sign a checkpoint"),
    "certificate.issue":         Rule(Kind.MEMBER, {R: A, M: O, C: O, U: OC}, "开具服务时长证明 issue an hour certificate"),
    "transfer.send":             Rule(Kind.NONE, {R: A}, "推送转移包并完成 push the bundle to the destination"),
    "member.issue_key":          Rule(Kind.MEMBER, {R: A, U: O, C: O}, "为转入党员签发密钥 key for an arrived member"),
    "member.adopt":              Rule(Kind.MEMBER, {U: A}, "接收转入党员入册 a unit takes on an arrived member"),
    # -- lists and reports (read models of projections/), by the scope they cover -----------------
    "report.region":             Rule(Kind.NONE, {R: A, AUD: A}, "全区报表与列表 region-wide reports and lists"),
    "report.unit":               Rule(Kind.UNIT, {R: A, AUD: A, U: O}, "单位报表 a unit's reports and lists"),
    "report.community":          Rule(Kind.COMMUNITY, {R: A, AUD: A, C: O},
                                      "社区报表与认证待办 a community's reports, lists and certification queue"),
    "report.member":             Rule(Kind.MEMBER, {R: A, AUD: A, M: O, C: O, U: OC},
                                      "党员记录卡与余额 a member's record card and balance"),
    "report.community_personal": Rule(Kind.COMMUNITY, {C: O},
                                      "登记表含个人信息 the register with personal fields (own community only)"),
}
# fmt: on

def rule(action: str) -> Rule:
    return POLICY[action]


def may(action: str, role: Role) -> bool:
    """Whether the role may do the action to at least some objects."""
    return role in POLICY[action].scopes


def authorize(ledger: Ledger, actor: Actor, action: str, object_id: UUID | str | None = None) -> None:
    """Raise NotPermitted (403) unless the table lets `actor` do `action` to the object.

    The object is loaded only when the scope is OWN, so a role with no right at all learns nothing
    about the object (not even whether it exists)."""
    entry = POLICY[action]
    scope = entry.scopes.get(actor.role)
    if scope is None:
        raise NotPermitted(f"a {actor.role.value} may not {action}")
    if scope is Scope.ANY or entry.kind is Kind.NONE:
        return
    assert object_id is not None, f"{action} needs an object"
    if scope is Scope.ORGANISER:
        community_id = ledger.community_of(entry.kind, object_id)
        if ledger.get_member(actor.actor_id).community_id != community_id:
            raise NotPermitted(f"a {actor.role.value} may {action} only for the community it is registered with")
        ledger.require_runs(actor, community_id)  # not_an_organiser / organiser_withdrawn
        return
    if not ledger.owns(actor, entry.kind, object_id):
        raise NotPermitted(f"a {actor.role.value} may {action} only on its own {entry.kind.value} objects")
    if scope is Scope.OWN_CONSENTED:
        member_id = _member_of(ledger, entry.kind, object_id)
        if not ledger.get_member(member_id).has_consent(ConsentPurpose.UNIT_FEEDBACK, str(actor.actor_id)):
            raise ConsentMissing("the member has not consented to share their service record with this unit")


def allowed(ledger: Ledger, actor: Actor, action: str, object_id: UUID | str | None = None) -> bool:
    try:
        authorize(ledger, actor, action, object_id)
    except NotPermitted:
        return False
    return True


def _member_of(ledger: Ledger, kind: Kind, object_id: UUID | str) -> UUID:
    if kind is Kind.MEMBER:
        return UUID(str(object_id))
    if kind is Kind.SESSION:
        return ledger.get_session(UUID(str(object_id))).member_id
    raise AssertionError(f"no member behind a {kind.value}")
