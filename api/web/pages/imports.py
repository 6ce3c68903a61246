"""纸质记录导入 The community office imports its paper backlog (附件5 record cards) on the web.

The same import as `timeledger import sessions` (ledger/commands/paper.py), in two steps:

1. **Upload and preview**: the file is read and every row is checked by the ledger's own command in a
   batch that is thrown away; the page shows the problems (row, column, what is wrong, in Chinese) and
   the first rows as they will be recorded. Nothing is written.
2. **Confirm**: the office writes the file (or, with problems, only its good rows). The upload is kept
   in this process for `PENDING_SECONDS` under the office's id and the file's SHA-256, so the confirmed
   file is exactly the previewed one; if it is gone (a restart, another server process), the page
   asks for the file again. The write runs in the group-commit writer on its own, like any command.

The template (`/community/import/template.xlsx`) lists the office's registered members with their
codes, so the office only adds the card lines. Uploads are bounded (`WEB_ROWS_MAX` rows,
`paper.IMPORT_BYTES_MAX` bytes); a larger backlog goes through the CLI, which has no such bound.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.errors import REFUSALS
from api.policy import authorize
from api.routers import reports as api_reports
from api.web import core, i18n
from ledger.commands import paper
from ledger.domain.display import duration_text
from ledger.domain.errors import InvalidInput
from ledger.domain.values import Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
WEB_ROWS_MAX = 2000  # a few seconds of the writer; the CLI takes larger files
PREVIEW_ROWS = 20
PENDING_SECONDS = 30 * 60
PENDING_MAX = 32  # uploads kept at once in this process (the oldest go first)
MEMBERS_MAX = 2000


@dataclass(frozen=True)
class _Pending:
    data: bytes
    filename: str
    kept_at: float


class _PendingUploads:
    """Previewed uploads awaiting confirmation, by (office, SHA-256): bounded in number and age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[UUID, str], _Pending] = {}

    def keep(self, owner: UUID, digest: str, data: bytes, filename: str) -> None:
        with self._lock:
            self._expire()
            self._items[(owner, digest)] = _Pending(data, filename, time.monotonic())
            while len(self._items) > PENDING_MAX:
                del self._items[min(self._items, key=lambda key: self._items[key].kept_at)]

    def take(self, owner: UUID, digest: str) -> _Pending | None:
        with self._lock:
            self._expire()
            return self._items.pop((owner, digest), None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [key for key, item in self._items.items() if now - item.kept_at > PENDING_SECONDS]:
            del self._items[key]


PENDING = _PendingUploads()


def _allowed(request: Request) -> Any:
    principal = core.require_principal(request, Role.COMMUNITY)
    authorize(core.ledger_of(request), principal.actor, "session.import", None)
    return principal


def _page(request: Request, principal: Any, context: dict[str, Any], status_code: int = 200) -> Response:
    from api.web.pages.community import TABS

    return core.page(request, "community/import.html",
                     {"tabs": TABS, "rows_max": WEB_ROWS_MAX, "headers": paper.HEADERS, "check": None, **context},
                     principal=principal, title="导入纸质记录", status_code=status_code)


@router.get("/community/import")
def import_page(request: Request) -> Response:
    return _page(request, _allowed(request), {})


@router.get("/community/import/template.xlsx")
def import_template(request: Request) -> Response:
    """The template with the office's registered members (code and name) filled in."""
    principal = _allowed(request)
    rows = api_reports.list_members(actor=principal.actor, ledger=core.ledger_of(request),
                                    services=core.services(request), year=None, unit_id=None,
                                    community_id=principal.actor.actor_id, offset=0, limit=MEMBERS_MAX)
    data = paper.template_bytes(".xlsx", [(UUID(str(row.member_id)), row.name) for row in rows.items])
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename*=UTF-8''import-template.xlsx",
                             "Cache-Control": "no-store"})


