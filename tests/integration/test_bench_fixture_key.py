"""The benchmarks' cached region (scripts/generate_region.py) is sealed under its own master key, kept
beside it: a later run reuses it whatever TIMELEDGER_MASTER_KEY its shell holds (the benchmarks failed
with master_key_mismatch when a cached region met another key)."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_audit
import generate_region

from ledger.application import Ledger, setup

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(1, 33))).decode()


@pytest.fixture
def small_generation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """`generate` made small (a region with its sealed keys and the completion mark), the cache in tmp_path."""
    made: list[str] = []

    def generate(url: str, *, events: int, seed: int, log: Any = None) -> dict[str, Any]:
        ledger = Ledger(url)
        try:
            setup.init_region(ledger)
            summary = {"events": max(events, ledger.recorder.max_notification_id() or 0), "seed": seed,
                       "years": [2024]}
            ledger.secrets.set_setting(generate_region.SETTING, json.dumps(summary))
        finally:
            ledger.close()
        made.append(url)
        return summary

    monkeypatch.setattr(generate_region, "generate", generate)
    monkeypatch.setattr(generate_region, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(bench_audit, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("TIMELEDGER_MASTER_KEY_FILE", raising=False)
    return made


def _opens(path: Path) -> str | None:
    ledger = Ledger(f"sqlite:///{path}")
    try:
        return ledger.region_code
    finally:
        ledger.close()


def test_a_cached_region_is_reused_under_another_shell_key(small_generation: list[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = generate_region.default_path(5, 7)
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_A)
    first = generate_region.ensure_region(path, events=5, seed=7)
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_B)
    again = generate_region.ensure_region(path, events=5, seed=7)
    assert again == first and len(small_generation) == 1  # reused, not generated again
    assert _opens(path) == setup.REGION_CODE  # and this process can open it afterwards
    monkeypatch.delenv("TIMELEDGER_MASTER_KEY")
    assert generate_region.ensure_region(path, events=5, seed=7) == first and len(small_generation) == 1
    key_file = Path(f"{path}.masterkey")
    assert key_file.stat().st_mode & 0o077 == 0  # the fixture's key: owner only


def test_the_audit_copy_carries_the_key_of_the_shared_region(small_generation: list[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_A)
    generate_region.ensure_region(generate_region.default_path(5, 7), events=5, seed=7)
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_B)
    copy = bench_audit.ensure_database(5, 7)
    assert len(small_generation) == 1 and _opens(copy) == setup.REGION_CODE
    assert Path(f"{copy}.masterkey").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_A)
    assert bench_audit.ensure_database(5, 7) == copy and len(small_generation) == 1
    assert _opens(copy) == setup.REGION_CODE


def test_a_cached_region_without_its_key_is_generated_again(small_generation: list[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = generate_region.default_path(5, 7)
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_A)
    generate_region.ensure_region(path, events=5, seed=7)
    Path(f"{path}.masterkey").unlink()
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", KEY_B)
    generate_region.ensure_region(path, events=5, seed=7)
    assert len(small_generation) == 2 and _opens(path) == setup.REGION_CODE
    assert os.environ["TIMELEDGER_MASTER_KEY"] != KEY_B  # the new fixture has a key of its own
