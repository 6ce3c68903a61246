"""纸质记录导入 The community office imports its paper backlog on the web: record cards (附件5),
registration forms (附件2 登记表) and claimed posts, one kind at a time (`?kind=sessions|members|posts`);
and the unit imports its paper roster (党员入册, /unit/import, `kind=enrolments`). One desk per office
(`Desk`: its role, its pages' path, the kinds it imports), the same pages and machinery for both.

The same import as `timeledger import sessions|members|posts|enrolments` (ledger/commands/paper.py,
paper_forms.py and paper_roster.py), in two steps:

1. **Upload and preview**: the file is read and every row is checked by the ledger's own command in a
   batch that is thrown away; the page shows the problems (row, column, what is wrong, in Chinese) and
   the first rows as they will be recorded. Nothing is written.
2. **Confirm**: the office writes the file (or, with problems, only its good rows). The upload is kept
   in this process for `PENDING_SECONDS` under the office's id and the file's SHA-256, so the confirmed
   file is exactly the previewed one; if it is gone (a restart, another server process), the page
   asks for the file again. The write runs in the group-commit writer on its own, like any command.

The template (`/community/import/template.xlsx` or `.csv`, `?kind=`) lists the members with their codes:
for record cards and posts the office's registered members, for 登记表 the members whose 报到单 names
this office and who have not registered yet (codes only: their names show once they registered here).
The unit's roster template (`/unit/import/template.xlsx`) has the headers only; after the unit confirms,
the page lists each new member with the code (党员编号) the 报到单 carries.
The preview of a 登记表 shows no personal field (those are sealed when written). Uploads are bounded (`WEB_ROWS_MAX` rows,
`paper.IMPORT_BYTES_MAX` bytes); a larger backlog goes through the CLI, which has no such bound.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.errors import REFUSALS
from api.policy import authorize
from api.routers import reports as api_reports
from api.web import core, i18n
from ledger.commands import paper
from ledger.commands.paper_roster import roster_member_id
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
    """Previewed uploads awaiting confirmation, by (office, kind, SHA-256): bounded in number and age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[UUID, str, str], _Pending] = {}

    def keep(self, owner: UUID, kind: str, digest: str, data: bytes, filename: str) -> None:
        with self._lock:
            self._expire()
            self._items[(owner, kind, digest)] = _Pending(data, filename, time.monotonic())
            while len(self._items) > PENDING_MAX:
                del self._items[min(self._items, key=lambda key: self._items[key].kept_at)]

    def take(self, owner: UUID, kind: str, digest: str) -> _Pending | None:
        with self._lock:
            self._expire()
            return self._items.pop((owner, kind, digest), None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [key for key, item in self._items.items() if now - item.kept_at > PENDING_SECONDS]:
            del self._items[key]


PENDING = _PendingUploads()


@dataclass(frozen=True)
class Desk:
    """Where an office imports its paper: its role, its pages' path, what it calls the page, the kind first
    shown, and the tabs of its pages."""

    role: Role
    base: str
    title: str
    default: str
    tabs: Callable[[], Any] = lambda: None


def _community_tabs() -> Any:
    from api.web.pages.community import TABS

    return TABS


COMMUNITY = Desk(Role.COMMUNITY, "/community/import", "导入纸质记录", "sessions", _community_tabs)
UNIT = Desk(Role.UNIT, "/unit/import", "导入党员名册", "enrolments")

# what each kind writes, by the policy's action (api/policy.py): the ledger checks its own rules again
ACTIONS = {"sessions": "session.import", "members": "member.import", "posts": "post.import",
           "enrolments": "member.enrol_import"}
NOTES = {
    "sessions": "把纸质《在职党员社区服务（活动）记录卡》（附件5）逐行填入导入模板后上传：先预览核对，确认后每行记为本社区认证的服务记录，"
                "由本社区签名，并标明“纸质记录导入”。同一文件重复导入不会重复记账。",
    "members": "把党员报到时交来的《在职党员基本情况登记表》（附件2）每张一行填入导入模板后上传：先预览核对，确认后每行记为本社区签名的"
               "报到登记（含认领岗位），个人信息加密保存。党员须已由所在单位入册。同一文件重复导入不会重复登记。",
    "posts": "把党员认领岗位的纸质名单填入导入模板后上传：先预览核对，确认后每行记为本社区签名的认领岗位。党员须已在本社区报到登记。"
             "已认领的岗位再次导入不会重复。",
    "enrolments": "把本单位在职党员名册每人一行填入导入模板后上传：先预览核对，确认后每行记为本单位签名的党员入册，并列出每名新入册党员的"
                  "党员编号，用于开具报到单。名册序号每人一个、不再改变：同一文件重复导入不会重复入册。",
}
PREFILLED = {"sessions": "模板中已列出本社区报到党员的编号和姓名。", "posts": "模板中已列出本社区报到党员的编号和姓名。",
             "members": "模板中已列出报到单派往本社区、尚未报到登记的党员编号。",
             "enrolments": "名册序号填本单位名册上的序号或单位内编号，请勿填写身份证号、手机号。"}
PREVIEW_COLUMNS = {"sessions": ("党员", "服务日期", "起止时间", "服务（活动）内容", "服务地点", "时长（时:分）", "评价"),
                   "members": ("党员", "认领岗位", "报到日期", "是否愿意参加社区其他服务"),
                   "posts": ("党员", "认领岗位"),
                   "enrolments": ("名册序号", "姓名", "党员身份", "职务", "入册")}


def _kinds(desk: Desk) -> dict[str, paper.Kind]:
    return {name: kind for name, kind in paper.kinds().items() if kind.role is desk.role}


def _kind(desk: Desk, value: Any) -> paper.Kind:
    kinds = _kinds(desk)
    return kinds.get(str(value or ""), kinds[desk.default])


def _allowed(request: Request, desk: Desk, kind: paper.Kind) -> Any:
    principal = core.require_principal(request, desk.role)
    authorize(core.ledger_of(request), principal.actor, ACTIONS[kind.name], None)
    return principal


def _page(request: Request, desk: Desk, principal: Any, kind: paper.Kind, context: dict[str, Any],
          status_code: int = 200) -> Response:
    kinds = [(each.name, each.title) for each in _kinds(desk).values()]
    return core.page(request, "import.html",
                     {"tabs": desk.tabs(), "base": desk.base, "rows_max": WEB_ROWS_MAX, "headers": kind.headers,
                      "check": None, "kind": kind.name, "kinds": kinds, "note": NOTES[kind.name],
                      "prefilled": PREFILLED[kind.name], "preview_columns": PREVIEW_COLUMNS[kind.name],
                      "heading": desk.title, **context},
                     principal=principal, title=desk.title, status_code=status_code)


def _show(request: Request, desk: Desk, kind: str) -> Response:
    chosen = _kind(desk, kind)
    return _page(request, desk, _allowed(request, desk, chosen), chosen, {})


def _template_members(request: Request, principal: Any, kind: paper.Kind) -> list[tuple[UUID, str]]:
    """Who the template lists: the registered members, or (for 登记表) the codes of the members the units
    sent here who have not registered yet; nobody on a unit's roster template (the roster is the unit's)."""
    if kind.name == "enrolments":
        return []
    if kind.name == "members":
        from api.web.pages.community import _slips

        pending = {str(slip["member_id"]) for slip in _slips(request, principal) if not slip["registered"]}
        return [(UUID(code), "") for code in sorted(pending)][:MEMBERS_MAX]
    rows = api_reports.list_members(actor=principal.actor, ledger=core.ledger_of(request),
                                    services=core.services(request), year=None, unit_id=None,
                                    community_id=principal.actor.actor_id, offset=0, limit=MEMBERS_MAX)
    return [(UUID(str(row.member_id)), row.name) for row in rows.items]


def _template(request: Request, desk: Desk, kind: str, suffix: str) -> Response:
    chosen = _kind(desk, kind)
    principal = _allowed(request, desk, chosen)
    data = paper.template_bytes(suffix, _template_members(request, principal, chosen), chosen)
    media = "text/csv; charset=utf-8" if suffix == ".csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''import-{chosen.name}{suffix}",
                             "Cache-Control": "no-store"})


