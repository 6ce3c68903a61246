"""补录: the paper backlog of a community office, imported from a spreadsheet (`timeledger import`).

A community office holds years of paper record cards (附件5 在职党员社区服务（活动）记录卡). It copies
their lines into the template (`timeledger import template sessions --out 模板.xlsx`: the card's
columns in the notice's order, Chinese headers, with the member code that names the member) and
imports the file (`timeledger import sessions FILE --community ID`). Every line becomes a session
recorded, rated and certified by the office (`Ledger.import_paper_session`: its key signs them),
marked as imported (补录) with the file's SHA-256 and row.

* **Validation first, in Chinese**: every row is read (row, column, what is wrong) and then run
  through the ledger's own command for it in one batch (so the report and the import cannot
  disagree), which is saved only if every row passes.
* **All or nothing** by default: one bad row and nothing is written; a good file is written in one
  transaction. `--partial` writes the good rows and reports the others. `--dry-run` only reports.
* **Idempotent**: a line's session id comes from its content, so importing the same file (or a file
  sharing lines with an earlier one) again changes nothing; those lines are counted as already there.

The other kinds (`Kind`) go through the same machinery: 登记表 and claimed posts (paper_forms.py) and a
unit's roster (paper_roster.py: `timeledger import enrolments FILE --unit ID`, signed by the unit).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer

from ledger.application import Actor, Ledger, PaperSession
from ledger.domain.display import minutes_from_text
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.limits import NAME_CHARS_MAX, PLACE_CHARS_MAX, TEXT_CHARS_MAX
from ledger.domain.values import Rating, Role

IMPORT_BYTES_MAX = 20 * 1024 * 1024  # a 10,000-row workbook is ~0.5 MB
IMPORT_ROWS_MAX = 50_000
CHUNK_ROWS = 250  # rows saved per transaction (each row: a session, its rating and certification, a credit)
IMPORTED_BY = {Role.COMMUNITY: "补录由社区党组织办理 / only a community imports its paper records",
               Role.UNIT: "党员入册由单位党组织办理 / only a unit imports its roster"}

# The columns of the template, in the notice's order (附件5), each with what it holds.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("党员编号", "member code (the member's id, as on 我的 / the QR code)"),
    ("在职党员姓名", "name: checked against the member code"),
    ("年月日", "service date, e.g. 2025-03-08"),
    ("开始时间", "start, HH:MM"),
    ("结束时间", "end, HH:MM"),
    ("服务（活动）内容", "content"),
    ("服务地点", "place"),
    ("服务时长（分钟）", "minutes (or h:mm)"),
    ("评价（优/良/一般）", "rating"),
    ("认证签字", "who signed the card"),
)
HEADERS = tuple(name for name, _ in COLUMNS)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_TIME = re.compile(r"(\d{1,2})[:：](\d{2})")


@dataclass(frozen=True)
class Problem:
    row: int  # the spreadsheet's row number (1 = the header)
    column: str  # a header, or "" for the whole row
    message: str  # Chinese, for the office

    def __str__(self) -> str:
        return f"第 {self.row} 行" + (f"「{self.column}」" if self.column else "") + f"：{self.message}"


@dataclass
class Outcome:
    rows: int = 0
    written: int = 0
    already: int = 0
    problems: list[Problem] = field(default_factory=list)
    file_sha256: str = ""
    new: list[Any] = field(default_factory=list)  # the rows newly written (what the office hands on next)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_table(data: bytes, filename: str) -> list[list[Any]]:
    """The rows of a CSV (UTF-8, with or without BOM; GB18030 as exported by older Excel) or an .xlsx
    workbook's first sheet. Raises InvalidInput with a Chinese message for anything else."""
    if len(data) > IMPORT_BYTES_MAX:
        raise InvalidInput(f"文件过大（上限 {IMPORT_BYTES_MAX // (1024 * 1024)} MB）/ the file is too large")
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    if data[:5] == b"%PDF-":
        raise InvalidInput("这是 PDF 文件，请上传按模板填写的 Excel（.xlsx）或 CSV 文件 / a PDF is not an import file")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput("文件不是 UTF-8 或 GB18030 编码的 CSV / the file is not a CSV")
    if "\x00" in text:
        raise InvalidInput("文件不是 CSV 文本 / the file is not a CSV")
    return [row for row in csv.reader(io.StringIO(text))][: IMPORT_ROWS_MAX + 1]


