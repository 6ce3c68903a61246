"""Property-based API test over the OpenAPI schema (schemathesis + hypothesis): for every operation,
valid and invalid requests from every role never produce a 5xx, every error uses the one error
model, and a refused request changes nothing (no event is written).

Each operation runs against its own copy of one world (built once per module in a SQLite file and
copied per test), so no result depends on which operations ran before it or on which xdist worker.
In CI the `ci` hypothesis profile derandomizes the examples (tests/conftest.py); scripts/fuzz.sh
runs more, random ones (TIMELEDGER_API_FUZZ_EXAMPLES)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.main import create_app
from api.settings import settings_for_tests
from ledger.application import Ledger
from ledger.domain.values import Role, stable_id
from tests.api.world import World, build_world

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode
from schemathesis.openapi import from_dict
from schemathesis.python import asgi

EXAMPLES = int(os.environ.get("TIMELEDGER_API_FUZZ_EXAMPLES", "8"))
ROLES = [Role.REGION, Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER, Role.RESIDENT, Role.AUDITOR]
SKIP = {("POST", "/v1/auth/token"), ("POST", "/v1/auth/password")}  # argon2 per example: covered in test_auth


def _openapi() -> dict[str, Any]:
    ledger = Ledger("memory:")
    document = create_app(settings_for_tests(), ledger).openapi()
    ledger.close()
    return document


OPENAPI = _openapi()  # the same for every app instance


def _operations() -> list[tuple[str, str]]:
    found = sorted((m.upper(), p) for p, ops in OPENAPI["paths"].items() for m in ops)
    return [op for op in found if op not in SKIP]


def _real_ids(world: World) -> dict[str, str]:
    a = world.a
    return {"unit_id": str(a.unit.actor_id), "community_id": str(a.community.actor_id),
            "counter_id": str(a.counter.actor_id), "member_id": str(a.member.actor_id), "slip_id": str(a.slip_id),
            "session_id": str(a.session_id), "order_id": str(a.order_id), "suggestion_id": str(a.suggestion_id),
            "key_id": a.counter_key_id, "actor_id": str(a.counter.actor_id), "post_id": str(a.post_id),
            "team_id": str(a.team_id), "item_id": str(a.item_id), "year": "2026", "version": "1",
            "username": world.usernames[a.counter.actor_id],
            "consent_id": str(stable_id("consent", a.member.actor_id, "unit_feedback", str(a.unit.actor_id))), "kind": "card",
            "transfer_id": str(a.order_id), "token_id": "0123456789abcdef", "activity_id": str(a.activity_id),
            "redemption_id": str(a.order_id)}  # no such cross-region redemption: refused, nothing changes


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    """The world, built once in a SQLite file (with its master key file beside it)."""
    path = tmp_path_factory.mktemp("api-fuzz-world") / "world.db"
    ledger = Ledger(f"sqlite:///{path}")
    try:
        world = build_world(create_app(settings_for_tests(), ledger))
    finally:
        ledger.close()
    return path, world


@pytest.fixture
def own_world(template: tuple[Path, World], tmp_path: Path) -> Iterator[tuple[Ledger, FastAPI, World, Any]]:
    """A copy of the template world for one test alone."""
    source, world = template
    target = tmp_path / "world.db"
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    if Path(f"{source}.masterkey").exists():  # no file when TIMELEDGER_MASTER_KEY is set
        shutil.copyfile(f"{source}.masterkey", f"{target}.masterkey")
    ledger = Ledger(f"sqlite:///{target}")
    app = create_app(settings_for_tests(), ledger)
    try:
        with asgi.get_client(app) as client:  # one lifespan (writer thread) for the test's calls
            yield ledger, app, dataclasses.replace(world, ledger=ledger), client
    finally:
        ledger.close()


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: f"{op[0]} {op[1]}")
def test_no_5xx_and_refusals_change_nothing(operation: tuple[str, str],
                                            own_world: tuple[Ledger, FastAPI, World, Any]) -> None:
    method, path = operation
    _check(method, path, *own_world)


def _check(method: str, path: str, ledger: Ledger, app: FastAPI, world: World, client: Any) -> None:
    schema = from_dict(OPENAPI)
    schema.app = app  # calls go straight to the ASGI app (no server, no lifespan: the writer runs inline)
    api_operation = schema[path][method]
    ids = _real_ids(world)
    real = {name: ids[name] for name in (p.name for p in api_operation.path_parameters)}
    cases = st.one_of(api_operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real or None),
                      api_operation.as_strategy(GenerationMode.POSITIVE),
                      api_operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases, role=st.sampled_from(ROLES))
    def check(case: Any, role: Role) -> None:
        before = ledger.recorder.max_notification_id()
        headers = {**(case.headers or {}), **world.headers(world.actor(role))}
        response = case.call(headers=headers, session=client)
        assert response.status_code < 500, (response.status_code, response.text[:500], case.as_curl_command())
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"code", "detail", "message"} and body["code"], body
            assert ledger.recorder.max_notification_id() == before, "a refused request wrote events"

    check()


# -- the edges, sent explicitly (issue #10, defect 4) ---------------------------------------------
# Schemathesis draws from the bounds the document declares; these are the payloads that found 5xx
# before every input had bounds: deeply nested or broken JSON on every operation with a JSON body,
# and every integer parameter one past its bounds and far past SQL's BIGINT. Each is tried as every
# role and must give a 4xx in the error body shape, writing nothing.
DEEP_BODIES = {"deep-array": b"[" * 990, "deep-object": b'{"a":' * 990 + b"1" + b"}" * 990,
               "broken": b'{"a": [', "lone-surrogate": b'{"a": "\\ud800"}'}
BIGINT_PAST = 2**63
# Operations that read the raw request body themselves (a bundle): not documented as a JSON body.
RAW_BODY_OPERATIONS = {("POST", "/v1/transfer-imports"), ("POST", "/v1/transfer-imports/rejection"),
                       ("POST", "/v1/federation/transfer-imports")}


def _integer_edges(schema: dict[str, Any]) -> list[int]:
    schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer"), {})
    if not schema:
        return []
    edges = [BIGINT_PAST, 10**20, -(10**20)]
    if "maximum" in schema:
        edges.append(int(schema["maximum"]) + 1)
    if "minimum" in schema:
        edges.append(int(schema["minimum"]) - 1)
    return edges


def _edge_cases() -> list[tuple[str, str, str, Any]]:
    """(method, path, what, payload): a body, or (parameter location, name, value)."""
    cases: list[tuple[str, str, str, Any]] = []
    for method, path in _operations():
        operation = OPENAPI["paths"][path][method.lower()]
        documented = operation.get("requestBody", {}).get("content", {})
        if "application/json" in documented or (method, path) in RAW_BODY_OPERATIONS:
            cases += [(method, path, name, body) for name, body in DEEP_BODIES.items()]
        for parameter in operation.get("parameters", []):
            if parameter["in"] in ("query", "path"):
                cases += [(method, path, f"{parameter['name']}={value}", (parameter["in"], parameter["name"], value))
                          for value in _integer_edges(parameter.get("schema", {}))]
    return cases


@pytest.fixture(scope="module")
def edge_world() -> Iterator[tuple[Ledger, Any, World]]:
    from fastapi.testclient import TestClient

    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ledger, client, build_world(app)
    ledger.close()


def test_the_edges_were_found() -> None:
    cases = _edge_cases()
    assert any(what == "deep-array" and path == "/v1/units" for _, path, what, _ in cases)
    assert any(what == f"position={BIGINT_PAST}" for _, path, what, _ in cases)
    assert any(what == "deep-object" and path == "/v1/federation/transfer-imports" for _, path, what, _ in cases)


@pytest.mark.parametrize(("method", "path", "what", "payload"), _edge_cases(),
                         ids=[f"{m} {p} {w}" for m, p, w, _ in _edge_cases()])
def test_edge_inputs_give_4xx_and_change_nothing(method: str, path: str, what: str, payload: Any,
                                                 edge_world: tuple[Ledger, Any, World]) -> None:
    ledger, client, world = edge_world
    values = dict(_real_ids(world))
    query: dict[str, Any] = {}
    content: bytes | None = None
    if isinstance(payload, bytes):
        content = payload
    else:
        where, name, value = payload
        if where == "path":
            values[name] = str(value)
        else:
            query[name] = value
    url = path.format(**{name: values[name] for name in _path_names(path)})
    for role in ROLES:
        headers = {**world.headers(world.actor(role)), "Content-Type": "application/json"}
        before = ledger.recorder.max_notification_id()
        response = client.request(method, url, params=query, content=content, headers=headers)
        assert 400 <= response.status_code < 500, (role, response.status_code, response.text[:300])
        body = response.json()
        assert set(body) - {"rejection"} == {"code", "detail", "message"} and body["code"], body  # federation: + rejection
        assert ledger.recorder.max_notification_id() == before, "a refused request wrote events"


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
