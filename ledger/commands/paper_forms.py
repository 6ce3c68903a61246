"""补录 of the 报到 backlog: paper 登记表 (附件2) and claimed posts, imported like the record cards.

A community office keeps the 在职党员基本情况登记表 (附件2) each member handed in when reporting, and
its list of who claimed which post (认领岗位). It copies them into the templates
(`timeledger import template members|posts --out 模板.xlsx`: the form's fields in the notice's order,
Chinese headers, with the member code the unit's 报到单 carries) and imports the file
(`timeledger import members|posts FILE --community ID`), with the guarantees of `ledger.commands.paper`:
a report by row and column in Chinese, nothing written if a row is wrong (unless `--partial`),
`--dry-run`, one transaction for a good file, and nothing changed by importing the same file again.

Each row goes through the ledger's own command, signed by the importing office: a 登记表 row is
`Ledger.register_member` (报到登记: at least one claimed post, the time account opened, personal fields
sealed with the member's data key before anything is signed; the form's 填表日期 is the day reported)
and a posts row is `Ledger.claim_post` per post. When the unit's 报到单 names the office, the
registration follows it and sends its 回执单 (the day reported as on the form). The member is enrolled by the unit first (党员入册:
the unit's act, not the community's); a row names the member by the code on the unit's 报到单.

Personal fields (民族, 健康状况, 出生年月, addresses, phones) are never echoed in a problem, a preview or
a log line: a problem names the row and the column only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.application import Actor, Ledger
from ledger.commands.paper import Kind, Problem, RowProblem, _cell_text, _date, _text
from ledger.domain.limits import NAME_CHARS_MAX, PROFILE_FIELD_CHARS_MAX
from ledger.domain.organisations import Community

CODE = "党员编号"
NAME = "姓名"
POSTS = "认领岗位"
COMMUNITY = "报到社区"
WILLING = "是否愿意参加社区其他服务"
FORM_DATE = "填表日期"

# 附件2 在职党员基本情况登记表, field by field in the form's order, with the code that names the member
# first and the two 附件4 columns the register adds (专业特长, 兴趣爱好) and the form's date last.
MEMBER_COLUMNS: tuple[tuple[str, str], ...] = (
    (CODE, "单位为党员入册后生成的编号（见报到单），36 位"),
    (NAME, "姓名：与党员编号核对"),
    ("性别", "男 / 女"),
    ("民族", "个人信息：加密保存"),
    ("健康状况", "个人信息（本人签名的登记表即本人同意）：加密保存"),
    ("学历", "如 本科"),
    ("出生年月", "如 1980-05；个人信息：加密保存"),
    ("入党时间", "如 2008-07"),
    ("工作单位及职务", "仅供核对，不导入（单位入册时已登记）"),
    ("单位地址", "个人信息：加密保存"),
    ("家庭住址", "个人信息：加密保存"),
    (COMMUNITY, "县（市、区）街道（乡镇）社区（村）：须为本社区，可留空"),
    (POSTS, "至少一个本社区的岗位名称，多个用 、 分隔"),
    ("能参加社区服务的时间", "如 周末"),
    (WILLING, "是 / 否（留空为否）"),
    ("工作单位联系电话", "个人信息：加密保存"),
    ("本人联系电话/手机", "个人信息：加密保存"),
    ("专业特长", "附件4 登记表的一列"),
    ("兴趣爱好", "附件4 登记表的一列"),
    (FORM_DATE, "登记表上的填表日期，即报到日期，如 2014-09-12；留空为今天"),
)
# column -> the 登记表 field it fills: kept in clear (profile) or sealed (personal), as on the web form
PROFILE_COLUMNS = {"性别": "sex", "学历": "education", "入党时间": "party_joined", "能参加社区服务的时间": "available_time",
                   "专业特长": "specialities", "兴趣爱好": "hobbies"}
PERSONAL_COLUMNS = {"民族": "ethnicity", "健康状况": "health", "出生年月": "birth_month", "单位地址": "unit_address",
                    "家庭住址": "home_address", "工作单位联系电话": "unit_phone", "本人联系电话/手机": "mobile"}
MONTH_COLUMNS = frozenset({"出生年月", "入党时间"})

POST_COLUMNS: tuple[tuple[str, str], ...] = (
    (CODE, "党员编号（见「我的」页或二维码），36 位"),
    (NAME, "姓名：与党员编号核对"),
    (POSTS, "本社区的岗位名称，一个或多个，用 、 分隔"),
)

_SEPARATORS = re.compile(r"[、,，;；/／\s]+")
_MONTH = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(?:\s*[-/.]\s*\d{1,2}\s*日?)?")
_YES = {"是": True, "愿意": True, "√": True, "否": False, "不愿意": False, "": False}


@dataclass(frozen=True)
class PaperRegistration:
    """One 登记表 (附件2) as the office copied it: who, the form's fields, the posts claimed on it."""

    member_id: UUID
    row: int
    profile: dict[str, str]
    personal: dict[str, str]  # plaintext until `register_member` seals it; never printed
    posts: tuple[str, ...]
    community: str  # 报到社区 as written on the form ("" when left empty)
    willing_other_service: bool
    reported_on: date | None

    def __repr__(self) -> str:  # a stray log line or traceback shows no personal field
        return f"PaperRegistration(member_id={self.member_id}, row={self.row}, posts={self.posts})"


@dataclass(frozen=True)
class PaperClaim:
    """One line of the office's list of claimed posts: a member and one or more posts."""

    member_id: UUID
    row: int
    posts: tuple[str, ...]


def _month(value: Any) -> str:
    """"1980-05", "1980.5", "1980年5月", or an Excel date: as YYYY-MM."""
    if isinstance(value, (datetime, date)):
        return f"{value.year:04d}-{value.month:02d}"
    text = _cell_text(value)
    if not text:
        return ""
    found = _MONTH.fullmatch(text)
    if not found or not 1 <= int(found[2]) <= 12 or not 1900 <= int(found[1]) <= 2100:
        raise ValueError("年月格式不对，应如 1980-05")
    return f"{int(found[1]):04d}-{int(found[2]):02d}"


def _posts(value: Any, *, required: bool) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name for name in _SEPARATORS.split(_cell_text(value)) if name))
    if required and not names:
        raise ValueError("请至少认领一个岗位")
    if any(len(name) > NAME_CHARS_MAX for name in names):
        raise ValueError(f"岗位名称超过 {NAME_CHARS_MAX} 个字")
    return names


def _member_code(value: Any) -> UUID:
    text = _cell_text(value)
    if not text:
        raise ValueError("请填写党员编号（单位为党员入册后生成，见报到单）")
    try:
        return UUID(text)
    except ValueError:
        raise ValueError("不是党员编号（应如 0b6e…-… 的 36 位编号）") from None


def _cells_of(table: Sequence[Sequence[Any]], headers: tuple[str, ...]
              ) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """The non-empty rows of a table whose first row holds `headers` (in any order), by column name."""
    if not table:
        return [], [Problem(1, "", "文件是空的")]
    header = [_cell_text(value) for value in table[0]]
    missing = [name for name in headers if name not in header]
    if missing:
        return [], [Problem(1, "", "表头与模板不符，缺少列：" + "、".join(missing) + "（请使用导入模板）")]
    where = {name: header.index(name) for name in headers}
    rows = []
    for number, values in enumerate(table[1:], start=2):
        cells = {name: (values[index] if index < len(values) else None) for name, index in where.items()}
        if any(_cell_text(value) != "" for value in cells.values()):
            rows.append((number, cells))
    return rows, []


@dataclass
class _Reader:
    """Reads one row's cells, keeping a problem for each cell that cannot be read."""

    row: int
    cells: dict[str, Any]
    problems: list[Problem]

    def __call__(self, column: str, reader: Any) -> Any:
        try:
            return reader(self.cells[column])
        except ValueError as error:
            self.problems.append(Problem(self.row, column, str(error)))
            return None


def readers(table: Sequence[Sequence[Any]], columns: tuple[tuple[str, str], ...],
            problems: list[Problem]) -> Iterator[_Reader]:
    """A reader for each non-empty row of a table in the template of `columns`; a wrong header is added
    to `problems` (and there are no rows)."""
    rows, found = _cells_of(table, tuple(name for name, _ in columns))
    problems += found
    for number, cells in rows:
        yield _Reader(number, cells, [])


def parse_members(table: Sequence[Sequence[Any]]) -> tuple[list[tuple[PaperRegistration, str]], list[Problem]]:
    """The 登记表 rows of a table in the members template, each with its name; and every problem."""
    problems: list[Problem] = []
    forms: list[tuple[PaperRegistration, str]] = []
    for read in readers(table, MEMBER_COLUMNS, problems):
        member_id = read(CODE, _member_code)
        name = read(NAME, lambda v: _text(v, NAME_CHARS_MAX, required=True))
        fields: dict[str, str] = {}
        for column, field_name in {**PROFILE_COLUMNS, **PERSONAL_COLUMNS}.items():
            reader = _month if column in MONTH_COLUMNS else (
                lambda v: _text(v, PROFILE_FIELD_CHARS_MAX, required=False))
            value = read(column, reader)
            if value:
                fields[field_name] = value
        posts = read(POSTS, lambda v: _posts(v, required=True))
        community = read(COMMUNITY, lambda v: _text(v, PROFILE_FIELD_CHARS_MAX, required=False))
        willing = read(WILLING, lambda v: _YES[_cell_text(v)] if _cell_text(v) in _YES else _no_yes())
        reported_on = read(FORM_DATE, lambda v: _date(v) if _cell_text(v) else None)
        if read.problems:
            problems += read.problems
            continue
        forms.append((PaperRegistration(
            member_id=member_id, row=read.row, posts=posts, community=community, willing_other_service=willing,
            reported_on=reported_on,
            profile={k: v for k, v in fields.items() if k in PROFILE_COLUMNS.values()},
            personal={k: v for k, v in fields.items() if k in PERSONAL_COLUMNS.values()}), name))
    return forms, problems


