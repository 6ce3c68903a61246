"""The auditor's upload page is total (issue #10, defect 4): whatever bytes are uploaded, it reports
a failed verification, in Chinese, and never raises (a deeply nested file used to be a 500)."""

from __future__ import annotations

import pytest

from api.web.pages.audit import verify_file
from ledger import transfer as transfers

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
