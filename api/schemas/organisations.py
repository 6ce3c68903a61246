"""Units (单位党组织), communities (社区党组织) and their counters (爱心超市柜台)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import EXAMPLE_COMMUNITY_ID, StrictIn
from ledger.domain.limits import LABEL_CHARS_MAX, NAME_CHARS_MAX, PRICE_MINUTES_MAX, SETTING_REASON_CHARS_MAX
from ledger.domain.organisations import DECLARED_MEMBERS_MAX
from ledger.domain.values import TeamKind, UnitType

Name = Field(min_length=1, max_length=NAME_CHARS_MAX)


class UnitIn(StrictIn):
    """登记单位党组织 / register a unit party organisation (its signing key is made and certified)."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["江苏省财政厅机关党委"])
    unit_type: UnitType = Field(description="单位类型 / 机关 事业 企业 大专院校", examples=["机关"])
    declared_members: int = Field(ge=0, le=DECLARED_MEMBERS_MAX, examples=[78],
                                  description="在职党员数（单位申报）/ members in service, as declared")


class UnitOut(BaseModel):
    """单位党组织 / a unit."""

    id: UUID
    name: str
    unit_type: UnitType
    declared_members: int
    community_id: UUID | None = Field(None, description="结对共建社区 / the paired community")
    region_code: str


class PairingIn(StrictIn):
    """结对共建：一个单位对应一个社区 / pair the unit with exactly one community."""

    community_id: UUID = Field(examples=[EXAMPLE_COMMUNITY_ID])
    reason: str = Field("", max_length=SETTING_REASON_CHARS_MAX, examples=["单位搬迁，改与所在社区结对"],
                        description="结对或改变结对的原因（签入事件）/ why (signed into the event)")


class DeclaredMembersIn(StrictIn):
    count: int = Field(ge=0, le=DECLARED_MEMBERS_MAX, examples=[80])


class CommunityIn(StrictIn):
    """登记社区党组织 / register a community party organisation (gets the 8 standard posts)."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["紫鑫城社区"])
    county: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["玄武区"])
    street: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["锁金村街道"])


class PostOut(BaseModel):
    id: UUID
    name: str = Field(examples=["困难群众帮扶岗"])
    retired: bool


class TeamOut(BaseModel):
    id: UUID
    name: str = Field(examples=["第一网格服务队"])
    kind: TeamKind


class MenuItemOut(BaseModel):
    id: UUID
    title: str = Field(examples=["陪同就医"])
    post_id: UUID | None
    withdrawn: bool


class CatalogueItemOut(BaseModel):
    id: UUID
    name: str = Field(examples=["大米 5kg"])
    price_minutes: int = Field(examples=[90])
    price_hours: str = Field(description="时:分，精确到分钟 / exact hours and minutes, h:mm", examples=["1:30"])
    delisted: bool


class CommunityOut(BaseModel):
    """社区：岗位、队伍、服务菜单、爱心超市目录 / a community with its posts, teams, menu and catalogue.

    Lists are ordered by name (stable)."""

    id: UUID
    name: str
    region_code: str
    county: str
    street: str
    posts: list[PostOut]
    teams: list[TeamOut]
    menu: list[MenuItemOut]
    catalogue: list[CatalogueItemOut]


class PostIn(StrictIn):
    """设立社区自定岗位 / define a community post."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["垃圾分类督导岗"])


class TeamIn(StrictIn):
    """组建队伍（地缘、业缘、趣缘）/ form a team by area, trade or interest."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["第一网格服务队"])
    kind: TeamKind = Field(examples=["地缘"])


class MenuItemIn(StrictIn):
    """服务菜单项 / a service menu item residents can order."""

    title: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["陪同就医"])
    post_id: UUID | None = Field(None, description="对应岗位 / the post that serves it")


class CatalogueItemIn(StrictIn):
    """爱心超市商品或服务 / an item of the 爱心超市 catalogue."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["大米 5kg"])
    price_minutes: int = Field(ge=1, le=PRICE_MINUTES_MAX, examples=[90], description="价格（分钟）/ price, minutes")


class PriceIn(StrictIn):
    price_minutes: int = Field(ge=1, le=PRICE_MINUTES_MAX, examples=[60])


class CounterIn(StrictIn):
    """开设爱心超市兑换柜台 / open a counter (its signing key is made and certified)."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["爱心超市收银台"])


class CounterOut(BaseModel):
    id: UUID
    community_id: UUID
    name: str


class ResidentIn(StrictIn):
    """登记居民（服务对象）：只记标签，不记个人信息 / register a resident: a label, no personal data."""

    label: str = Field(min_length=1, max_length=LABEL_CHARS_MAX, examples=["3栋居民"])
