"""CLI commands of the HTTP service.

* ``timeledger serve [--host 127.0.0.1] [--port 8000] [--db URL] [--demo]`` — one uvicorn process.
* ``timeledger logins …`` — provision and manage logins directly in the database (server side):
  ``admin`` (the region admin's login on a fresh install), ``provision`` (every actor without one),
  ``create``, ``list``, ``disable``, ``enable``, ``revoke-tokens``.
* ``timeledger client …`` — talk to a running server: ``login``, ``keygen``, ``call`` (the server
  signs with your server-held key) and ``submit`` (you sign with a local key; see api/client.py).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from ledger.signing.canonical import JsonInputError, loads_bounded

console = Console(stderr=True)
out = Console()

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db, postgresql://… or "
                                                 "memory:); default $TIMELEDGER_DATABASE_URL or sqlite:///timeledger.db")]
ServerOption = Annotated[str, typer.Option("--server", envvar="TIMELEDGER_SERVER", help="Base URL of the service")]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="TIMELEDGER_TOKEN",
                                                    help="Bearer token (from `timeledger client login`)")]


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


# ---------------------------------------------------------------------------------------------
# serve


def run_server(app: Any, *, host: str, port: int, access_log: bool, log_level: str = "info",
               sock: Any = None) -> None:
    """Serve an ASGI app the way `timeledger serve` does (the benchmark serves its baseline the same way).
    With `sock` (already bound, e.g. to port 0), uvicorn serves on that socket."""
    import uvicorn

    if sock is None:
        uvicorn.run(app, host=host, port=port, workers=1, access_log=access_log, log_level=log_level,
                    backlog=2048, timeout_keep_alive=30, server_header=False)
        return
    config = uvicorn.Config(app, workers=1, access_log=access_log, log_level=log_level, backlog=2048,
                            timeout_keep_alive=30, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def bind_listening_socket(host: str, port: int) -> Any:
    """Bind (port 0: the system picks a free port) and listen now, so the port is known and held
    before the server starts: no other process can take it in between."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


CLOCK_START_VARIABLE = "TIMELEDGER_CLOCK_START"


def serve(host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port; the line "
                                                                "'listening on http://HOST:PORT' names it)")] = 8000,
          db: DbOption = None,
          demo: Annotated[bool, typer.Option(help="On an empty database, generate the demo region year and "
                                                  "logins for all its actors first")] = False,
          demo_members: Annotated[int, typer.Option(min=10, max=20000, help="Members in the demo")] = 60,
          year: Annotated[int | None, typer.Option(min=2014, max=2100, help="The demo's year (default: this year "
                                                   "from 1 October on, China time, else last year)")] = None,
          logins_out: Annotated[Path | None, typer.Option(help="Where --demo writes the new logins (CSV, 0600)")]
          = None,
          root_key_out: Annotated[Path | None, typer.Option(help="Where --demo writes the province root's private "
                                                            "key (0600); by default it is not kept")] = None,
          access_log: Annotated[bool, typer.Option(help="Log each request line (paths carry ids only)")] = True,
          log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info") -> None:
    """Run the HTTP service (uvicorn, one process, one group-commit writer)."""
    from api.main import create_app
    from api.services import services_of
    from api.settings import Settings
    from ledger.application import Ledger
    from ledger.storage.database import ConfigurationError, WriterLock

    _start_demo_clock(demo)
    try:
        settings = Settings(database_url=db) if db else Settings()
        ledger = Ledger(settings.database_url)
        writer_lock = WriterLock(ledger.database).acquire()  # held until the process exits
    except (ConfigurationError, ValueError) as error:
        _fail(f"configuration: {error}", 2)
    if root_key_out is not None and root_key_out.exists():
        _fail(f"{root_key_out} already exists: choose a new file for the province key", 2)
    app = create_app(settings, ledger)
    if demo:
        _load_demo(ledger, services_of(app).auth, members=demo_members, logins_out=logins_out,
                   root_key_out=root_key_out, year=year)
    elif ledger.region_code is None:
        console.print("[yellow]the database holds no region yet:[/yellow] run `timeledger init …` and "
                      "`timeledger logins admin`, or start with --demo")
    try:
        sock = bind_listening_socket(host, port)
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error}", 2)
    port = sock.getsockname()[1]
    console.print(f"timeledger serving region {ledger.region_code or '-'} on http://{host}:{port} "
                  f"(docs: http://{host}:{port}/docs)")
    print(f"listening on http://{host}:{port}", flush=True)  # one plain line for scripts and tests
    try:
        run_server(app, host=host, port=port, access_log=access_log, log_level=log_level, sock=sock)
    finally:
        writer_lock.release()