def _read_xlsx(data: bytes) -> list[list[Any]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as error:
        raise InvalidInput("无法读取该 Excel 文件，请用模板另存为 .xlsx / the workbook cannot be read") from error
    try:
        sheet = workbook.worksheets[0]
        rows: list[list[Any]] = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > IMPORT_ROWS_MAX:
                break
        return rows
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = _DATE.fullmatch(_cell_text(value))
    if not found:
        raise ValueError("日期格式不对，应如 2025-03-08")
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise ValueError("日期格式不对：没有这一天") from None


def _clock(value: Any) -> str:
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, datetime):
        return f"{value.hour:02d}:{value.minute:02d}"
    found = _TIME.fullmatch(_cell_text(value))
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError("时间格式不对，应如 08:30")
    return f"{int(found[1]):02d}:{found[2]}"


def _minutes(value: Any) -> int:
    text = _cell_text(value)
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return minutes_from_text(text)
    except ValueError:
        raise ValueError("服务时长应为整数分钟（如 90）或 时:分（如 1:30）") from None


def _text(value: Any, chars_max: int, *, required: bool) -> str:
    text = _cell_text(value)
    if required and not text:
        raise ValueError("不能为空")
    if len(text) > chars_max:
        raise ValueError(f"超过 {chars_max} 个字")
    return text


def parse_rows(table: Sequence[Sequence[Any]]) -> tuple[list[tuple[PaperSession, str]], list[Problem]]:
    """The cards of a table whose first row is the template's header, each with the name the row gave;
    and every problem found (row, column, message)."""
    if not table:
        return [], [Problem(1, "", "文件是空的")]
    header = [_cell_text(value) for value in table[0]]
    missing = [name for name in HEADERS if name not in header]
    if missing:
        return [], [Problem(1, "", "表头与模板不符，缺少列：" + "、".join(missing) + "（请使用导入模板）")]
    where = {name: header.index(name) for name in HEADERS}
    cards: list[tuple[PaperSession, str]] = []
    problems: list[Problem] = []
    for number, values in enumerate(table[1:], start=2):
        cells = {name: (values[index] if index < len(values) else None) for name, index in where.items()}
        if all(_cell_text(value) == "" for value in cells.values()):
            continue  # an empty line
        parsed: dict[str, Any] = {}
        readers: dict[str, Callable[[Any], Any]] = {
            "党员编号": lambda v: UUID(_cell_text(v)),
            "在职党员姓名": lambda v: _text(v, NAME_CHARS_MAX, required=False),
            "年月日": _date,
            "开始时间": _clock,
            "结束时间": _clock,
            "服务（活动）内容": lambda v: _text(v, TEXT_CHARS_MAX, required=True),
            "服务地点": lambda v: _text(v, PLACE_CHARS_MAX, required=True),
            "服务时长（分钟）": _minutes,
            "评价（优/良/一般）": lambda v: Rating(_cell_text(v)),
            "认证签字": lambda v: _text(v, NAME_CHARS_MAX, required=False),
        }
        row_problems = []
        for name, reader in readers.items():
            try:
                parsed[name] = reader(cells[name])
            except ValueError as error:
                message = {"党员编号": "不是党员编号（应如 0b6e…-… 的 36 位编号）",
                           "评价（优/良/一般）": "评价只能是 优、良 或 一般"}.get(name, str(error))
                row_problems.append(Problem(number, name, message))
        if row_problems:
            problems += row_problems
            continue
        card = PaperSession(member_id=parsed["党员编号"], service_date=parsed["年月日"],
                            start_time=parsed["开始时间"], end_time=parsed["结束时间"],
                            content=parsed["服务（活动）内容"], place=parsed["服务地点"],
                            minutes=parsed["服务时长（分钟）"], rating=parsed["评价（优/良/一般）"],
                            signed_by=parsed["认证签字"], row=number)
        cards.append((card, parsed["在职党员姓名"]))
    return cards, problems


def _chinese(error: LedgerError) -> str:
    """The Chinese half of a refusal's bilingual detail ("中文 / English"), or a plain Chinese text."""
    halves = re.split(r"\s*/\s", error.detail, maxsplit=1)
    if len(halves) == 2 and any("\u4e00" <= c <= "\u9fff" for c in halves[0]):
        return halves[0]
    return {"not_permitted": "该党员未在本社区报到登记", "not_found": "本地区没有这个党员编号",
            "member_frozen": "该党员正在办理跨地区转移，暂不能补录",
            "member_not_registered": "该党员尚未到社区报到登记"}.get(error.code, "不符合记录规则：" + error.detail)