def _preview_cells(ledger: Any, actor: Any, kind: paper.Kind, item: Any, gettext: Any) -> list[str]:
    """What the preview shows of a row: never a personal field."""
    if kind.name == "enrolments":
        return [item.number, item.name, gettext(item.party_status.value + "党员"), item.job_title or "—",
                gettext("已在名册，不重复入册") if _enrolled(ledger, roster_member_id(actor.actor_id, item.number))
                else gettext("新入册")]
    try:
        member = ledger.get_member(item.member_id).name
    except REFUSALS:
        member = "—"
    if kind.name == "sessions":
        return [member, item.service_date.isoformat(), f"{item.start_time}–{item.end_time}", item.content, item.place,
                duration_text(item.minutes), item.rating.value]
    if kind.name == "members":
        return [member, "、".join(item.posts), (item.reported_on or ledger.today()).isoformat(),
                gettext("是") if item.willing_other_service else gettext("否")]
    return [member, "、".join(item.posts)]


def _enrolled(ledger: Any, member_id: UUID) -> bool:
    try:
        ledger.get_member(member_id)
    except REFUSALS:
        return False
    return True


def _preview(request: Request, principal: Any, kind: paper.Kind, data: bytes, filename: str) -> dict[str, Any]:
    """Check every row (nothing is written) and the first rows as they will be recorded."""
    ledger = core.ledger_of(request)
    gettext = core.translator(core.lang_of(request))
    outcome = paper.import_file(kind, ledger, principal.actor, data, filename, dry_run=True)
    rows: list[dict[str, Any]] = []
    try:
        items, _ = kind.parse(paper.read_table(data, filename))
    except InvalidInput:
        items = []
    bad = {problem.row for problem in outcome.problems}
    for item, _name in items[:PREVIEW_ROWS]:
        rows.append({"row": item.row, "cells": _preview_cells(ledger, principal.actor, kind, item, gettext),
                     "ok": item.row not in bad})
    return {"filename": filename, "sha256": outcome.file_sha256, "rows": outcome.rows, "problems": outcome.problems,
            "bad_rows": len(bad), "good_rows": max(0, outcome.rows - len(bad)), "preview": rows,
            "more": max(0, len(items) - PREVIEW_ROWS)}