def _preview(request: Request, principal: Any, data: bytes, filename: str) -> dict[str, Any]:
    """Check every row (nothing is written) and the first rows as they will be recorded."""
    ledger = core.ledger_of(request)
    outcome = paper.import_sessions(ledger, principal.actor, data, filename, dry_run=True)
    rows: list[dict[str, Any]] = []
    try:
        cards, _ = paper.parse_rows(paper.read_table(data, filename))
    except InvalidInput:
        cards = []
    bad = {problem.row for problem in outcome.problems}
    for card, _name in cards[:PREVIEW_ROWS]:
        try:
            member = ledger.get_member(card.member_id).name
        except REFUSALS:
            member = "—"
        rows.append({"row": card.row, "member": member, "date": card.service_date.isoformat(),
                     "time": f"{card.start_time}–{card.end_time}", "content": card.content, "place": card.place,
                     "minutes": duration_text(card.minutes), "rating": card.rating.value, "ok": card.row not in bad})
    return {"filename": filename, "sha256": outcome.file_sha256, "rows": outcome.rows, "problems": outcome.problems,
            "bad_rows": len(bad), "good_rows": max(0, outcome.rows - len(bad)), "preview": rows,
            "more": max(0, len(cards) - PREVIEW_ROWS)}


@router.post("/community/import")
async def import_upload(request: Request) -> Response:
    principal = _allowed(request)
    gettext = core.translator(core.lang_of(request))
    if int(request.headers.get("content-length") or 0) > paper.IMPORT_BYTES_MAX:
        return _page(request, principal, {"error": gettext("文件过大，请分批导入或使用命令行导入。")}, 413)
    form = await request.form(max_part_size=paper.IMPORT_BYTES_MAX)
    sent = form.get(core.CSRF_FIELD)
    core.check_csrf(request, sent if isinstance(sent, str) else None)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _page(request, principal, {"error": gettext("请选择按模板填写的 Excel（.xlsx）或 CSV 文件。")}, 422)
    data = await upload.read(paper.IMPORT_BYTES_MAX + 1)
    filename = (getattr(upload, "filename", "") or "")[:200]
    if not data or len(data) > paper.IMPORT_BYTES_MAX:
        return _page(request, principal, {"error": gettext("文件为空或过大。")}, 422)
    check = await core.in_thread(_preview, request, principal, data, filename)
    if check["rows"] > WEB_ROWS_MAX:
        return _page(request, principal, {"error": gettext("文件超过 {rows} 行：请分成几个文件，或用命令行 timeledger import 导入。")
                                          .format(rows=WEB_ROWS_MAX)}, 422)
    if check["good_rows"]:
        PENDING.keep(principal.actor.actor_id, check["sha256"], data, filename)
    return _page(request, principal, {"check": check})


@router.post("/community/import/confirm")
async def import_confirm(request: Request) -> Response:
    principal = _allowed(request)
    form = await core.read_form(request)
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    digest = str(form.get("sha256") or "")[:64]
    partial = form.get("partial") == "1"
    pending = PENDING.take(principal.actor.actor_id, digest)
    if pending is None:
        return _page(request, principal, {"error": gettext("预览已过期或服务已重启：请重新选择文件并预览。")}, 409)
    ledger = core.ledger_of(request)

    def write() -> paper.Outcome:
        return paper.import_sessions(ledger, principal.actor, pending.data, pending.filename, partial=partial)

    try:
        outcome = await core.in_thread(core.services(request).writer.submit, write, alone=True)
    except REFUSALS as error:
        return _page(request, principal, {"error": i18n.error_text(error, lang)}, 409)
    if outcome.problems and not partial:  # the store changed since the preview: show the new check
        PENDING.keep(principal.actor.actor_id, digest, pending.data, pending.filename)
        check = await core.in_thread(_preview, request, principal, pending.data, pending.filename)
        return _page(request, principal, {"check": check, "error": gettext("数据已变化，本次未写入任何记录，请核对后重试。")},
                     409)
    text = gettext("已导入：新写入 {written} 行，此前已导入 {already} 行，未导入 {bad} 行。").format(
        written=outcome.written, already=outcome.already, bad=len({problem.row for problem in outcome.problems}))
    return core.redirect("/community/import", kind="ok", text=text)
