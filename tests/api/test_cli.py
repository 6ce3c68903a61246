"""The service's CLI: provisioning logins on a fresh install, and signing a command with a local key
against a running `timeledger serve` (`timeledger client keygen` / `client submit`)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from typer.testing import CliRunner

from api.loadgen import prepare_bench_region, serve_on_any_port
from api.cli import app

runner = CliRunner()


def test_a_fresh_install_gets_an_admin_login_then_logins_for_everyone(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert runner.invoke(app, ["init", "--region", "320102", "--name", "南京市玄武区", "--db", db]).exit_code == 0
    admin = runner.invoke(app, ["logins", "admin", "--db", db])
    assert admin.exit_code == 0 and "password (shown once)" in admin.output
    out = tmp_path / "logins.csv"
    provisioned = runner.invoke(app, ["logins", "provision", "--out", str(out), "--db", db])
    assert provisioned.exit_code == 0 and "0 logins created" in provisioned.output  # the admin had one already
    listing = runner.invoke(app, ["logins", "list", "--db", db])
    assert "region-admin" in listing.output
    assert runner.invoke(app, ["logins", "disable", "region-admin", "--db", db]).exit_code == 0


def test_demo_actors_get_logins_in_a_private_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert runner.invoke(app, ["demo", "--members", "10", "--db", db]).exit_code == 0
    out = tmp_path / "logins.csv"
    result = runner.invoke(app, ["logins", "provision", "--out", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = out.read_text(encoding="utf-8").splitlines()
    roles = {row.split(",")[2] for row in rows[1:]}
    assert {"region", "unit", "community", "counter", "member", "resident", "auditor"} <= roles


@pytest.mark.slow
def test_client_submit_signs_with_a_local_key_against_a_running_server(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    region = prepare_bench_region(db, members=1, counters=1, price_minutes=30)
    key_file = tmp_path / "counter.key"
    made = runner.invoke(app, ["client", "keygen", "--out", str(key_file)])
    assert made.exit_code == 0 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = json.loads(made.output)
    server, port = serve_on_any_port(["serve", "--db", db, "--no-access-log", "--log-level", "warning"],
                                     dict(os.environ))
    try:
        url = f"http://127.0.0.1:{port}"
        registered = httpx.post(f"{url}/v1/keys", headers={"Authorization": f"Bearer {region.community_token}"},
                                json={"owner_id": str(region.counter_ids[0]), "public_key": key["public_key"],
                                      "label": "收银终端2号"})
        assert registered.status_code == 201, registered.text
        body = json.dumps({"member_id": str(region.members[0]), "redemption_id": str(uuid4()),
                           "items": [{"item_id": str(region.item_id), "quantity": 1}]})
        submitted = subprocess.run(
            [sys.executable, "-c", "from api.cli import main; main()", "client", "submit", "POST",
             "/v1/redemptions", "--key", str(key_file), "--server", url, "--token", region.counter_tokens[0],
             "--json", body], capture_output=True, text=True, timeout=60, check=False)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        answer = json.loads(submitted.stdout)
        assert answer["status"] == 201 and answer["body"]["applied"] is True
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    verify = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "verify", "--db", db],
                            capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout
