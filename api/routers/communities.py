"""社区 Communities: posts, teams, the service menu, the 爱心超市 catalogue, counters, residents."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut, IdOut
from api.schemas.organisations import (
    CatalogueItemIn,
    CatalogueItemOut,
    CommunityOut,
    CounterIn,
    CounterOut,
    MenuItemIn,
    MenuItemOut,
    PostIn,
    PostOut,
    PriceIn,
    ResidentIn,
    TeamIn,
    TeamOut,
)
from ledger.domain.display import duration_text
from ledger.domain.organisations import Community

router = APIRouter(prefix="/v1/communities", tags=["communities 社区党组织"])


def community_out(community: Community) -> CommunityOut:
    posts = [PostOut(id=i, name=n, retired=i in community.retired_posts) for i, n in community.posts.items()]
    teams = [TeamOut(id=i, name=n, kind=k) for i, (n, k) in community.teams.items()]
    menu = [MenuItemOut(id=i, title=t, post_id=p, withdrawn=i in community.withdrawn_menu)
            for i, (t, p) in community.menu.items()]
    catalogue = [CatalogueItemOut(id=i, name=n, price_minutes=m, price_hours=duration_text(m),
                                  delisted=i in community.delisted) for i, (n, m) in community.catalogue.items()]
    return CommunityOut(id=community.id, name=community.name, region_code=community.region_code,
                        county=community.county, street=community.street,
                        posts=sorted(posts, key=lambda p: (p.name, str(p.id))),
                        teams=sorted(teams, key=lambda t: (t.name, str(t.id))),
                        menu=sorted(menu, key=lambda m: (m.title, str(m.id))),
                        catalogue=sorted(catalogue, key=lambda c: (c.name, str(c.id))))


@router.get("/{community_id}", response_model=CommunityOut, responses=READ_RESPONSES,
            summary="社区 A community", description="岗位、队伍、服务菜单、爱心超市目录（公开）。/ Posts, teams, the "
            "service menu and the catalogue (public to every signed-in role).")
def read_community(community_id: UUID, actor: ActorDep, ledger: LedgerDep) -> CommunityOut:
    authorize(ledger, actor, "community.read", community_id)
    return community_out(ledger.get_community(community_id))


def _simple(action: str, community_id: UUID, commands: CommandsDep, body: object, call: object,
            created: bool = False) -> object:
    return commands.run(action=action, object_id=community_id, body=body, status_code=201 if created else 200,
                        present=(lambda i: IdOut(id=i)) if created else (lambda _: DoneOut()),
                        call=call)  # type: ignore[arg-type]  # the two presenters return different models


@router.post("/{community_id}/posts", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="设岗 Define a post")
def define_post(community_id: UUID, body: PostIn, commands: CommandsDep) -> object:
    return _simple("community.define_post", community_id, commands, body, created=True,
                   call=lambda: commands.services.ledger.define_post(actor=commands.actor, name=body.name))


@router.post("/{community_id}/posts/{post_id}/retirement", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="撤岗 Retire a post")
def retire_post(community_id: UUID, post_id: UUID, commands: CommandsDep) -> object:
    return _simple("community.retire_post", community_id, commands, None,
                   call=lambda: commands.services.ledger.retire_post(actor=commands.actor, post_id=post_id))


@router.post("/{community_id}/teams", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="组建队伍 Form a team", description="网格队或志愿队（地缘、业缘、趣缘）。")
def form_team(community_id: UUID, body: TeamIn, commands: CommandsDep) -> object:
    return _simple("community.form_team", community_id, commands, body, created=True,
                   call=lambda: commands.services.ledger.form_team(actor=commands.actor, name=body.name,
                                                                   kind=body.kind))


@router.post("/{community_id}/menu", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="发布服务菜单项 Publish a menu item")
def publish_menu_item(community_id: UUID, body: MenuItemIn, commands: CommandsDep) -> object:
    return _simple("community.publish_menu", community_id, commands, body, created=True,
                   call=lambda: commands.services.ledger.publish_menu_item(actor=commands.actor, title=body.title,
                                                                           post_id=body.post_id))


@router.post("/{community_id}/menu/{item_id}/withdrawal", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="撤下服务菜单项 Withdraw a menu item")
def withdraw_menu_item(community_id: UUID, item_id: UUID, commands: CommandsDep) -> object:
    return _simple("community.withdraw_menu", community_id, commands, None,
                   call=lambda: commands.services.ledger.withdraw_menu_item(actor=commands.actor, item_id=item_id))


@router.post("/{community_id}/catalogue", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="爱心超市上架 List a catalogue item")
def list_item(community_id: UUID, body: CatalogueItemIn, commands: CommandsDep) -> object:
    return _simple("community.list_item", community_id, commands, body, created=True,
                   call=lambda: commands.services.ledger.list_catalogue_item(
                       actor=commands.actor, name=body.name, price_minutes=body.price_minutes))


@router.put("/{community_id}/catalogue/{item_id}/price", response_model=DoneOut, responses=COMMAND_RESPONSES,
            summary="爱心超市调价 Reprice a catalogue item",
            description="已发生的兑换保持原价。/ Redemptions already made keep their price.")
def reprice_item(community_id: UUID, item_id: UUID, body: PriceIn, commands: CommandsDep) -> object:
    return _simple("community.reprice_item", community_id, commands, body,
                   call=lambda: commands.services.ledger.reprice_catalogue_item(
                       actor=commands.actor, item_id=item_id, price_minutes=body.price_minutes))


@router.post("/{community_id}/catalogue/{item_id}/delisting", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="爱心超市下架 Delist a catalogue item")
def delist_item(community_id: UUID, item_id: UUID, commands: CommandsDep) -> object:
    return _simple("community.delist_item", community_id, commands, None,
                   call=lambda: commands.services.ledger.delist_catalogue_item(actor=commands.actor, item_id=item_id))


@router.post("/{community_id}/counters", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="开设兑换柜台 Open a counter",
             description="柜台获得由社区（或地区管理员）认证的签名密钥。/ The counter gets a signing key certified "
                         "by its community (or by the region administrator, who opens counters for any community).")
def open_counter(community_id: UUID, body: CounterIn, commands: CommandsDep) -> object:
    return commands.run(action="community.open_counter", object_id=community_id, body=body, status_code=201,
                        alone=True, present=lambda i: IdOut(id=i),
                        call=lambda: commands.services.ledger.open_counter(actor=commands.actor, name=body.name,
                                                                           community_id=community_id))


@router.post("/{community_id}/residents", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="登记居民 Register a resident",
             description="居民（服务对象）可点单和评价；账本不保存其个人信息。/ Residents order and rate; the ledger "
                         "keeps no personal data about them, only a label.")
def register_resident(community_id: UUID, body: ResidentIn, commands: CommandsDep) -> object:
    return commands.run(action="community.register_resident", object_id=community_id, body=body, status_code=201,
                        alone=True, present=lambda i: IdOut(id=i),
                        call=lambda: commands.services.ledger.register_resident(actor=commands.actor,
                                                                                label=body.label))


counters_router = APIRouter(prefix="/v1/counters", tags=["counters 爱心超市"])


@counters_router.get("/{counter_id}", response_model=CounterOut, responses=READ_RESPONSES, summary="柜台 A counter")
def read_counter(counter_id: UUID, actor: ActorDep, ledger: LedgerDep) -> CounterOut:
    authorize(ledger, actor, "counter.read", counter_id)
    counter = ledger.get_counter(counter_id)
    return CounterOut(id=counter.id, community_id=counter.community_id, name=counter.name)