def _start_demo_clock(demo: bool) -> None:
    """TIMELEDGER_CLOCK_START=2026-12-01T02:00:00Z starts the server's clock at that instant (it runs on
    from there): tests and demos that must not depend on the calendar. Only with --demo."""
    start = os.environ.get(CLOCK_START_VARIABLE)
    if not start:
        return
    if not demo:
        _fail(f"{CLOCK_START_VARIABLE} is honoured only with --demo (a real ledger runs on the real clock)", 2)
    from datetime import datetime

    from ledger.domain.base import start_clock_at

    try:
        start_clock_at(datetime.fromisoformat(start.strip()))
    except ValueError as error:
        _fail(f"{CLOCK_START_VARIABLE}={start!r}: {error}", 2)


def _load_demo(ledger: Any, auth: Any, *, members: int, logins_out: Path | None,
               root_key_out: Path | None = None, year: int | None = None) -> None:
    from api.provision import credentials_csv, provision, write_secret
    from ledger.demo import check_year, default_year, generate

    if ledger.secrets.get_setting("demo_loaded"):
        console.print("demo region already loaded; provisioning logins for actors that have none")
    elif ledger.region_code is not None:
        _fail("--demo needs an empty database (this one already holds a region)", 2)
    else:
        year = default_year(ledger.today()) if year is None else year
        try:
            check_year(year, ledger.today())
        except ValueError as error:
            _fail(str(error), 2)
        console.print(f"generating the demo region year {year} ({members} members) …")
        summary = generate(ledger, members=members, year=year, seed=2014)
        ledger.secrets.set_setting("demo_loaded", "1")
        # The province key is needed only to add a second region: kept only where asked, never
        # in the working directory by default (a trust root's private key belongs offline).
        if summary.root_private_key is not None and root_key_out is not None:
            from ledger.commands.store import write_secret_file

            write_secret_file(root_key_out, base64.b64encode(summary.root_private_key).decode() + "\n")
            console.print(f"province root private key written to {root_key_out} (0600): keep it offline")
        elif summary.root_private_key is not None:
            console.print("province root private key not kept (pass --root-key-out FILE to keep it)")
    made = provision(ledger, auth)
    if not made:
        return
    path = logins_out or _default_logins_path(ledger)
    write_secret(path, credentials_csv(made))
    console.print(f"{len(made)} logins written to {path} (0600); e.g. user "
                  f"{next(m.username for m in made if m.role.value == 'region')}")


def _default_logins_path(ledger: Any) -> Path:
    database = ledger.database
    if database.kind == "sqlite" and database.sqlite_path and not database.sqlite_path.startswith("file:"):
        base = Path(f"{database.sqlite_path}.logins.csv")
    else:
        base = Path("timeledger-logins.csv")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.stem}.{n}{base.suffix}")
    return candidate


# ---------------------------------------------------------------------------------------------
# logins (server side, directly in the database)

logins_app = typer.Typer(help="Logins of the HTTP service (run on the server, next to the database).",
                         no_args_is_help=True)


@contextmanager
def _logins_store(db: str | None) -> Iterator[tuple[Any, Any, Any]]:
    """(ledger, API store, auth service) of the database, for one logins command: the store is
    closed however the command ends (done, refused with `_fail`, or failed)."""
    ledger, store, auth = _open_logins_store(db)
    try:
        yield ledger, store, auth
    finally:
        store.close()


def _open_logins_store(db: str | None) -> tuple[Any, Any, Any]:
    from api.auth import AuthService
    from api.settings import Settings
    from api.store import ApiStore
    from ledger.application import Ledger
    from ledger.storage.database import ConfigurationError

    try:
        ledger = Ledger(db)
    except ConfigurationError as error:
        _fail(f"configuration: {error}", 2)
    if ledger.database.kind == "memory":
        _fail("an in-memory database lives only inside `timeledger serve --db memory: --demo`", 2)
    store = ApiStore(ledger.database)
    return ledger, store, AuthService(store, Settings(database_url=db) if db else Settings())


