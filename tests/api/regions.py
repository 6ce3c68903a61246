"""Two regions for the 通存通兑 settlement tests (issue #14): this region (the app's, with counters)
and a peer whose member redeemed here for 30 minutes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from api.web.core import SESSION_COOKIE, csrf_token
from ledger.application import Ledger, anywhere, transfers
from tests.api.world import World, build_world
from tests.scenario import Region, add_member, organise_region, serve

HOME = "320104"  # the peer's region code


@contextmanager
def two_regions() -> Iterator[tuple[TestClient, World, Region]]:
    """This region's client and world, and the peer (`HOME`, in memory, registered both ways) whose
    member redeemed 30 minutes at this region's counter."""
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        world = build_world(app)
        other = Ledger("memory:")
        other.init_region(code=HOME, name="南京市秦淮区", province_key=world.root_key)
        home = organise_region(other)
        transfers.register_peer(ledger, transfers.region_card(other, address=f"http://{HOME}"))
        transfers.register_peer(other, transfers.region_card(ledger, address="http://here"))
        member = add_member(home, name="秦淮党员")
        serve(home, member, 120)

        def post(url: str, body: bytes) -> tuple[int, bytes]:
            return 200, anywhere.answer(other, body)

        anywhere.redeem_at_counter(ledger, actor=world.a.counter, member_id=member.actor_id, home=HOME,
                                   redemption_id=uuid4(), items=[(world.a.item_id, 1)], post=post)
        yield client, world, home
        other.close()
    ledger.close()


def as_region(client: TestClient, world: World) -> str:
    """Sign `client` in as this region's admin; its CSRF token."""
    token = world.tokens[world.region.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)
