"""转移接续 by files between two regions through the CLI, as two offices without a network link would."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from ledger.domain.values import ConsentPurpose

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def consented_member(db: str) -> UUID:
    ledger = Ledger(db)
    for notification in ledger.recorder.select_notifications(start=1, limit=100_000):
        if notification.topic.endswith("Member.ConsentGiven"):
            member = ledger.get_member(UUID(str(notification.originator_id)))
            if member.has_consent(ConsentPurpose.TRANSFER, "320104"):
                return member.id
    raise AssertionError("the demo gives two members a transfer consent to 320104")


def test_a_member_moves_between_two_regions_by_files(tmp_path: Path) -> None:
    xuanwu, qinhuai = f"sqlite:///{tmp_path / 'xuanwu.db'}", f"sqlite:///{tmp_path / 'qinhuai.db'}"
    assert run("demo", "--members", "24", "--db", xuanwu)[0] == 0
    code, output = run("init", "--region", "320104", "--name", "南京市秦淮区", "--root-key",
                       str(tmp_path / "xuanwu.db.province.key"), "--db", qinhuai)
    assert code == 0, output
    for db, card in ((xuanwu, "xuanwu.json"), (qinhuai, "qinhuai.json")):
        assert run("region", "card", "--out", str(tmp_path / card), "--db", db)[0] == 0
    assert run("region", "add-peer", str(tmp_path / "qinhuai.json"), "--db", xuanwu)[0] == 0
    assert run("region", "add-peer", str(tmp_path / "xuanwu.json"), "--db", qinhuai)[0] == 0
    member_id = consented_member(xuanwu)
    balance = Ledger(xuanwu).get_balance_minutes(member_id)

    code, output = run("transfer", "start", "--member", str(member_id), "--to", "320104", "--db", xuanwu)
    assert code == 0, output
    transfer_id = output.split()[1]
    bundle, receipt = tmp_path / "bundle.json", tmp_path / "receipt.json"
    assert run("transfer", "export", transfer_id, "--out", str(bundle), "--db", xuanwu)[0] == 0

    code, output = run("transfer", "import", str(bundle), "--receipt", str(receipt), "--db", qinhuai)
    assert code == 0, output
    assert run("transfer", "import", str(bundle), "--receipt", str(receipt), "--db", qinhuai)[0] == 0  # no-op

    # A tampered copy of an imported transfer is refused, and the destination signs no rejection of a
    # transfer it imported (a tampered copy arriving first is tests/application/test_transfer_forgery.py).
    tampered = tmp_path / "tampered.json"
    document = json.loads(bundle.read_bytes())
    document["member_name"] = "冒名顶替"
    document["events"] = document["events"][1:]  # drop the member's enrolment
    tampered.write_text(json.dumps(document))
    code, output = run("transfer", "import", str(tampered), "--receipt", str(tmp_path / "no.json"), "--db", qinhuai)
    assert code == 1 and "transfer_already_imported" in output
    assert not (tmp_path / "no.json").exists()
    code, output = run("transfer", "complete", str(receipt), "--db", xuanwu)
    assert code == 0, output

    assert Ledger(qinhuai).get_balance_minutes(member_id) == balance
    assert Ledger(xuanwu).get_balance_minutes(member_id) == 0
    for db in (xuanwu, qinhuai):
        code, output = run("verify", "--workers", "0", "--db", db)
        assert code == 0, output


def test_after_the_expiry_the_source_voids_only_with_the_destinations_answer_by_files(tmp_path: Path) -> None:
    from datetime import timedelta

    from ledger.application import transfers
    from ledger.demo import simulated

    xuanwu, qinhuai = f"sqlite:///{tmp_path / 'xuanwu.db'}", f"sqlite:///{tmp_path / 'qinhuai.db'}"
    assert run("demo", "--members", "24", "--db", xuanwu)[0] == 0
    code, output = run("init", "--region", "320104", "--name", "南京市秦淮区", "--root-key",
                       str(tmp_path / "xuanwu.db.province.key"), "--db", qinhuai)
    assert code == 0, output
    for db, card in ((xuanwu, "xuanwu.json"), (qinhuai, "qinhuai.json")):
        assert run("region", "card", "--out", str(tmp_path / card), "--db", db)[0] == 0
    assert run("region", "add-peer", str(tmp_path / "qinhuai.json"), "--db", xuanwu)[0] == 0
    assert run("region", "add-peer", str(tmp_path / "xuanwu.json"), "--db", qinhuai)[0] == 0
    member_id = consented_member(xuanwu)
    bundle, answer = tmp_path / "bundle.json", tmp_path / "answer.json"

    code, output = run("transfer", "start", "--member", str(member_id), "--to", "320104", "--db", xuanwu)
    assert code == 0, output
    transfer_id = output.split()[1]
    assert run("transfer", "export", transfer_id, "--out", str(bundle), "--db", xuanwu)[0] == 0
    code, output = run("transfer", "answer", str(bundle), "--answer", str(answer), "--db", qinhuai)
    assert code != 0 and "transfer_not_expired" in output, output
    expires_at = transfers.get_transfer(Ledger(xuanwu), UUID(transfer_id)).expires_at
    with simulated(expires_at + timedelta(minutes=1)):
        code, output = run("transfer", "void", transfer_id, "--db", xuanwu)
        assert code != 0 and "transfer_void_needs_answer" in output, output
        code, output = run("transfer", "answer", str(bundle), "--answer", str(answer), "--db", qinhuai)
        assert code == 0 and "not_imported" in output, output
        code, output = run("transfer", "void", transfer_id, "--rejection", str(answer), "--db", xuanwu)
        assert code == 0 and "unfrozen" in output, output
    code, output = run("transfer", "import", str(bundle), "--receipt", str(tmp_path / "late.json"), "--db", qinhuai)
    assert code != 0 and "transfer_already_rejected" in output, output

    # a destination that never answers: the region admin's reasoned, flagged override
    code, output = run("transfer", "start", "--member", str(member_id), "--to", "320104", "--db", xuanwu)
    assert code == 0, output
    second = output.split()[1]
    expires_at = transfers.get_transfer(Ledger(xuanwu), UUID(second)).expires_at
    with simulated(expires_at + timedelta(minutes=1)):
        code, output = run("transfer", "void", second, "--force", "--db", xuanwu)
        assert code != 0 and "reason" in output, output
        code, output = run("transfer", "void", second, "--force", "--reason", "目的地区三个月无应答", "--db", xuanwu)
        assert code == 0 and "forced by the region admin" in output, output
    assert run("verify", "--workers", "0", "--db", xuanwu)[0] == 0
