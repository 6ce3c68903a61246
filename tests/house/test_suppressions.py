"""Every `noqa` and `type: ignore` left in the code names what it silences and why (issue 13).

Each names its code, then why (a comment or a dash after the code): a bare suppression hides
the next real finding on its line; a named one can be checked and removed when its reason goes.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
NOQA_NAMED = re.compile(r":\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*\s*(-|—|\(|#)\s*\S")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
IGNORE_NAMED = re.compile(r"\[[a-z-]+(\s*,\s*[a-z-]+)*\]\s*(#|-|—)\s*\S")


def _lines() -> list[tuple[str, str]]:
    found = []
    for folder in ("ledger", "api", "projections", "scripts", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found.append((f"{path.relative_to(ROOT)}:{number}", line))
    return found


def test_every_noqa_names_its_code_and_reason() -> None:
    bare = [where for where, line in _lines() if (match := NOQA.search(line)) and not NOQA_NAMED.match(match["rest"])]
    assert bare == []


def test_every_type_ignore_names_its_code_and_reason() -> None:
    bare = [where for where, line in _lines()
            if (match := IGNORE.search(line)) and not IGNORE_NAMED.match(match["rest"])]
    assert bare == []
