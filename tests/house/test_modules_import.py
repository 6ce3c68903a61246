"""Every module of the three rings imports (a moved module leaves no stale import behind)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

MODULES = sorted(info.name for package in ("ledger", "projections", "api")
                 for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}.")
                 if not info.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_the_module_imports(name: str) -> None:
    assert importlib.import_module(name).__name__ == name


def test_every_project_name_the_tests_and_scripts_import_exists() -> None:
    """Imports inside functions too (a moved name is found here, not when its test first runs)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    missing = []
    for path in sorted([*(root / "scripts").glob("*.py"), *(root / "tests").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.split(".")[0] in {"ledger", "api", "projections", "tests"}):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name) and pkgutil.resolve_name(node.module) is not None:
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{path.relative_to(root)}:{node.lineno}: {node.module}.{alias.name}")
    assert missing == []
