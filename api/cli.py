"""CLI commands of the HTTP service (`timeledger serve`). Being built in issue #4."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the service commands to the `timeledger` CLI."""