async def _upload(request: Request, desk: Desk) -> Response:
    principal = core.require_principal(request, desk.role)
    gettext = core.translator(core.lang_of(request))
    if int(request.headers.get("content-length") or 0) > paper.IMPORT_BYTES_MAX:
        kind = _kind(desk, request.query_params.get("kind"))
        return _page(request, desk, _allowed(request, desk, kind), kind,
                     {"error": gettext("文件过大，请分批导入或使用命令行导入。")}, 413)
    form = await request.form(max_part_size=paper.IMPORT_BYTES_MAX)
    kind = _kind(desk, form.get("kind"))
    principal = _allowed(request, desk, kind)
    sent = form.get(core.CSRF_FIELD)
    core.check_csrf(request, sent if isinstance(sent, str) else None)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _page(request, desk, principal, kind,
                     {"error": gettext("请选择按模板填写的 Excel（.xlsx）或 CSV 文件。")}, 422)
    data = await upload.read(paper.IMPORT_BYTES_MAX + 1)
    filename = (getattr(upload, "filename", "") or "")[:200]
    if not data or len(data) > paper.IMPORT_BYTES_MAX:
        return _page(request, desk, principal, kind, {"error": gettext("文件为空或过大。")}, 422)
    check = await core.in_thread(_preview, request, principal, kind, data, filename)
    if check["rows"] > WEB_ROWS_MAX:
        return _page(request, desk, principal, kind, {"error": gettext(
            "文件超过 {rows} 行：请分成几个文件，或用命令行 timeledger import 导入。").format(rows=WEB_ROWS_MAX)}, 422)
    if check["good_rows"]:
        PENDING.keep(principal.actor.actor_id, kind.name, check["sha256"], data, filename)
    return _page(request, desk, principal, kind, {"check": check})


