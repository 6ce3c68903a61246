"""CLI commands of the read side (`timeledger report …`). Being built in issue #3."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the read-side commands to the `timeledger` CLI."""