def _no_yes() -> bool:
    raise ValueError("只能填 是 或 否")


def parse_posts(table: Sequence[Sequence[Any]]) -> tuple[list[tuple[PaperClaim, str]], list[Problem]]:
    """The claims of a table in the posts template, each with its name; and every problem."""
    rows, problems = _cells_of(table, tuple(name for name, _ in POST_COLUMNS))
    claims: list[tuple[PaperClaim, str]] = []
    for number, cells in rows:
        row_problems: list[Problem] = []
        parsed: dict[str, Any] = {}
        for column, reader in ((CODE, _member_code), (NAME, lambda v: _text(v, NAME_CHARS_MAX, required=False)),
                               (POSTS, lambda v: _posts(v, required=True))):
            try:
                parsed[column] = reader(cells[column])
            except ValueError as error:
                row_problems.append(Problem(number, column, str(error)))
        if row_problems:
            problems += row_problems
            continue
        claims.append((PaperClaim(member_id=parsed[CODE], row=number, posts=parsed[POSTS]), parsed[NAME]))
    return claims, problems


def _post_ids(community: Community, names: Sequence[str]) -> list[UUID]:
    """The community's open posts by the names the row gives; a name it has not is the row's problem."""
    open_posts = {name: post_id for post_id, name in community.posts.items() if post_id not in community.retired_posts}
    unknown = [name for name in names if name not in open_posts]
    if unknown:
        shown = [name if name.isprintable() else "（含控制字符的名称）" for name in unknown]  # echoed to a terminal
        raise RowProblem(POSTS, "本社区没有这个岗位：" + "、".join(shown) + "（请先在「服务岗位」页设立，或核对名称）")
    return [open_posts[name] for name in names]


def _register(ledger: Ledger, actor: Actor, form: PaperRegistration, file_sha256: str) -> bool:
    """报到登记 of one 登记表 by the importing community; False when the member is registered here already."""
    member = ledger.get_member(form.member_id)
    if member.community_id == actor.actor_id:
        return False
    community = ledger.get_community(actor.actor_id)
    if form.community and community.name not in form.community:
        raise RowProblem(COMMUNITY, "不是本社区：只导入在本社区报到的党员的登记表")
    slip_id = None  # the unit's 报到单 naming this office: registering with it sends its 回执单 (dated as the form)
    if member.report_slip is not None and member.report_slip[1] == actor.actor_id:
        slip = ledger.get_report_slip(member.report_slip[0])
        slip_id = slip.id if slip.receipt_sent_on is None else None
    ledger.register_member(actor=actor, member_id=form.member_id, post_ids=_post_ids(community, form.posts),
                           profile=form.profile, personal=form.personal,
                           willing_other_service=form.willing_other_service, slip_id=slip_id,
                           reported_on=form.reported_on)
    return True


def _claim(ledger: Ledger, actor: Actor, claim: PaperClaim, file_sha256: str) -> bool:
    """认领岗位 by the importing community, post by post; False when every post was claimed already."""
    member = ledger.get_member(claim.member_id)
    post_ids = _post_ids(ledger.get_community(actor.actor_id), claim.posts)
    new = [post_id for post_id in post_ids if post_id not in member.posts]
    if not new and member.community_id != actor.actor_id:
        new = post_ids  # not this community's member: the command says why
    for post_id in new:
        ledger.claim_post(actor=actor, member_id=claim.member_id, post_id=post_id)
    return bool(new)


MEMBERS = Kind(
    name="members", title="报到登记", sheet="报到登记补录", columns=MEMBER_COLUMNS,
    widths=(38, 10, 6, 8, 10, 8, 10, 10, 24, 24, 24, 24, 30, 16, 12, 16, 16, 16, 16, 12),
    notes="每行一张《在职党员基本情况登记表》（附件2）；党员须已由单位入册。同一文件重复导入不会重复登记。",
    parse=parse_members,
    identity=lambda actor, form: (form.member_id, "与第 {row} 行是同一名党员（每名党员一行）"),
    write=_register,
    fields={"post_ids": POSTS, "reported_on": FORM_DATE,
            **{field_name: column for column, field_name in {**PROFILE_COLUMNS, **PERSONAL_COLUMNS}.items()}})

POSTS_KIND = Kind(
    name="posts", title="认领岗位", sheet="认领岗位补录", columns=POST_COLUMNS, widths=(38, 12, 40),
    notes="每行一名党员认领的一个或多个岗位；党员须已在本社区报到登记。已认领的岗位再次导入不会重复。",
    parse=parse_posts,
    identity=lambda actor, claim: ((claim.member_id, claim.posts), "与第 {row} 行完全相同（重复的记录）"),
    write=_claim, fields={"post_id": POSTS})
