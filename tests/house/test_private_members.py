"""No module outside ledger/application touches a private member of `Ledger` (issue 13).

The Ledger's private members (`_commit`, `_get`, `_signer_for`, `_local` …) are the unit of work's
machinery; what other rings need is offered as public methods (e.g. `Ledger.batch_mark` for the
group-commit writer). The check reads the source: every attribute access `x._name` in a module
outside the package, where `_name` is a private member the Ledger's classes define or assign.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPLICATION = ROOT / "ledger" / "application"
CHECKED = ("ledger", "api", "projections", "scripts")


def _ledger_private_members() -> set[str]:
    names: set[str] = set()
    for path in APPLICATION.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
            bases = {base.id for base in cls.bases if isinstance(base, ast.Name)}
            if cls.name not in {"LedgerCore", "Ledger"} and "LedgerCore" not in bases:
                continue
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
                    names.add(node.name)
                elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                      and isinstance(node.value, ast.Name) and node.value.id == "self"):
                    names.add(node.attr)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _touches(path: Path, private: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in private
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})]


def test_the_ledger_has_private_members_to_protect() -> None:
    assert {"_commit", "_get", "_exists", "_signer_for", "_local"} <= _ledger_private_members()


def test_no_module_outside_ledger_application_touches_a_private_member_of_the_ledger() -> None:
    private = _ledger_private_members()
    touched = [hit for folder in CHECKED for path in sorted((ROOT / folder).rglob("*.py"))
               if APPLICATION not in path.parents for hit in _touches(path, private)]
    assert touched == []
