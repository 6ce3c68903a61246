"""Issue #12: every page form that is refused comes back with what was typed and the Chinese message
next to its field (`api.web.core.FormState`), and nothing is written. The browser tests cover the
record and registration forms; these cover the office forms through the same mechanism."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import Actor
from ledger.domain.limits import NAME_CHARS_MAX
from tests.api.world import World

ID_OR_ENGLISH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}|\b(required|characters|whole|minutes)\b")


def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="error-{name}" role="alert">([^<]*)</p>', page)
    assert found is not None, f"no message beside {name}"
    return html.unescape(found.group(1))


TOO_LONG = "长" * (NAME_CHARS_MAX + 1)
CASES = {
    # form action, office, typed fields, field in error, its message, a typed value that must come back
    "post": ("/community/posts/new", "community", {"name": TOO_LONG}, "name", f"不能超过 {NAME_CHARS_MAX} 个字",
             TOO_LONG),
    "catalogue": ("/community/catalogue/new", "community", {"name": "大米 5kg", "price_minutes": "三十"},
                  "price_minutes", "请填写整数分钟数", "大米 5kg"),
    "menu": ("/community/menu/new", "community", {"title": "   "}, "title", "必须填写", None),
    "declared": ("/unit/declared-members", "unit", {"count": "十二"}, "count", "请填写整数", "十二"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_refused_office_form_keeps_what_was_typed_with_the_message_beside_the_field(
        client: TestClient, world: World, case: tuple[str, str, dict[str, str], str, str, str | None]) -> None:
    action, role, typed, field, message, kept = case
    office = world.a.community if role == "community" else world.a.unit
    csrf = _as(client, world, office)
    before = world.ledger.recorder.max_notification_id()
    response = client.post(action, data={CSRF_FIELD: csrf, "nonce": "n-" + field, **typed}, follow_redirects=False)
    assert response.status_code == 422, response.text[:300]
    page = response.text
    assert _field_error(page, field) == message
    assert f'aria-describedby="error-{field}"' in page
    if kept is not None:
        assert f'value="{html.escape(kept)}"' in page
    top = html.unescape(re.search(r'<div class="flash flash-error" role="alert">([^<]*)</div>', page).group(1))
    assert top.endswith("：" + message) and not ID_OR_ENGLISH.search(top)
    assert 'name="nonce" value="n-' not in page  # the corrected form is a new request
    assert world.ledger.recorder.max_notification_id() == before  # nothing was written


def test_a_kept_form_speaks_english_on_the_english_page(client: TestClient, world: World) -> None:
    csrf = _as(client, world, world.a.community)
    client.cookies.set("tl_lang", "en")
    response = client.post("/community/catalogue/new", data={CSRF_FIELD: csrf, "name": "Rice", "price_minutes": "x"},
                           follow_redirects=False)
    assert response.status_code == 422
    assert _field_error(response.text, "price_minutes") == "whole minutes, please"
    assert "Price (minutes): whole minutes, please" in html.unescape(response.text)