async def _confirm(request: Request, desk: Desk) -> Response:
    principal = core.require_principal(request, desk.role)
    form = await core.read_form(request)
    kind = _kind(desk, form.get("kind"))
    principal = _allowed(request, desk, kind)
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    digest = str(form.get("sha256") or "")[:64]
    partial = form.get("partial") == "1"
    pending = PENDING.take(principal.actor.actor_id, kind.name, digest)
    if pending is None:
        return _page(request, desk, principal, kind,
                     {"error": gettext("预览已过期或服务已重启：请重新选择文件并预览。")}, 409)
    ledger = core.ledger_of(request)

    def write() -> paper.Outcome:
        return paper.import_file(kind, ledger, principal.actor, pending.data, pending.filename, partial=partial)

    try:
        outcome = await core.in_thread(core.services(request).writer.submit, write, alone=True)
    except REFUSALS as error:
        return _page(request, desk, principal, kind, {"error": i18n.error_text(error, lang)}, 409)
    if outcome.problems and not partial:  # the store changed since the preview: show the new check
        PENDING.keep(principal.actor.actor_id, kind.name, digest, pending.data, pending.filename)
        check = await core.in_thread(_preview, request, principal, kind, pending.data, pending.filename)
        return _page(request, desk, principal, kind, {"check": check, "error": gettext(
            "数据已变化，本次未写入任何记录，请核对后重试。")}, 409)
    text = gettext("已导入：新写入 {written} 行，此前已导入 {already} 行，未导入 {bad} 行。").format(
        written=outcome.written, already=outcome.already, bad=len({problem.row for problem in outcome.problems}))
    if kind.name == "enrolments":  # what the unit hands on next: each new member's code, for the 报到单
        enrolled = [{"row": entry.row, "number": entry.number, "name": entry.name,
                     "code": str(roster_member_id(principal.actor.actor_id, entry.number))} for entry in outcome.new]
        return _page(request, desk, principal, kind, {"enrolled": enrolled, "flash": {"kind": "ok", "text": text}})
    return core.redirect(f"{desk.base}?kind={kind.name}", kind="ok", text=text)


def _serve(desk: Desk) -> None:
    """A desk's routes: its page (`?kind=`), the template as .xlsx (members filled in where the kind has
    them) or .csv (UTF-8 with BOM, as Excel opens it), the upload (preview) and the confirmation."""
    name = desk.role.value

    def page(request: Request, kind: str = desk.default) -> Response:
        return _show(request, desk, kind)

    def template_xlsx(request: Request, kind: str = desk.default) -> Response:
        return _template(request, desk, kind, ".xlsx")

    def template_csv(request: Request, kind: str = desk.default) -> Response:
        return _template(request, desk, kind, ".csv")

    async def upload(request: Request) -> Response:
        return await _upload(request, desk)

    async def confirm(request: Request) -> Response:
        return await _confirm(request, desk)

    router.add_api_route(desk.base, page, methods=["GET"], name=f"{name}_import_page")
    router.add_api_route(f"{desk.base}/template.xlsx", template_xlsx, methods=["GET"], name=f"{name}_import_xlsx")
    router.add_api_route(f"{desk.base}/template.csv", template_csv, methods=["GET"], name=f"{name}_import_csv")
    router.add_api_route(desk.base, upload, methods=["POST"], name=f"{name}_import_upload")
    router.add_api_route(f"{desk.base}/confirm", confirm, methods=["POST"], name=f"{name}_import_confirm")


for _desk in (COMMUNITY, UNIT):
    _serve(_desk)
