"""The auditor's upload page is total (issue #10, defect 4): whatever bytes are uploaded, it reports
a failed verification, in Chinese, and never raises (a deeply nested file used to be a 500)."""

from __future__ import annotations

import pytest

from api.web.pages.audit import verify_file
from ledger.application import transfers

ROOT = bytes(32)
UPLOADS = {
    "deep-array": b"[" * 990,
    "deep-object": b'{"a":' * 990 + b"1" + b"}" * 990,
    "deep-bundle": b'{"format":"' + transfers.BUNDLE_FORMAT.encode() + b'","x":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "lone-surrogate": b'{"format":"\\ud800"}',
    "not-utf8": b'{"format":"\xff"}',
    "bundle-of-wrong-types": b'{"format":"' + transfers.BUNDLE_FORMAT.encode() + b'","source":{"code":[1]},'
                             b'"transfer_id":[],"destination":{}}',
    "list": b"[1,2,3]",
    "number": b"1e999999",
}


@pytest.mark.parametrize("data", UPLOADS.values(), ids=UPLOADS.keys())
def test_any_upload_is_reported_not_raised(data: bytes) -> None:
    result = verify_file(data, ROOT, "", "upload.json")
    assert result["ok"] is False
    assert result["reason"]
    assert any(step["state"] == "failed" for step in result["steps"])


def test_a_too_deep_upload_says_why_in_chinese() -> None:
    result = verify_file(b"[" * 990, ROOT, "", "upload.json")
    assert "嵌套过深" in result["reason"]


@pytest.mark.parametrize("cookie", ["[" * 990, '{"kind":' * 500, "%ff%fe", '"\\ud800"'])
def test_a_malformed_flash_cookie_is_ignored_not_a_500(cookie: str) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import settings_for_tests
    from ledger.application import Ledger

    ledger = Ledger("memory:")
    try:
        with TestClient(create_app(settings_for_tests(), ledger), raise_server_exceptions=False) as client:
            client.cookies.set("tl_flash", cookie)
            assert client.get("/login").status_code == 200
    finally:
        ledger.close()


@pytest.mark.parametrize("name", ["deep-array", "deep-object", "bundle-of-wrong-types", "not-utf8"])
def test_the_audit_upload_page_reports_a_malformed_file(name: str) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import settings_for_tests
    from api.web import core
    from ledger.application import Ledger
    from tests.api.world import build_world

    ledger = Ledger("memory:")
    try:
        app = create_app(settings_for_tests(), ledger)
        with TestClient(app, raise_server_exceptions=False) as client:
            world = build_world(app)
            token = world.tokens[world.auditor.actor_id]
            client.cookies.set(core.SESSION_COOKIE, token)
            before = ledger.recorder.max_notification_id()
            response = client.post("/audit", data={core.CSRF_FIELD: core.csrf_token(token)},
                                   files={"file": ("upload.json", UPLOADS[name], "application/json")})
            assert response.status_code == 200, response.text[:300]
            assert "审计核验" in response.text
            assert ledger.recorder.max_notification_id() == before
    finally:
        ledger.close()