class RowProblem(Exception):
    """What a kind's writer finds wrong with one row before any command runs (a column and a message)."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Kind:
    """One kind of paper backlog: its template's columns (the notice's order, Chinese headers), how a
    table becomes rows, what identifies a row (a second row with the same identity in one file is a
    duplicate) and the ledger command that writes one row (True: written, False: it was there before)."""

    name: str  # sessions, members, posts: the CLI's word
    title: str  # 服务记录 …: what the office imports
    sheet: str  # the template's sheet
    columns: tuple[tuple[str, str], ...]
    widths: tuple[int, ...]
    notes: str  # the last line of the notes sheet
    parse: Callable[[Sequence[Sequence[Any]]], tuple[list[tuple[Any, str]], list[Problem]]]
    identity: Callable[[Actor, Any], tuple[object, str]]  # (key, message naming the earlier row by {row})
    write: Callable[[Ledger, Actor, Any, str], bool]
    fields: dict[str, str] = field(default_factory=dict)  # a refusal's input field -> its column
    role: Role = Role.COMMUNITY  # who imports it (and signs every row): a community office, or a unit

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


def _problem_of(kind: Kind, row: int, error: LedgerError) -> Problem:
    column = kind.fields.get(error.field or "", "")
    message = _chinese(error)
    if column and error.field and message.startswith(error.field):
        message = message[len(error.field):].strip()
    return Problem(row, column, message)


def _apply(kind: Kind, ledger: Ledger, actor: Actor, rows: Sequence[tuple[Any, str]], file_sha256: str,
           outcome: Outcome | None) -> list[Problem]:
    """Every row through the kind's ledger command, in this thread's batch; the problems it met."""
    problems: list[Problem] = []
    seen: dict[object, int] = {}
    for item, name in rows:
        key, duplicate = kind.identity(actor, item)
        if key in seen:
            problems.append(Problem(item.row, "", duplicate.format(row=seen[key])))
            continue
        seen[key] = item.row
        try:
            if name and ledger.get_member(item.member_id).name != name:
                problems.append(Problem(item.row, kind.headers[1], "姓名与党员编号不符"))
                continue
            written = kind.write(ledger, actor, item, file_sha256)
        except RowProblem as problem:
            problems.append(Problem(item.row, problem.column, problem.message))
            continue
        except LedgerError as error:  # a refused command changes nothing: the batch stays fit to save
            problems.append(_problem_of(kind, item.row, error))
            continue
        if outcome is not None:
            outcome.written += written
            outcome.already += not written
            if written:
                outcome.new.append(item)
    return problems


def import_file(kind: Kind, ledger: Ledger, actor: Actor, data: bytes, filename: str, *, dry_run: bool = False,
                partial: bool = False, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Read, validate and (unless `dry_run`, or a problem without `partial`) write a file of the kind as
    `actor` (the kind's role: a community, or a unit for its roster). Never raises for what is in the
    file: problems are reported."""
    outcome = Outcome(file_sha256=sha256_of(data))
    if actor.role is not kind.role:
        raise InvalidInput(IMPORTED_BY[kind.role])
    try:
        table = read_table(data, filename)
    except InvalidInput as error:
        outcome.problems.append(Problem(1, "", _chinese(error)))
        return outcome
    rows, outcome.problems = kind.parse(table)
    outcome.rows = len(rows) + len({problem.row for problem in outcome.problems if problem.row > 1})
    # The ledger's own rules over every row, in one batch: saved as one transaction when every row passes
    # (all or nothing, even across a crash), thrown away on a dry run or when a row is refused.
    checked = Outcome()
    try:
        with ledger.batch():
            outcome.problems += _apply(kind, ledger, actor, rows, outcome.file_sha256, checked)
            if dry_run or outcome.problems:
                raise _Discard
        outcome.written, outcome.already, outcome.new = checked.written, checked.already, checked.new
    except _Discard:
        pass
    outcome.problems.sort(key=lambda problem: (problem.row, problem.column))
    if dry_run or not outcome.problems or not partial:
        return outcome
    bad = {problem.row for problem in outcome.problems}
    good = [(item, name) for item, name in rows if item.row not in bad]
    for start in range(0, len(good), CHUNK_ROWS):  # --partial: the good rows, a chunk per transaction
        with ledger.batch():
            late = _apply(kind, ledger, actor, good[start:start + CHUNK_ROWS], outcome.file_sha256, outcome)
        outcome.problems += late  # the store changed since the check (another office's write)
        if progress is not None:
            progress(min(start + CHUNK_ROWS, len(good)), len(good))
    return outcome