def _password(password_stdin: bool) -> tuple[str, bool]:
    from api.provision import new_password

    if password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return new_password(), True


def _create_login(auth: Any, **kwargs: Any) -> None:
    """`AuthService.create_login`, turning a refusal (weak password, taken name …) into a message."""
    from api.errors import REFUSALS

    try:
        auth.create_login(**kwargs)
    except REFUSALS as error:
        from api.catalogue import cli_text

        _fail(cli_text(error), 2)


@logins_app.command("admin")
def logins_admin(username: Annotated[str, typer.Option(help="Login name")] = "region-admin",
                 password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
                 db: DbOption = None) -> None:
    """The region administrator's login (a fresh install: after `timeledger init`)."""
    with _logins_store(db) as (ledger, _, auth):
        if ledger.region_code is None:
            _fail("no region yet: run `timeledger init --region … --name …` first", 2)
        password, generated = _password(password_stdin)
        _create_login(auth, username=username, password=password, actor=ledger.region_actor())
        out.print(f"login {username} created for the region administrator")
        if generated:
            out.print(f"password (shown once): {password}")


@logins_app.command("provision")
def logins_provision(out_file: Annotated[Path, typer.Option("--out", help="CSV file for the new logins (0600)")],
                     role: Annotated[list[str] | None, typer.Option(help="Only these roles (repeatable)")] = None,
                     db: DbOption = None) -> None:
    """A login with a random password for every actor (unit, community, counter, member, resident,
    auditor, region) that has a signing key and no login yet."""
    from api.provision import credentials_csv, provision, write_secret
    from ledger.domain.values import Role

    with _logins_store(db) as (ledger, _, auth):
        try:
            roles = [Role(r) for r in role] if role else None
            made = provision(ledger, auth, roles=roles)
            if made:
                write_secret(out_file, credentials_csv(made))
            out.print(f"{len(made)} logins created" + (f"; credentials in {out_file} (0600)" if made else ""))
        except ValueError as error:
            _fail(str(error), 2)


@logins_app.command("create")
def logins_create(actor: Annotated[str, typer.Option(help="Actor id")],
                  username: Annotated[str, typer.Option(help="Login name")],
                  password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
                  db: DbOption = None) -> None:
    """A login for one actor (its role comes from its signing key)."""
    with _logins_store(db) as (ledger, _, auth):
        target = ledger.actor_for(UUID(actor))
        password, generated = _password(password_stdin)
        _create_login(auth, username=username, password=password, actor=target)
        out.print(f"login {username} created ({target.role.value})")
        if generated:
            out.print(f"password (shown once): {password}")


@logins_app.command("member-code")
def logins_member_code(member: Annotated[str, typer.Option(help="Member id")],
                       reason: Annotated[str, typer.Option(help="Why (a reset of an existing login is a signed "
                                                                    "event carrying this reason)")],
                       db: DbOption = None) -> None:
    """A one-time activation code for a member (as the region admin): the member sets up their own
    login with it (POST /v1/auth/activate, or the web page). Any existing login of the member ends."""
    from api.errors import REFUSALS
    from api.member_access import MemberAccess

    with _logins_store(db) as (ledger, store, auth):
        try:
            access = MemberAccess(ledger, auth, store, lambda run, alone=False: run())
            code, expires_at = access.issue_code(authority=ledger.region_actor(), member_id=UUID(member),
                                                 reason=reason)
            out.print(f"activation code (shown once, valid until {expires_at:%Y-%m-%d %H:%M} UTC): {code}")
        except (*REFUSALS, ValueError) as error:
            from api.catalogue import cli_text

            _fail(cli_text(error) if isinstance(error, REFUSALS) else f"invalid_input: {error}", 2)


@logins_app.command("list")
def logins_list(db: DbOption = None) -> None:
    """Every login, by name."""
    with _logins_store(db) as (_, _, auth):
        table = Table()
        for column in ("username", "role", "actor", "disabled"):
            table.add_column(column)
        for login in auth.logins(limit=10**9):
            table.add_row(login.username, login.role.value, str(login.actor_id), "yes" if login.disabled else "")
        out.print(table)


@logins_app.command("disable")
def logins_disable(username: str, db: DbOption = None) -> None:
    """Disable a login and revoke all its tokens."""
    with _logins_store(db) as (_, _, auth):
        auth.set_disabled(username, True)
        out.print(f"login {username} disabled; its tokens are revoked")


