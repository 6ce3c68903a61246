"""Every command sequence the README shows runs, as written, in a fresh directory and leaves a store
that verifies (issue #10, defect 7: `init` then `demo` gave a store that failed verification)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMMAND_TIMEOUT_SECONDS = 600

# The runnable sequences, verbatim from README.md (checked below), each run in a fresh directory.
DEMO_STORE = """\
timeledger demo --members 60
timeledger verify
timeledger audit
"""
REAL_REGION = """\
timeledger init --region 320102 --name 南京市玄武区
timeledger logins admin
timeledger keys export-root --out root.pub
timeledger verify --trust root.pub
"""
# "For auditors": runs on a demo store with a certificate issued (the region hands both over).
FOR_AUDITORS = """\
timeledger keys export-root --out root.pub           # from the region, once
timeledger verify --trust root.pub                   # the whole store: exits 1 and names each bad event
timeledger certificate verify cert.json --trust root.pub   # one member's certified hours, offline
timeledger audit                                     # replay everything, recompute balances and stars,
                                                     # compare with the read models, the Merkle log and checkpoints
"""
SEQUENCES = {"demo_store": DEMO_STORE, "real_region": REAL_REGION, "for_auditors": FOR_AUDITORS}
# Blocks that are a reference list or an installer, not a sequence to run: named by their first line.
REFERENCE_BLOCKS = (
    "scripts/serve-demo.sh ",
    "timeledger init --region 320102 --name 南京市玄武区       # trust root",
)


def _sh_blocks(text: str) -> list[str]:
    return list(re.findall(r"```sh\n(.*?)```", text, flags=re.S))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"
    return env


def _timeledger(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)


def _run_sequence(sequence: str, cwd: Path) -> None:
    for line in sequence.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == "timeledger", line
        result = _timeledger(cwd, *words[1:])
        assert result.returncode == 0, f"{line!r} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def _assert_verifies(cwd: Path) -> None:
    result = _timeledger(cwd, "verify", "--workers", "0")
    assert result.returncode == 0 and "every event verifies" in result.stdout, result.stdout + result.stderr


def test_every_sh_block_of_the_readme_is_run_here_or_a_named_reference() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = _sh_blocks(text)
    for sequence in SEQUENCES.values():
        assert sequence in blocks, f"not verbatim in README.md:\n{sequence}"
    for block in blocks:
        assert block in SEQUENCES.values() or block.startswith(REFERENCE_BLOCKS), \
            f"a README block no test runs:\n{block}"


@pytest.mark.parametrize("name", ["demo_store", "real_region"])
def test_readme_sequence_runs_and_the_store_verifies(name: str, tmp_path: Path) -> None:
    _run_sequence(SEQUENCES[name], tmp_path)
    _assert_verifies(tmp_path)


def test_readme_auditor_sequence_runs_on_a_demo_store(tmp_path: Path) -> None:
    assert _timeledger(tmp_path, "demo", "--members", "20").returncode == 0
    from ledger.application import Ledger

    ledger = Ledger(f"sqlite:///{tmp_path / 'timeledger.db'}")
    try:
        member = next(str(n.originator_id) for n in ledger.recorder.select_notifications(start=1, limit=10**6)
                      if n.topic.endswith("Member.Registered"))
    finally:
        ledger.close()
    issued = _timeledger(tmp_path, "certificate", "issue", "--member", member, "--year", "2026", "--out", "cert.json")
    assert issued.returncode == 0, issued.stdout + issued.stderr
    _run_sequence(FOR_AUDITORS, tmp_path)
    _assert_verifies(tmp_path)


def test_init_then_demo_is_refused_before_writing_and_the_store_still_verifies(tmp_path: Path) -> None:
    """The sequence the README used to show: `init` (keys registered now) then `demo` (a year signed
    in the past). The demo is refused before it writes anything; the region still verifies."""
    assert _timeledger(tmp_path, "init", "--region", "320102", "--name", "南京市玄武区").returncode == 0
    demo = _timeledger(tmp_path, "demo", "--members", "10", "--year", "2014")
    assert demo.returncode == 2 and "demo_predates_region" in demo.stdout + demo.stderr
    info = _timeledger(tmp_path, "info")
    assert " 5 events" in info.stdout, info.stdout
    _assert_verifies(tmp_path)