def _write_session(ledger: Ledger, actor: Actor, card: PaperSession, file_sha256: str) -> bool:
    return ledger.import_paper_session(actor=actor, card=card, file_sha256=file_sha256)


class _Discard(Exception):
    """Thrown out of a validation batch so that nothing in it is saved."""


SESSIONS = Kind(name="sessions", title="服务记录", sheet="服务记录补录", columns=COLUMNS,
                widths=(38, 12, 12, 10, 10, 40, 24, 16, 16, 12),
                notes="每行一次服务，按纸质记录卡（附件5）逐行填写；同一文件重复导入不会重复记账。",
                parse=parse_rows,
                identity=lambda actor, card: (card.session_id(actor.actor_id), "与第 {row} 行完全相同（重复的记录）"),
                write=_write_session)


def import_sessions(ledger: Ledger, actor: Actor, data: bytes, filename: str, *, dry_run: bool = False,
                    partial: bool = False, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Read, validate and (unless `dry_run`, or a problem without `partial`) write a file of paper
    cards as `actor` (a community). Never raises for what is in the file: problems are reported."""
    return import_file(SESSIONS, ledger, actor, data, filename, dry_run=dry_run, partial=partial, progress=progress)


def template_bytes(suffix: str, members: Sequence[tuple[UUID, str]] = (), kind: Kind | None = None) -> bytes:
    """The import template as a ".xlsx" or ".csv" file: the header row in the notice's order and, with
    `members`, one row per member with the code and name filled in (the office adds the rest)."""
    kind = kind or SESSIONS
    headers = kind.headers
    rows = [list(headers)] + [[str(member_id), name] + [""] * (len(headers) - 2) for member_id, name in members]
    if suffix.lower() == ".csv":
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        return text.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = kind.sheet
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, width in enumerate(kind.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "填写内容"])
    for name, meaning in kind.columns:
        notes.append([name, meaning])
    notes.append(["", kind.notes])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_template(path: Path, members: Sequence[tuple[UUID, str]] = (), kind: Kind | None = None) -> None:
    """The import template, as a file (.xlsx, or .csv by the file's suffix)."""
    path.write_bytes(template_bytes(path.suffix, members, kind))


# ---------------------------------------------------------------------------------------------
# `timeledger import`

app = typer.Typer(help="补录: import an office's paper records (附件5 cards, 附件2 forms, claimed posts) "
                       "from a spreadsheet.",
                  no_args_is_help=True, add_completion=False)


OFFICES = {Role.COMMUNITY: ("社区", "community"), Role.UNIT: ("单位", "unit")}


def _office(ledger: Ledger, actor_id: str, role: Role = Role.COMMUNITY) -> Actor:
    """The importing office (a community, or a unit for its roster) by its id: it signs every row."""
    from ledger.commands.store import fail

    chinese, english = OFFICES[role]
    try:
        actor = ledger.actor_for(UUID(actor_id))
    except (ValueError, LedgerError):
        fail(f"不是本地区的{chinese}编号 / not a {english} of this region: {actor_id}")
    if actor.role is not role:
        fail(f"不是{chinese}编号 / not a {english}: {actor_id}")
    return actor


def kinds() -> dict[str, Kind]:
    """Every kind of paper backlog, by its CLI word: sessions (附件5), members (附件2), posts (a community's)
    and enrolments (a unit's roster)."""
    from ledger.commands.paper_forms import MEMBERS, POSTS_KIND
    from ledger.commands.paper_roster import ENROLMENTS

    return {kind.name: kind for kind in (SESSIONS, MEMBERS, POSTS_KIND, ENROLMENTS)}


File = Annotated[Path, typer.Argument(help="The filled-in template (.xlsx or .csv)")]
Community = Annotated[str, typer.Option(help="The importing community's id (it signs every record)")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only check the file and report")]
Partial = Annotated[bool, typer.Option("--partial", help="Write the good rows even if some are wrong")]
Db = Annotated[str | None, typer.Option("--db", help="Database URL")]


def _import_command(kind: Kind, file: Path, office: str, dry_run: bool, partial: bool, db: str | None,
                    after: Callable[[Outcome], None] | None = None) -> None:
    """Read the file, import it as the office (the kind's role), print every problem (row, column,
    Chinese), the verdict and (`after`) what the office needs next; exit 1 if any row is wrong. Problems
    name rows and columns, never a cell's value."""
    from ledger.commands.store import console, fail, open_ledger, out

    try:
        data = file.read_bytes()
    except OSError as error:
        fail(f"无法读取文件 / cannot read {file}: {error.strerror}")
    ledger = open_ledger(db)
    try:
        actor = _office(ledger, office, kind.role)
        outcome = import_file(kind, ledger, actor, data, file.name, dry_run=dry_run, partial=partial,
                              progress=lambda done, total: console.print(f"已写入 {done}/{total} 行", end="\r"))
    finally:
        ledger.close()
    for problem in outcome.problems:
        out.print(str(problem), markup=False)
    verdict = ("仅检查，未写入" if dry_run else
               "有错误，未写入任何记录" if outcome.problems and not partial else "已导入")
    out.print(f"{verdict}：共 {outcome.rows} 行，新写入 {outcome.written} 行，此前已导入 {outcome.already} 行，"
              f"有问题 {len({problem.row for problem in outcome.problems})} 行（文件 SHA-256 {outcome.file_sha256[:16]}…）",
              markup=False)
    if after is not None and not dry_run:
        after(outcome)
    if outcome.problems:
        raise typer.Exit(1)


@app.command("sessions")
def import_sessions_command(file: File, community: Community, dry_run: DryRun = False, partial: Partial = False,
                            db: Db = None) -> None:
    """Import past sessions from paper record cards (附件5) as the community's own certified records."""
    _import_command(SESSIONS, file, community, dry_run, partial, db)


@app.command("members")
def import_members_command(file: File, community: Community, dry_run: DryRun = False, partial: Partial = False,
                           db: Db = None) -> None:
    """Import paper registration forms (附件2 登记表) as the community's 报到登记 of members its units
    enrolled: the form's fields (personal ones sealed), the posts claimed on it, the day reported."""
    _import_command(kinds()["members"], file, community, dry_run, partial, db)


@app.command("posts")
def import_posts_command(file: File, community: Community, dry_run: DryRun = False, partial: Partial = False,
                         db: Db = None) -> None:
    """Import the posts members claimed (认领岗位) as the community's claims for its registered members."""
    _import_command(kinds()["posts"], file, community, dry_run, partial, db)


@app.command("enrolments")
def import_enrolments_command(
        file: File, unit: Annotated[str, typer.Option(help="The importing unit's id (it signs every enrolment)")],
        dry_run: DryRun = False, partial: Partial = False,
        codes_out: Annotated[Path | None, typer.Option("--codes-out", help="Write the new members' codes to this CSV "
                                                                             "(名册序号, 姓名, 党员编号)")] = None,
        db: Db = None) -> None:
    """党员入册: import the unit's paper roster (名册序号, 姓名, 党员身份, 职务) as the unit's enrolments, and
    print each new member's code (党员编号) for the 报到单 (with `--partial`, those of the rows written)."""
    from ledger.commands.paper_roster import roster_member_id
    from ledger.commands.store import fail, out

    def codes(outcome: Outcome) -> None:
        if not outcome.new:
            return
        unit_id = UUID(unit)  # the unit `_import_command` signed as
        rows = [(entry.number, entry.name, str(roster_member_id(unit_id, entry.number))) for entry in outcome.new]
        out.print(f"新入册 {len(rows)} 人，党员编号如下（开具报到单时使用）：", markup=False)
        for number, name, code in rows:
            out.print(f"{number}\t{name}\t{code}", markup=False)
        if codes_out is not None:
            text = io.StringIO()
            inert = [[("'" + cell) if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell for cell in row]
                     for row in rows]  # opening the file in a spreadsheet runs no formula
            csv.writer(text).writerows([["名册序号", "姓名", "党员编号"], *inert])
            try:
                codes_out.write_bytes(text.getvalue().encode("utf-8-sig"))
            except OSError as error:
                fail(f"无法写入 / cannot write {codes_out}: {error.strerror}")
            out.print(f"党员编号已写入 {codes_out}", markup=False)

    _import_command(kinds()["enrolments"], file, unit, dry_run, partial, db, after=codes)


@app.command("template")
def import_template_command(
        kind: Annotated[str, typer.Argument(help="What the template is for: sessions, members, posts or enrolments")],
        out_file: Annotated[Path, typer.Option("--out", help="File to write (.xlsx or .csv)")]) -> None:
    """Write the import template: Chinese headers in the notice's column order, and a sheet of notes."""
    from ledger.commands.store import fail, out

    known = kinds()
    if kind not in known:
        fail("可导入的有 sessions（服务记录）、members（报到登记，附件2）、posts（认领岗位）和 enrolments（单位党员入册名册） / "
             "the kinds are sessions, members, posts and enrolments")
    write_template(out_file, kind=known[kind])
    out.print(f"模板已写入 {out_file}", markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="import")
