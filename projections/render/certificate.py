"""The hour certificate's PDF (志愿服务证明): a verified certificate drawn as a report (附件5 columns).

The certificate itself (bundle, verification) is `ledger.verification.certificates`; this draws it.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.display import ASSURANCE_TEXT, DURATION_UNIT, duration_words
from ledger.domain.values import CHINA_TIME, Assurance
from ledger.verification.certificates import VerifiedCertificate, period_text
from projections.render import render
from projections.render.model import (
    Column,
    QRCode,
    Report,
    Section,
    SignatureBox,
    Table,
    Text,
    china_time,
)


def _hours(minutes: int) -> str:
    """A duration in a sentence, exactly (`display.duration_words`: 250 → 4小时10分)."""
    return duration_words(minutes)


def certificate_report(verified: VerifiedCertificate, *, display_name: str | None = None) -> Report:
    """The certificate as a `projections.render` report (志愿服务证明, 附件5 columns)."""
    rows: list[dict[str, Any]] = []
    cumulative = 0
    for number, line in enumerate(verified.sessions, 1):
        cumulative += line.minutes
        rows.append({"no": number, "date": line.service_date, "content": f"{line.activity}：{line.content}",
                     "place": line.place, "minutes": line.minutes, "cumulative": cumulative, "rating": line.rating,
                     "certified_by": line.community_name if line.assurance == Assurance.SELF_REPORTED.value
                     else f"{line.community_name}\n{ASSURANCE_TEXT[line.assurance]}"})
    columns = [
        Column("no", "序号", 5, "center", "int"),
        Column("date", "服务日期", 11, "center", "date"),
        Column("content", "服务内容", 28),
        Column("place", "服务地点", 14),
        Column("minutes", f"时长({DURATION_UNIT})", 10, "right", "hours"),
        Column("cumulative", f"累计({DURATION_UNIT})", 10, "right", "hours"),
        Column("rating", "评价", 5, "center"),
        Column("certified_by", "认证社区", 14),
    ]
    totals: dict[str, Any] = {"no": "个人累计社区志愿服务时间（经认证）", "minutes": verified.total_minutes}
    issued = verified.issued_at.astimezone(CHINA_TIME)
    start, end = verified.period_from, verified.period_to
    when = ("" if start is None and end is None else f"于 {start} 至 {end} 期间" if start and end
            else f"自 {start} 起" if start else f"截至 {end}")
    statement = (f"兹证明 {verified.member_name} 同志{when}在{verified.region_name}参加社区志愿服务，"
                 f"经社区党组织认证 {len(verified.sessions)} 次，累计服务时间 {_hours(verified.total_minutes)}。")
    notes = "\n".join([
        *([] if rows else ["该期间内无经认证的服务记录。"]),
        ("如何核对：用手机扫描本证明上的二维码；或请所在社区、单位登录本地区爱心时间银行，在“审计核验”页面"
         "上传本证明的电子凭证核对。"),
    ])
    technical = [
        "每条服务记录均由记录人、评价人和认证社区各自数字签名，并由区级签名检查点证明收录于防篡改的默克尔日志。",
        (f"检查点：日志大小 {verified.checkpoint.size}，根哈希 {verified.checkpoint.root_hash.hex()}，"
         f"签署于 {china_time(verified.checkpoint_time)}（北京时间）。"),
        ("离线核验：取得同名电子凭证文件（JSON）与省级信任根公钥，执行 timeledger certificate verify 凭证文件 "
         "--trust 根公钥文件；二维码含证书编号、凭证文件 SHA-256 与认证总时长。"),
        f"党员编号：{verified.member_id}",
        f"电子凭证 SHA-256：{verified.bundle_sha256}",
    ]
    table = Table("服务记录", columns, rows, totals_row=totals if rows else None, note=notes)
    return Report(
        title="志愿服务证明",
        subtitle_lines=[f"（{display_name or '爱心时间银行'} · 在职党员到社区报到服务记录 附件5）"],
        meta=[("证书编号", verified.number), ("姓名", verified.member_name),
              ("出具单位", f"{verified.region_name}（{verified.region_code}）"),
              ("统计期间", period_text(verified.period_from, verified.period_to)),
              ("认证服务", f"{len(verified.sessions)} 次，{_hours(verified.total_minutes)}"),
              ("出具日期", f"{issued:%Y年%m月%d日}")],
        sections=[
            Section([table], heading=statement),
            Section([QRCode(verified.reference, caption=f"{verified.number}\n扫码核对 · {_hours(verified.total_minutes)}"),
                     SignatureBox("出具单位（盖章）")]),
            Section([Text(technical, size=9)], heading="技术说明（供审计人员使用）", new_page=True),
        ],
    )


def render_certificate_pdf(verified: VerifiedCertificate, *, display_name: str | None = None) -> bytes:
    return render(certificate_report(verified, display_name=display_name), "pdf")
