"""The ledger's commands of `timeledger` (the entry point is api/cli). Every command takes `--db URL`
(or TIMELEDGER_DATABASE_URL)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, Optional
from uuid import UUID

import typer
from rich.markup import escape
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.application import Ledger
from ledger.domain.base import CLOCK
from ledger.domain.errors import LedgerError
from ledger.storage.database import ConfigurationError, parse_database_url
from ledger.signing import keys as ed25519
from ledger.signing.canonical import loads_bounded

app = typer.Typer(help="The ledger's commands (registered into `timeledger` by api/cli).", no_args_is_help=True,
                  add_completion=False)
keys_app = typer.Typer(help="Trust-root and signing-key commands.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)
out = Console()

DbOption = Annotated[Optional[str], typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://…); "
                                                 "default $TIMELEDGER_DATABASE_URL or sqlite:///timeledger.db")]


def open_ledger(db: str | None) -> Ledger:
    try:
        return Ledger(db)
    except ConfigurationError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _code_and_detail(error: LedgerError) -> str:
    return f"{error.code}: {error.detail}"


# How a refusal reads on the command line. The ledger knows no message catalogue: the `timeledger`
# entry point (api/cli) calls `describe_refusals_with` with one that puts the Chinese message first.
_describe_refusal: list[Callable[[LedgerError], str]] = [_code_and_detail]


def describe_refusals_with(describe: Callable[[LedgerError], str]) -> None:
    _describe_refusal[0] = describe


# How the CLI sends a signed message to a peer region's service: HTTP lives in the api ring, whose entry
# point (api/cli) calls `send_to_peers_with`; without it `settlement exchange` says it cannot send.
_send_to_peer: list[Callable[[str, bytes], tuple[int, bytes]] | None] = [None]


def send_to_peers_with(post: Callable[[str, bytes], tuple[int, bytes]]) -> None:
    _send_to_peer[0] = post


def refusal_text(error: LedgerError) -> str:
    return _describe_refusal[0](error)


def refused(error: LedgerError, code: int = 1) -> NoReturn:
    """Stop the command with the refusal's message (Chinese first, then code and detail)."""
    fail(refusal_text(error), code)


def root_key_path(db: str | None) -> Path:
    database = parse_database_url(db)
    if database.kind == "sqlite" and database.sqlite_path and not database.sqlite_path.startswith("file:"):
        return Path(f"{database.sqlite_path}.province.key")
    return Path("timeledger-province.key")


