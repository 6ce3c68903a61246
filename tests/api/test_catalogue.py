"""The message catalogue (api/catalogue.py) covers every refusal code and every input field, in both
languages; the API's error body carries its message beside the unchanged `code` and `detail`.

Codes and fields are discovered, not listed: refusal classes by walking every module of `ledger`,
`projections` and `api`; the codes a refusal class takes per instance (a transfer's failed check)
from the calls in the source; the HTTP-level codes from `api.errors`; fields from every `…In`
schema, every form field in the templates and every field the pages read from a form."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

import api
import api.schemas
import ledger
import projections
from api import catalogue
from api.errors import HTTP_CODES, REFUSALS
from tests.api.world import World

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
ID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}|[0-9a-f]{8}…")
NOT_FIELDS = {"csrf", "nonce", "next", "viewport"}  # form plumbing, never named to a person


def _modules() -> Iterator[Any]:
    for package in (ledger, projections, api):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith(".__main__"):  # `python -m api.cli` runs the CLI when imported
                yield importlib.import_module(info.name)


def _subclasses(base: type) -> Iterator[type]:
    for sub in base.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _trees() -> Iterator[ast.AST]:
    for package in ("ledger", "projections", "api"):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield ast.parse(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def refusal_codes() -> set[str]:
    list(_modules())
    classes = {cls for base in REFUSALS for cls in _subclasses(base) if cls.__module__.split(".")[0] != "tests"}
    codes = {cls.__dict__["code"] for cls in classes if "code" in cls.__dict__} | {base.code for base in REFUSALS}
    # classes that take their code per instance (`TransferRefused("bundle_unreadable", …)`)
    per_instance = {cls.__name__ for cls in classes
                    if list(inspect.signature(cls.__init__).parameters)[1:2] == ["code"]}
    assert per_instance, "the transfer checks take their code per instance"
    for tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0]
            if name in per_instance and isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
            if name in ("finding", "refused") and isinstance(first, ast.Constant):  # the auditor's findings
                codes.add(str(first.value))
            # the error handlers' own codes: error_response(status, "code", …) and {"code": "…"} bodies
            if name == "error_response" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                codes.add(str(node.args[1].value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if (isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant)
                            and isinstance(value.value, str) and re.fullmatch(r"[a-z][a-z0-9_]*", value.value)):
                        codes.add(value.value)
    codes |= set(HTTP_CODES.values())
    from api.web.pages.audit import CERTIFICATE_CODE_OF_STEP, FILE_KINDS

    codes |= set(CERTIFICATE_CODE_OF_STEP) | {code for _, code in FILE_KINDS}
    assert len(codes) > 80
    return codes


@pytest.fixture(scope="module")
def fields() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.walk_packages(api.schemas.__path__, "api.schemas."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseModel) and name.endswith("In"):
                found |= set(value.model_fields)
    for template in (ROOT / "api" / "web" / "templates").rglob("*.html"):
        found |= set(re.findall(r'\bname="([a-z_][a-z0-9_]*)"', template.read_text(encoding="utf-8")))
    for path in (ROOT / "api" / "web" / "pages").glob("*.py"):  # core.field(form, "…") and friends
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("field", "uuid_field", "date_field") and len(node.args) > 1
                    and isinstance(node.args[1], ast.Constant)):
                found.add(str(node.args[1].value))
    from api.web.pages.community import PERSONAL_FIELDS, PROFILE_FIELDS

    found |= {name for name, _ in PROFILE_FIELDS + PERSONAL_FIELDS}
    return found - NOT_FIELDS


def _both(message: tuple[str, str], what: str) -> None:
    zh, en = message
    assert zh.strip() and en.strip(), f"{what}: a language is empty"
    assert CJK.search(zh), f"{what}: the Chinese message has no Chinese: {zh!r}"
    plain = re.sub(r"\{[a-z_]+\}|JSON|PDF|HH:MM", "", zh)  # placeholders and file formats are not English
    assert not re.search(r"[A-Za-z]{3,}", plain), f"{what}: English in {zh!r}"


def test_every_refusal_code_has_a_chinese_and_an_english_message(refusal_codes: set[str]) -> None:
    missing = sorted(code for code in refusal_codes if code not in catalogue.CODES)
    assert not missing, f"codes without a message in api/catalogue.py: {missing}"
    for code in refusal_codes:
        _both(catalogue.CODES[code], code)


def test_every_field_has_a_chinese_and_an_english_label(fields: set[str]) -> None:
    missing = sorted(name for name in fields if name not in catalogue.FIELDS)
    assert not missing, f"fields without a label in api/catalogue.py: {missing}"
    for name in fields:
        _both(catalogue.FIELDS[name], name)
    assert {"start_time", "post_ids", "minutes", "reason", "mobile"} <= fields


def test_every_reason_and_object_kind_has_both_languages() -> None:
    for reason, pair in catalogue.REASONS.items():
        _both(pair, reason)
    for kind, (zh, en) in catalogue.KINDS.items():
        assert CJK.search(zh) and en, kind


def test_a_session_beyond_its_span_names_the_field_and_the_durations_in_chinese() -> None:
    from ledger.domain.errors import InvalidInput
    from ledger.domain.service_session import check_session_fields

    with pytest.raises(InvalidInput) as refused:
        check_session_fields(activity="a", content="b", place="c", service_date=__import__("datetime").date(2026, 5, 1),
                             start_time="09:00", end_time="11:00", minutes=150, organiser="", recipient="",
                             recorded_on=__import__("datetime").date(2026, 5, 2))
    zh = catalogue.message(refused.value, "zh")
    assert zh == "服务时长（分钟）：2小时30分超过起止时间之差2小时（路途时间不计入）"
    assert "minutes" not in zh and "150" not in zh
    assert catalogue.message(refused.value, "en").startswith("Minutes: 2:30 h exceeds")


def test_the_api_error_body_carries_the_catalogue_message_beside_code_and_detail(
        client: TestClient, world: World) -> None:
    response = client.post(f"/v1/members/{world.b.member.actor_id}/registration",
                           headers=world.headers(world.a.community), json={"post_ids": []})
    body = response.json()
    assert response.status_code == 422 and body["code"] == "invalid_request" and "post_ids" in body["detail"]
    assert body["message"]["zh"] == "认领岗位：请至少选择一项"
    assert body["message"]["en"] == "Claimed posts: choose at least one"
    missing = client.get(f"/v1/sessions/{world.a.member.actor_id}", headers=world.headers(world.a.community))
    assert missing.json()["code"] == "not_found"
    assert missing.json()["message"]["zh"] == "未找到该服务记录：编号有误，或不属于本地区。"
    assert not ID_LIKE.search(missing.json()["message"]["zh"])
    unknown = client.get("/v1/no-such-route")
    assert unknown.json()["message"] == {"zh": catalogue.CODES["not_found"][0], "en": catalogue.CODES["not_found"][1]}


def test_the_cli_prints_the_chinese_message_first_then_code_and_detail(tmp_path: Path) -> None:
    from uuid import uuid4

    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert runner.invoke(app, ["init", "--region", "320102", "--name", "南京市玄武区", "--db", db]).exit_code == 0
    result = runner.invoke(app, ["erase-personal-data", "--member", str(uuid4()), "--db", db])
    assert result.exit_code == 1
    assert "未找到该党员：编号有误，或不属于本地区。 (not_found:" in " ".join(result.output.split())
