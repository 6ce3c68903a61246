"""`timeledger`: the command line. Each ring offers its commands and this entry point registers them:
the ledger's (ledger/commands), the reports (projections/cli.py) and the HTTP service's (api/cli/commands.py)."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from api.catalogue import cli_text
from api.cli.commands import register as register_api
from api.peer_http import post_settlement
from ledger.commands import paper, store, transparency
from ledger.domain.errors import LedgerError
from ledger.storage.database import ConfigurationError
from projections.audit import ProjectionsAudit
from projections.cli import register as register_reports
from projections.render.certificate import render_certificate_pdf

app = typer.Typer(help="爱心时间银行 service-time ledger: a signed, event-sourced ledger of volunteer hours.",
                  no_args_is_help=True, add_completion=False)
store.register(app)
store.describe_refusals_with(cli_text)  # refusals print the catalogue's Chinese message first
store.send_to_peers_with(post_settlement)  # `settlement exchange` sends over HTTP
paper.register(app)
register_reports(app)
register_api(app)
transparency.register(app, transparency.Collaborators(render_certificate_pdf=render_certificate_pdf,
                                                      read_models=ProjectionsAudit))


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except LedgerError as error:
        store.console.print(f"[red]错误：[/red]{escape(cli_text(error))}", highlight=False)
        sys.exit(1)
    except ConfigurationError as error:  # e.g. the wrong master key, from any command's start-up
        store.console.print(f"[red]configuration error:[/red] {error}")
        sys.exit(2)


__all__ = ["app", "main"]
