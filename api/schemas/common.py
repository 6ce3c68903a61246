"""Schemas shared by every router."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

PAGE_SIZE_MAX = 200  # rows per page of any list: bounds memory and response size
PAGE_SIZE_DEFAULT = 50
JSON_OBJECT_DEPTH_MAX = 4  # a free-form object in a request (a signed receipt) is flat; 4 leaves room
JSON_OBJECT_PROPERTIES_MAX = 64
JSON_OBJECT_TEXT_CHARS_MAX = 4096  # any one string inside it

EXAMPLE_MEMBER_ID = "6f1c9a52-3d4b-4e0a-9b1f-0c2d3e4f5a6b"
EXAMPLE_COMMUNITY_ID = "2b7e1516-28ae-4d2a-abf7-158809cf4f3c"
EXAMPLE_ITEM_ID = "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b"


def _bounded_json(value: Any, depth: int = 1) -> Any:
    """Refuse a free-form JSON value nested deeper than JSON_OBJECT_DEPTH_MAX or holding long strings,
    so nothing downstream (canonical encoding, signing) recurses without bound."""
    if isinstance(value, str):
        if len(value) > JSON_OBJECT_TEXT_CHARS_MAX:
            raise ValueError(f"文本过长 / a string is longer than {JSON_OBJECT_TEXT_CHARS_MAX} characters")
        return value
    if isinstance(value, (dict, list)):
        if depth > JSON_OBJECT_DEPTH_MAX:
            raise ValueError(f"嵌套过深 / nested deeper than {JSON_OBJECT_DEPTH_MAX}")
        if len(value) > JSON_OBJECT_PROPERTIES_MAX:
            raise ValueError(f"项目过多 / more than {JSON_OBJECT_PROPERTIES_MAX} entries")
        for item in (value.values() if isinstance(value, dict) else value):
            _bounded_json(item, depth + 1)
    return value


# A free-form JSON object from outside: depth, size and string lengths bounded (documented as maxProperties).
BoundedJsonObject = Annotated[dict[str, Any], Field(max_length=JSON_OBJECT_PROPERTIES_MAX),
                              AfterValidator(_bounded_json)]


class StrictIn(BaseModel):
    """Base of every request body: unknown fields are refused (a typo is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdOut(BaseModel):
    """新建对象的编号 / the id of what was created."""

    id: UUID = Field(description="编号 / id")


class DoneOut(BaseModel):
    """已记录 / recorded: the command's events are stored and signed."""

    ok: Literal[True] = True


class PreparedOut(BaseModel):
    """待签名的声明 / statements to sign (Timeledger-Prepare: true). Nothing was stored.

    Sign each statement (base64-decode it first) with the private key `key_id`, then send the same
    request again with Timeledger-Key-Id, Timeledger-Signed-At = `signed_at` and
    Timeledger-Signatures = the base64 signatures joined by commas, in this order."""

    key_id: str = Field(description="签名密钥 / the key that must sign")
    signed_at: datetime = Field(description="声明中的时间 / the time inside the statements; send it back")
    statements: list[str] = Field(description="待签名字节（base64）/ exact bytes to sign, base64")


class PageOut(BaseModel):
    """分页信息 / page information: pass `next_offset` as `offset` for the next page."""

    total: int | None = Field(None, description="总数（若已知）/ total rows, when known")
    offset: int
    limit: int
    next_offset: int | None = Field(None, description="下一页偏移，无则为空 / offset of the next page, or null")


class WarningOut(BaseModel):
    """提示：相互矛盾但不阻止操作的数据 / a warning: a contradiction that does not block the command."""

    code: str = Field(examples=["slip_issued_after_deadline"], description="稳定代码 / stable code")
    message: str = Field(description="中文说明 / the Chinese text, as the forms print it")
    message_en: str = Field(description="English text")


class IdWarningsOut(IdOut):
    warnings: list[WarningOut] = Field(default_factory=list, description="提示（不阻止）/ warnings (not refusals)")


class DoneWarningsOut(DoneOut):
    warnings: list[WarningOut] = Field(default_factory=list, description="提示（不阻止）/ warnings (not refusals)")


def with_warnings(response: Any, warnings: Sequence[Any]) -> Any:
    """The command's answer with `warnings` (`ledger.domain.warnings.DataWarning`s) added; computed
    after the command, from what it stored, so a replayed answer carries them too. A 202 (statements to
    sign) is returned unchanged."""
    from fastapi.responses import JSONResponse

    if response.status_code >= 300 or response.status_code == 202:
        return response
    body = json.loads(bytes(response.body))
    body["warnings"] = [WarningOut(code=w.code, message=w.message, message_en=w.message_en).model_dump()
                        for w in warnings]
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return JSONResponse(body, status_code=response.status_code, headers=headers)
