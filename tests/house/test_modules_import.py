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