def write_secret_file(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def read_trust_root(path: Path) -> bytes:
    text = path.read_text().strip().splitlines()
    lines = [line for line in text if line and not line.startswith("#")]
    if not lines:
        raise ValueError(f"{path} holds no key")
    raw = base64.b64decode(lines[-1].split()[-1])
    if len(raw) != ed25519.PUBLIC_KEY_BYTES:
        raise ValueError(f"{path} does not hold a 32-byte Ed25519 public key")
    return raw


@app.command()
def init(region: Annotated[str, typer.Option(help="6-digit GB/T 2260 code, e.g. 320102")],
         name: Annotated[str, typer.Option(help="Region name, e.g. 南京市玄武区")],
         display_name: Annotated[Optional[str], typer.Option(help="Scheme name shown to users")] = None,
         root_key: Annotated[Optional[Path], typer.Option(help="Province root private key file (raw 32 bytes, "
                                                          "base64); a new one is made if omitted")] = None,
         db: DbOption = None) -> None:
    """Create a region: trust root, region key, settings and the default scoring policy."""
    ledger = open_ledger(db)
    province_key = None
    if root_key is None and ledger.region_code is None and root_key_path(db).exists():  # a region needs its key
        fail(f"{root_key_path(db)} already exists: move it away or pass --root-key", 2)
    if root_key is not None:
        province_key = ed25519.load_private(base64.b64decode(root_key.read_text().strip()))
    try:
        root = ledger.init_region(code=region, name=name, display_name=display_name, province_key=province_key)
    except LedgerError as error:
        refused(error)
    if root_key is None:
        path = root_key_path(db)
        write_secret_file(path, base64.b64encode(ed25519.private_bytes(root)).decode() + "\n")
        console.print(f"province root private key written to {path} (0600): keep it offline")
    public = ed25519.public_bytes(root.public_key())
    out.print(f"region {region} {name} initialised; trust root key {ed25519.key_id_of(public)}")


@app.command()
def demo(members: Annotated[int, typer.Option(min=10, max=20000, help="Members to generate")] = 240,
         year: Annotated[int, typer.Option(min=2014, max=2100)] = 2026,
         seed: Annotated[int, typer.Option()] = 2014,
         root_key_out: Annotated[Optional[Path], typer.Option(help="Where to keep the province root's private key "
                                                              "(0600); default: beside a SQLite database, else "
                                                              "not kept")] = None,
         db: DbOption = None) -> None:
    """Fill an empty database with a realistic region year (initialising 320102 南京市玄武区 if needed)."""
    from ledger.demo import check_demo_fits, demo_start, generate

    ledger = open_ledger(db)
    if ledger.secrets.get_setting("demo_loaded"):
        fail("this database already holds the demo year; use a new database", 2)
    key_path = root_key_out or (root_key_path(db) if ledger.database.kind == "sqlite" else None)
    if ledger.region_code is None and key_path is not None and key_path.exists():
        fail(f"{key_path} already exists: move it away first", 2)
    try:
        check_demo_fits(ledger, year)
    except LedgerError as error:
        refused(error, 2)
    if demo_start(year) > CLOCK.get()():
        fail(f"demo_year_in_future: {year} 年尚未开始，演示事件不能签在未来 / the {year} demo year has not "
             "begun: its events would be signed in the future (choose --year up to this year)", 2)
    with Progress(TextColumn("[bold]demo[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("demo", total=members * 2 + 5)
        summary = generate(ledger, members=members, year=year, seed=seed,
                           progress=lambda n: bar.update(task, completed=n))
    ledger.secrets.set_setting("demo_loaded", "1")
    if summary.root_private_key is not None and key_path is not None:
        write_secret_file(key_path, base64.b64encode(summary.root_private_key).decode() + "\n")
        console.print(f"province root private key written to {key_path} (0600): keep it offline")
    elif summary.root_private_key is not None:  # never into the working directory by default
        console.print("province root private key not kept (pass --root-key-out FILE to keep it)")
    table = Table(title=f"demo region {summary.region_code} year {year}")
    for label, value in [("units", summary.units), ("communities", summary.communities),
                         ("members", summary.members), ("registered (报到)", summary.registered),
                         ("never reported", summary.never_reported), ("sessions", summary.sessions),
                         ("certified", summary.certified), ("redemptions", summary.redemptions),
                         ("events", summary.events)]:
        table.add_row(label, str(value))
    out.print(table)


@app.command()
def verify(trust: Annotated[Optional[Path], typer.Option(help="Trust root public key file (from "
                                                         "`keys export-root`); default: the one recorded at init")] = None,
           workers: Annotated[Optional[int], typer.Option(help="Signature-checking processes (0 = inline)")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
           db: DbOption = None) -> None:
    """Verify every event: signatures, hash chains, key certification and revocation, replay."""
    from ledger.verification.store import verify_store

    ledger = open_ledger(db)
    if ledger.region_code is None:
        fail("the database holds no region (run `timeledger init` or `timeledger demo`)", 2)
    root = read_trust_root(trust) if trust else base64.b64decode(ledger.root_public_key())
    total = ledger.recorder.max_notification_id() or 0
    with Progress(TextColumn("[bold]verify[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("verify", total=total)
        report = verify_store(ledger.database, root_public_key=root, region_code=ledger.region_code,
                              recorder=ledger.recorder, workers=workers,
                              progress=lambda n: bar.update(task, completed=n))
    if as_json:
        out.print_json(json.dumps({"ok": report.ok, "events_checked": report.events_checked,
                                   "aggregates_checked": report.aggregates_checked, "by_type": report.by_type,
                                   "problems": [vars(p) for p in report.problems]}, ensure_ascii=False))
    else:
        table = Table(title=f"verified {report.events_checked} events in {report.aggregates_checked} aggregates")
        table.add_column("event type")
        table.add_column("count", justify="right")
        for event_type, count in sorted(report.by_type.items()):
            table.add_row(event_type, str(count))
        out.print(table)
        for problem in report.problems:
            out.print(f"[red]BAD[/red] {escape(str(problem))}", soft_wrap=True)  # stored text is not markup
        out.print("[green]OK[/green]: every event verifies" if report.ok
                  else f"[red]FAILED[/red]: {len(report.problems)} problem(s)")
    raise typer.Exit(0 if report.ok else 1)


@app.command("erase-personal-data")
def erase_personal_data(member: Annotated[str, typer.Option(help="Member id")],
                        reason: Annotated[str, typer.Option(help="Why (recorded in the signed event)")] = "党员本人申请",
                        db: DbOption = None) -> None:
    """Crypto-shred a member's personal data: their hours stay verifiable, the fields become unreadable."""
    ledger = open_ledger(db)
    try:
        member_id = UUID(member)
    except ValueError:
        fail(f"{member!r} is not a member id")
    try:
        ledger.erase_personal_data(actor=ledger.region_actor(), member_id=member_id, reason=reason)
    except LedgerError as error:
        refused(error)
    out.print(f"personal data of member {member_id} erased (data key destroyed)")


@app.command()
def info(db: DbOption = None) -> None:
    """What the database holds."""
    ledger = open_ledger(db)
    if ledger.region_code is None:
        fail("the database holds no region", 2)
    region = ledger.get_region()
    out.print(f"region {region.code} {region.name} · {region.display_name} · "
              f"{ledger.recorder.max_notification_id() or 0} events · database {ledger.database.kind}")


transfer_app = typer.Typer(help="转移接续: move a member's history to another region (files transport).",
                            no_args_is_help=True)
region_app = typer.Typer(help="This region's card and its federation registry.", no_args_is_help=True)
settlement_app = typer.Typer(help="通存通兑 settlement with another region: signed statements of who owes whom.",
                              no_args_is_help=True)
app.add_typer(transfer_app, name="transfer")
app.add_typer(region_app, name="region")
app.add_typer(settlement_app, name="settlement")


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        fail(f"{value!r} is not a {what} id")
        raise


@region_app.command("card")
def region_card_command(out_file: Annotated[Path, typer.Option("--out", help="Where to write the card (JSON)")],
                        address: Annotated[str, typer.Option(help="This region's service URL")] = "",
                        db: DbOption = None) -> None:
    """Write this region's card (keys and root-signed certificate) for other regions to register."""
    from ledger.application import transfers

    card = transfers.region_card(open_ledger(db), address=address)
    out_file.write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n")
    out.print(f"region card of {card['code']} {card['name']} written to {out_file}")


@region_app.command("add-peer")
def region_add_peer(card_file: Annotated[Path, typer.Argument(help="The other region's card")],
                    db: DbOption = None) -> None:
    """Register another region (its key must be certified by our trust root)."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    try:
        card = loads_bounded(card_file.read_bytes())
        if not isinstance(card, dict):
            raise ValueError("地区名片须为 JSON 对象 / a region card is a JSON object")
        transfers.register_peer(ledger, card)
    except (ValueError, TypeError, KeyError, LedgerError) as error:
        fail(getattr(error, "detail", str(error)))
    out.print(f"region {card['code']} {card['name']} registered as a peer")


@region_app.command("set-transfer-timeout")
def region_set_transfer_timeout(
        days: Annotated[int, typer.Option(help="Days a transfer-out waits for the destination's receipt")],
        reason: Annotated[str, typer.Option(help="Why (signed into the event)")],
        db: DbOption = None) -> None:
    """Set how many days a pending transfer-out waits for its receipt before it may be voided."""
    ledger = open_ledger(db)
    try:
        ledger.set_transfer_timeout(actor=ledger.region_actor(), days=days, reason=reason)
    except LedgerError as error:
        fail(error.detail)
    out.print(f"transfer timeout set to {days} days")


def _hours(minutes: int) -> str:
    from ledger.domain.display import duration_text

    return duration_text(minutes)


@settlement_app.command("list")
def settlement_list(db: DbOption = None) -> None:
    """For each peer region: cross-region redemptions captured both ways, by this region's own log."""
    from ledger.application import settlement

    ledger = open_ledger(db)
    peers = ledger.get_region().peers
    if not peers:
        out.print("no peer regions registered (timeledger region add-peer)")
    captured = settlement.captures_by_peer(ledger)
    for code, peer in sorted(peers.items()):
        both = captured.get(code, settlement.Captures())
        owed, due = both.we_owe_minutes, both.they_owe_minutes
        pending = sum(entry.minutes for entry in both.offline_pending)
        out.print(f"{code} {peer['name']}: 本区党员在该区兑换 {len(both.as_home)} 笔 {_hours(owed)}；该区党员在本区兑换 "
                  f"{len(both.as_counter)} 笔 {_hours(due)}；净额 {'+' if due >= owed else '−'}{_hours(abs(due - owed))}"
                  + (f"；离线先行待补报 {len(both.offline_pending)} 笔 {_hours(pending)}" if both.offline_pending else ""))


@settlement_app.command("show")
def settlement_show(peer: Annotated[str, typer.Option("--peer", help="The other region's code")],
                    out_file: Annotated[Path, typer.Option("--out", help="Where to write the signed statement")],
                    db: DbOption = None) -> None:
    """Write this region's signed settlement statement with a peer (bound to a new checkpoint)."""
    from ledger.application import settlement

    ledger = open_ledger(db)
    try:
        statement = settlement.make_statement(ledger, peer)
    except LedgerError as error:
        refused(error)
    out_file.write_bytes(statement)
    totals = json.loads(statement)["body"]["totals"]
    out.print(f"settlement statement with {peer} written to {out_file}: 本区党员在该区兑换 "
              f"{_hours(totals['as_home_minutes'])}，该区党员在本区兑换 {_hours(totals['as_counter_minutes'])}")


@settlement_app.command("verify")
def settlement_verify(statement_file: Annotated[Path, typer.Argument(help="A peer region's signed statement",
                                                                     exists=True, dir_okay=False)],
                      db: DbOption = None) -> None:
    """Check a peer's statement against this region's own log; name every redemption in dispute.
    Exit 0 when the two agree, 1 when any redemption is in dispute."""
    from ledger.application import settlement

    ledger = open_ledger(db)
    try:
        verdict = settlement.verify_statement(ledger, statement_file.read_bytes())
    except LedgerError as error:
        refused(error)
    out.print(f"{verdict.peer}: {verdict.agreed} 笔一致（对方党员在本区 {_hours(verdict.agreed_minutes_they_owe)}，"
              f"本区党员在对方 {_hours(verdict.agreed_minutes_we_owe)}）")
    for dispute in verdict.disputes:
        ours = "无记录" if dispute.ours is None else _hours(dispute.ours)
        theirs = "无记录" if dispute.theirs is None else _hours(dispute.theirs)
        out.print(f"[red]争议[/red] {dispute.redemption_id}：本区 {ours}，对方 {theirs}")
    if not verdict.ok:
        raise typer.Exit(1)
@settlement_app.command("evidence")
def settlement_evidence(peer: Annotated[str, typer.Option("--peer", help="The other region's code")],
                        out_file: Annotated[Path, typer.Option("--out", help="Where to write the evidence (JSON)")],
                        db: DbOption = None) -> None:
    """Write the evidence an auditor checks offline (`settlement audit`): this region's signed statement
    with the peer, the capture event behind every entry and the key events of every signer, each with its
    inclusion proof against the statement's checkpoint."""
    from ledger.application import settlement

    ledger = open_ledger(db)
    try:
        evidence = settlement.make_evidence(ledger, peer)
    except LedgerError as error:
        refused(error)
    out_file.write_bytes(evidence)
    out.print(f"settlement evidence with {peer} written to {out_file} ({len(evidence):,} bytes)")


@settlement_app.command("audit")
def settlement_audit(first: Annotated[Path, typer.Argument(help="One region's evidence (`settlement evidence`)",
                                                           dir_okay=False)],
                     second: Annotated[Path, typer.Argument(help="The other region's evidence", dir_okay=False)],
                     trust: Annotated[list[Path], typer.Option(
                         help="A trust root public key (`keys export-root`); repeat when the two regions have "
                              "different roots")],
                     as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False) -> None:
    """Check two regions' settlement evidence offline, against both logs' checkpoints, trusting only the
    root public keys: every entry proven in its region's log and signed, and the two statements agreeing
    redemption by redemption. Exit 0 when all verifies and agrees, 1 otherwise (every finding is named)."""
    from ledger.verification.settlement import audit_evidence

    try:
        roots = [read_trust_root(path) for path in trust]
        result = audit_evidence(first.read_bytes(), second.read_bytes(), roots)
    except (OSError, ValueError) as error:
        fail(f"cannot read input: {error}", 2)
    if as_json:
        out.print_json(json.dumps({
            "ok": result.ok, "agreed": result.agreed, "agreed_minutes_by_home": result.agreed_minutes,
            "sides": [{"region": side.region, "peer": side.peer, "made_at": side.made_at,
                       "statement_sha256": side.statement_sha256, "checkpoint_size": side.checkpoint_size,
                       "as_home_minutes": side.as_home_minutes, "as_counter_minutes": side.as_counter_minutes,
                       "entries_proven": side.proven} for side in result.sides],
            "disagreements": [vars(d) for d in result.disagreements],
            "findings": [vars(f) for f in result.findings]}, ensure_ascii=False))
    else:
        for side in result.sides:
            out.print(f"{side.region} → {side.peer}：结算单 {side.statement_sha256[:16]}…，检查点 {side.checkpoint_size}，"
                      f"{side.proven} 笔已在日志中证明；本区党员在对方 {_hours(side.as_home_minutes)}，"
                      f"对方党员在本区 {_hours(side.as_counter_minutes)}", highlight=False)
        out.print(f"{result.agreed} 笔双方一致"
                  + "".join(f"；{home} 的党员共 {_hours(minutes)}" for home, minutes in sorted(result.agreed_minutes.items())),
                  highlight=False)
        for d in result.disagreements:
            at_home = "无记录" if d.at_home is None else _hours(d.at_home)
            at_counter = "无记录" if d.at_counter is None else _hours(d.at_counter)
            out.print(f"[red]争议[/red] {d.redemption_id}：归属地 {d.home} {at_home}，兑换地 {d.counter_region} {at_counter}",
                      highlight=False)
        for finding in result.findings:
            out.print(f"[red]未通过[/red] {escape(str(finding))}", highlight=False)
        out.print("[green]OK[/green]：双方结算单均已核验且一致" if result.ok else "[red]FAILED[/red]", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@settlement_app.command("exchange")
def settlement_exchange(peer: Annotated[str, typer.Option("--peer", help="The other region's code")],
                        db: DbOption = None) -> None:
    """Send this region's statement to the peer's registered address; check the statement it answers
    with against this region's log. Prints both verdicts; exit 1 when either names a dispute."""
    from ledger.application import settlement

    post = _send_to_peer[0]
    if post is None:
        fail("this command needs the service's HTTP client (run it as `timeledger`)")
    ledger = open_ledger(db)
    try:
        done = settlement.exchange(ledger, peer, post, lambda step: step())
    except LedgerError as error:
        refused(error)
    _print_verdict("本区核对对方结算单", settlement.verdict_json(done.ours))
    _print_verdict("对方核对本区结算单", done.theirs)
    if not done.ours.ok or done.theirs.get("ok") is not True:
        raise typer.Exit(1)


def _print_verdict(title: str, verdict: dict[str, Any]) -> None:
    """A verdict as JSON (ours, or the peer's as it reported it: only whole minutes are shown)."""
    def minutes(value: Any) -> str:
        return _hours(value) if type(value) is int and value >= 0 else "无记录"

    out.print(f"{title}：{escape(str(verdict.get('agreed')))} 笔一致（对方党员在本区 "
              f"{minutes(verdict.get('agreed_minutes_they_owe'))}，本区党员在对方 "
              f"{minutes(verdict.get('agreed_minutes_we_owe'))}）", highlight=False)
    disputes = verdict.get("disputes")
    for dispute in disputes if isinstance(disputes, list) else []:
        if isinstance(dispute, dict):
            out.print(f"[red]争议[/red] {escape(str(dispute.get('redemption_id')))}：核对方 "
                      f"{minutes(dispute.get('ours'))}，出具方 {minutes(dispute.get('theirs'))}", highlight=False)


@region_app.command("set-offline-bound")
def region_set_offline_bound(
        minutes: Annotated[int, typer.Option(help="Minutes per member per day a counter may accept offline (0: none)")],
        reason: Annotated[str, typer.Option(help="Why (signed into the event)")],
        per_device: Annotated[Optional[int], typer.Option(
            help="Minutes in all one counter device may accept offline per day (0: no total; default: unchanged)")] = None,
        db: DbOption = None) -> None:
    """Set how many minutes a counter device may redeem offline per member per day, and in all (issue #15)."""
    ledger = open_ledger(db)
    try:
        version = ledger.set_offline_bound(actor=ledger.region_actor(), minutes_per_member_day=minutes, reason=reason,
                                           minutes_per_device_day=per_device)
    except LedgerError as error:
        fail(error.detail)
    total = ledger.get_region().offline_minutes_per_device_day
    out.print(f"offline bound set to {minutes} minutes per member per day"
              + (f", {total} minutes per device per day" if total else "") + f" (version {version})")


@transfer_app.command("start")
def transfer_start(member: Annotated[str, typer.Option(help="Member id")],
                   to: Annotated[str, typer.Option("--to", help="Destination region code")],
                   db: DbOption = None) -> None:
    """Phase 1: freeze the member and write a pending transfer-out (needs the member's consent)."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    try:
        transfer_id = transfers.initiate(ledger, member_id=_uuid(member, "member"), destination=to)
    except LedgerError as error:
        refused(error)
    out.print(f"transfer {transfer_id} pending: member {member} frozen, destination {to}")


@transfer_app.command("export")
def transfer_export(transfer: Annotated[str, typer.Argument(help="Transfer id")],
                    out_file: Annotated[Path, typer.Option("--out", help="Bundle file to write")],
                    db: DbOption = None) -> None:
    """Write the signed bundle of a pending transfer."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    try:
        bundle = transfers.export_bundle(ledger, _uuid(transfer, "transfer"))
    except LedgerError as error:
        refused(error)
    out_file.write_bytes(bundle)
    out.print(f"bundle written to {out_file} ({len(bundle):,} bytes)")


@transfer_app.command("import")
def transfer_import(bundle_file: Annotated[Path, typer.Argument(help="Bundle file from the source region")],
                    receipt: Annotated[Path, typer.Option("--receipt", help="Where to write the signed receipt")],
                    db: DbOption = None) -> None:
    """Phase 2: verify the bundle offline, import the history, credit the balance, sign a receipt
    (or a signed rejection naming what failed)."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    bundle = bundle_file.read_bytes()
    try:
        answer = transfers.import_bundle(ledger, bundle)
    except transfers.TransferRefused as refusal:
        rejection = transfers.rejection_receipt(ledger, bundle, refusal)
        if rejection is not None:
            receipt.write_bytes(rejection.to_bytes())
            console.print(f"signed rejection written to {receipt}")
        refused(refusal)
        return
    except LedgerError as error:
        refused(error)
        return
    receipt.write_bytes(answer.to_bytes())
    out.print(f"imported member {answer.body['member_id']} with {answer.body['balance_minutes']} minutes; "
              f"receipt written to {receipt}")


@transfer_app.command("complete")
def transfer_complete(receipt: Annotated[Path, typer.Argument(help="The destination's signed receipt")],
                      db: DbOption = None) -> None:
    """Phase 3: the destination's receipt completes the transfer (member closed here)."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    try:
        done = transfers.complete(ledger, transfers.Receipt.from_bytes(receipt.read_bytes()))
    except LedgerError as error:
        refused(error)
        return
    out.print(f"transfer {done.id} completed: member {done.member_id} moved to {done.destination}")


@transfer_app.command("answer")
def transfer_answer(bundle_file: Annotated[Path, typer.Argument(help="Bundle file from the source region")],
                    answer: Annotated[Path, typer.Option("--answer", help="Where to write the signed answer")],
                    db: DbOption = None) -> None:
    """Destination, after the transfer's expiry: answer the source's query. Writes the signed receipt
    if this region imported the transfer, else records and signs "not imported" (this region then
    never imports it)."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    try:
        signed = transfers.status_answer(ledger, bundle_file.read_bytes())
    except LedgerError as error:
        refused(error)
        return
    answer.write_bytes(signed.to_bytes())
    out.print(f"signed answer ({signed.body['kind']}) written to {answer}")


@transfer_app.command("void")
def transfer_void(transfer: Annotated[str, typer.Argument(help="Transfer id")],
                  rejection: Annotated[Optional[Path], typer.Option(
                      help="The destination's signed rejection, or its 'not imported' answer after the expiry "
                           "(timeledger transfer answer)")] = None,
                  force: Annotated[bool, typer.Option(
                      "--force", help="After the expiry, for a destination that never answers: void without its "
                                      "answer (recorded as forced; needs --reason)")] = False,
                  reason: Annotated[str, typer.Option(help="Why the void is forced (recorded in the event)")] = "",
                  db: DbOption = None) -> None:
    """Phase 3: void with the destination's signed rejection or "not imported" answer. A timeout alone
    voids nothing (the destination may have imported); --force --reason is the admin's override."""
    from ledger.application import transfers

    ledger = open_ledger(db)
    try:
        if force:
            if rejection is not None:
                fail("--force carries no answer: give --rejection or --force, not both")
                return
            done = transfers.force_void(ledger, _uuid(transfer, "transfer"), reason=reason)
        else:
            answer = transfers.Receipt.from_bytes(rejection.read_bytes()) if rejection else None
            done = transfers.void(ledger, _uuid(transfer, "transfer"), rejection=answer)
    except LedgerError as error:
        refused(error)
        return
    forced = " — forced by the region admin after the timeout" if done.void_forced else ""
    out.print(f"transfer {done.id} voided ({done.void_reason}){forced}; member {done.member_id} unfrozen")


calendar_app = typer.Typer(help="工作日日历: the State Council's holidays (法定节假日) and make-up working days (调休).",
                            no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
CALENDAR_FILE_BYTES_MAX = 64 * 1024  # a year's calendar is ~2 KB


@calendar_app.command("publish")
def calendar_publish(year: Annotated[int, typer.Option(min=2000, max=2100, help="The calendar year")],
                     file: Annotated[Path, typer.Option("--file", help="JSON: holidays, workdays (YYYY-MM-DD lists), "
                                                        "source (the notice's title), published_on")],
                     db: DbOption = None) -> None:
    """Publish a year's holiday calendar as a signed, versioned region event."""
    from ledger.signing.canonical import JsonInputError, loads_bounded

    ledger = open_ledger(db)
    if ledger.region_code is None:
        fail("the database holds no region", 2)
    try:
        raw = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}")
        raise
    if len(raw) > CALENDAR_FILE_BYTES_MAX:
        fail(f"{file} is larger than {CALENDAR_FILE_BYTES_MAX} bytes")
    try:
        body = loads_bounded(raw)
    except JsonInputError as error:
        fail(f"{file}: {error}")
        raise
    if not isinstance(body, dict) or not {"holidays", "workdays", "source"} <= set(body):
        fail(f"{file} must be a JSON object with holidays, workdays, source (and published_on)")
    try:
        version = ledger.publish_calendar(actor=ledger.region_actor(), year=year, holidays=body["holidays"],
                                          workdays=body["workdays"], source=body["source"],
                                          published_on=body.get("published_on"))
    except LedgerError as error:
        refused(error)
    out.print(f"calendar {year} published: version {version} "
              f"({len(body['holidays'])} holidays, {len(body['workdays'])} make-up working days)")


@calendar_app.command("show")
def calendar_show(year: Annotated[int, typer.Option(min=2000, max=2100, help="The calendar year")],
                  db: DbOption = None) -> None:
    """The calendar in force for a year: published by the region, shipped, or Monday–Friday."""
    ledger = open_ledger(db)
    if ledger.region_code is None:
        fail("the database holds no region", 2)
    calendar = ledger.work_calendar().years.get(year)
    if calendar is None:
        out.print(f"{year}: no holiday calendar published; working days are Monday–Friday "
                  f"(未发布法定节假日安排，按周一至周五计算)")
        return
    notice = f" ({calendar.published_on.isoformat()})" if calendar.published_on else ""
    out.print(f"{year}: {calendar.origin} · {calendar.source}{notice}")
    out.print("holidays 放假: " + ", ".join(d.isoformat() for d in sorted(calendar.holidays)))
    out.print("make-up working days 调休上班: " + (", ".join(d.isoformat() for d in sorted(calendar.workdays)) or "—"))


@app.command()
def backup(out_file: Annotated[Path, typer.Option("--out", help="Backup file to create (0600; must not exist)")],
           db: DbOption = None) -> None:
    """Back up the whole store while it runs: SQLite's online backup API, or pg_dump of the schema.
    The master key is not in the backup: keep it apart."""
    from ledger.storage import backup as backups

    database = parse_database_url(db)
    try:
        with Progress(TextColumn("[bold]backup[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("backup", total=None)
            state = backups.backup(database, out_file,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    except backups.BackupRefused as refusal:
        fail(str(refusal))
        return
    out.print(f"backup written to {out_file} (0600): {state.describe()}; master key {state.master_key_id or '-'} "
              "is not in the backup, keep it apart")


@app.command()
def restore(backup_file: Annotated[Path, typer.Argument(help="A file from `timeledger backup`")],
            force: Annotated[bool, typer.Option(help="Restore even if it rolls the store back behind a "
                                                     "checkpoint it has published or loses events")] = False,
            db: DbOption = None) -> None:
    """Restore a backup into this store (refused while a server runs on it, under another master
    key, or when it would roll the store back, unless --force). Then run `verify` and `audit`."""
    from ledger.storage import backup as backups
    from ledger.storage.database import WriterLock

    database = parse_database_url(db)
    if not backup_file.is_file():
        fail(f"{backup_file} 不存在 / {backup_file} does not exist", 2)
    try:
        with WriterLock(database), Progress(TextColumn("[bold]restore[/bold]"), BarColumn(), MofNCompleteColumn(),
                                            TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("restore", total=None)
            restored = backups.restore(database, backup_file, force=force,
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    except backups.BackupRefused as refusal:
        fail(str(refusal))
        return
    except ConfigurationError as error:
        fail(str(error), 2)
        return
    for problem in restored.forced_over:
        console.print(f"[yellow]forced:[/yellow] {problem}")
    out.print(f"restored {backup_file}: {restored.state.describe()}; "
              "now run `timeledger verify` and `timeledger audit`")


@keys_app.command("export-root")
def export_root(out_file: Annotated[Path, typer.Option("--out", help="Where to write the public key")],
                db: DbOption = None) -> None:
    """Write the trust root's public key, for auditors and other regions."""
    ledger = open_ledger(db)
    public = ledger.root_public_key()
    out_file.write_text(f"# timeledger trust root, region {ledger.region_code}, key "
                        f"{ed25519.key_id_of(base64.b64decode(public))}\n{public}\n")
    out.print(f"trust root public key written to {out_file}")


def register(root: typer.Typer) -> None:
    """Add the ledger's own commands (init, demo, verify, keys, transfer, region, calendar, backup …) to `root`."""
    root.registered_commands.extend(app.registered_commands)
    root.registered_groups.extend(app.registered_groups)