@logins_app.command("enable")
def logins_enable(username: str, db: DbOption = None) -> None:
    with _logins_store(db) as (_, _, auth):
        auth.set_disabled(username, False)
        out.print(f"login {username} enabled")


@logins_app.command("revoke-tokens")
def logins_revoke(username: str, db: DbOption = None) -> None:
    """Revoke every token of a login (a running server notices within its token cache time)."""
    with _logins_store(db) as (_, _, auth):
        out.print(f"{auth.revoke_all(username)} token(s) revoked")


# ---------------------------------------------------------------------------------------------
# client (talks HTTP to a server)

client_app = typer.Typer(help="Talk to a running service: sign in, call commands, sign with a local key.",
                         no_args_is_help=True)


def _body(json_text: str | None) -> Any:
    if json_text is None:
        return None
    if json_text.startswith("@"):
        json_text = Path(json_text[1:]).read_text(encoding="utf-8")
    try:
        return loads_bounded(json_text)
    except JsonInputError as error:
        _fail(f"--json is not JSON: {error}", 2)


def _print_answer(answer: Any) -> None:
    out.print_json(json.dumps({"status": answer.status_code, "replayed": answer.replayed, "body": answer.body},
                              ensure_ascii=False))
    if answer.status_code >= 400:
        raise typer.Exit(1)


@client_app.command("login")
def client_login(username: Annotated[str, typer.Option()], server: ServerOption = "http://127.0.0.1:8000",
                 password_env: Annotated[str, typer.Option(help="Environment variable holding the password")]
                 = "TIMELEDGER_PASSWORD") -> None:
    """Sign in; prints the bearer token (use it as --token or TIMELEDGER_TOKEN)."""
    from api.client import Client, ClientError

    password = os.environ.get(password_env) or typer.prompt("password", hide_input=True)
    try:
        with Client(server) as client:
            body = client.login(username, password)
    except ClientError as error:
        _fail(str(error))
    out.print(body["access_token"])


@client_app.command("keygen")
def client_keygen(out_file: Annotated[Path, typer.Option("--out", help="Private key file to create (0600)")]) -> None:
    """Make a local Ed25519 key: the private key stays in the file; register the printed public key
    with POST /v1/keys (done by the actor that certifies you)."""
    from api.provision import write_secret
    from ledger.signing import keys as ed25519

    private = ed25519.generate()
    public = ed25519.public_bytes(private.public_key())
    write_secret(out_file, "# timeledger client key (Ed25519, raw, base64)\n"
                 + base64.b64encode(ed25519.private_bytes(private)).decode() + "\n")
    out.print_json(json.dumps({"key_id": ed25519.key_id_of(public), "public_key": ed25519.b64(public),
                               "private_key_file": str(out_file)}))


@client_app.command("call")
def client_call(method: str, path: str, server: ServerOption = "http://127.0.0.1:8000", token: TokenOption = None,
                json_body: Annotated[str | None, typer.Option("--json", help="Body (JSON, or @file)")] = None,
                idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key")] = None) -> None:
    """Call an endpoint; commands are signed by the service with your server-held key."""
    from api.client import Client

    with Client(server, token=token) as client:
        _print_answer(client.call(method, path, _body(json_body), idempotency_key=idempotency_key))


@client_app.command("submit")
def client_submit(method: str, path: str,
                  key: Annotated[Path, typer.Option(help="Local private key file (from `client keygen`)")],
                  server: ServerOption = "http://127.0.0.1:8000", token: TokenOption = None,
                  json_body: Annotated[str | None, typer.Option("--json", help="Body (JSON, or @file)")] = None,
                  idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key (default: new)")]
                  = None) -> None:
    """Sign a command with a local key: prepare → check → sign → submit. Ids the command would invent
    (session_id, redemption_id, …) must be in the body."""
    from api.client import Client, ClientError, load_private_key

    private = load_private_key(key.read_text())
    with Client(server, token=token) as client:
        try:
            answer = client.submit_signed(method, path, _body(json_body), private, idempotency_key=idempotency_key)
        except ClientError as error:
            _fail(str(error))
        _print_answer(answer)


def register(app: typer.Typer) -> None:
    """Add the service commands to the `timeledger` CLI."""
    app.command("serve")(serve)
    app.add_typer(logins_app, name="logins")
    app.add_typer(client_app, name="client")
