"""CLI of the auditor's toolkit: `timeledger checkpoint | proof … | certificate … | audit`."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Optional
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.commands import store as base
from ledger.verification.audit import ReadModels

from ledger.domain.display import duration_text
from ledger.domain.values import Assurance

DbOption = Annotated[Optional[str], typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://…); "
                                                 "default $TIMELEDGER_DATABASE_URL or sqlite:///timeledger.db")]


@dataclass(frozen=True)
class Collaborators:
    """What these commands take from the rings above (the ledger draws no PDF and knows no read
    models): given by the `timeledger` entry point (api/cli) to `register`."""

    render_certificate_pdf: Callable[..., bytes]
    read_models: Callable[[], ReadModels]


_collaborators: list[Collaborators] = []


def _given() -> Collaborators:
    if not _collaborators:
        raise RuntimeError("ledger.commands.transparency.register(app, ...) was not called")
    return _collaborators[-1]


def _open(db: str | None) -> Any:
    ledger = base.open_ledger(db)
    if ledger.region_code is None:
        base.fail("the database holds no region (run `timeledger init` or `timeledger demo`)", 2)
    return ledger


def checkpoint(cosign_with: Annotated[Optional[Path], typer.Option(
                   "--cosign-with", help="Witness private key file (base64 32-byte seed, or PRIVATE+KEY+…): "
                                         "cosign the latest checkpoint instead of making one")] = None,
               witness: Annotated[Optional[str], typer.Option(
                   help="Witness name, e.g. timeledger/320104 (default: the key file's name)")] = None,
               out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the signed note here")] = None,
               db: DbOption = None) -> None:
    """Catch the Merkle log up and sign a checkpoint (or, with --cosign-with, cosign the latest as a witness)."""
    from ledger.application.checkpoints import cosign, load_private_key_file, sign_checkpoint
    from ledger.storage.checkpoints import CheckpointError, CheckpointStore
    from ledger.verification.checkpoints import region_note_verifier, witness_verifier_key
    from ledger.storage.merkle_log import MerkleLog

    ledger = _open(db)
    log = MerkleLog.for_ledger(ledger)
    try:
        if cosign_with is None:
            if witness is not None:
                base.fail("--witness names the key given with --cosign-with", 2)
            made = sign_checkpoint(ledger, log)
            base.console.print(f"checkpoint {made.checkpoint_id}: {made.size} events, signed by region key "
                               f"{made.key_id}")
            base.console.print(f"verifier key: {region_note_verifier(ledger, made.key_id).verifier_key()}", soft_wrap=True)
        else:
            key, key_name = load_private_key_file(cosign_with)
            name = witness or key_name
            if not name:
                base.fail("name the witness with --witness (e.g. timeledger/320104)", 2)
            latest = CheckpointStore.for_log(log).latest() or sign_checkpoint(ledger, log)
            made = cosign(ledger, witness_name=name, witness_key=key, checkpoint=latest, log=log)
            base.console.print(f"checkpoint {made.checkpoint_id} (size {made.size}) cosigned by witness {name}")
            base.console.print(f"witness verifier key: {witness_verifier_key(name, key)}", soft_wrap=True)
    except (CheckpointError, OSError) as error:
        base.fail(str(error))
    if out_file is not None:
        out_file.write_text(made.note)
    typer.echo(made.note, nl=False)


proof_app = typer.Typer(help="Inclusion and consistency proofs as files.", no_args_is_help=True)


@proof_app.command("inclusion")
def proof_inclusion(position: Annotated[Optional[int], typer.Option(help="The event's notification position")] = None,
                    event: Annotated[Optional[str], typer.Option(help="The event as AGGREGATE_ID:VERSION")] = None,
                    out_file: Annotated[Path, typer.Option("--out", help="Where to write the tlog-proof")] = ...,  # type: ignore[assignment]  # typer: ... marks a required option
                    db: DbOption = None) -> None:
    """Write a C2SP tlog-proof of one event (the event itself rides in its `extra` line)."""
    from ledger.application.checkpoints import sign_checkpoint
    from ledger.storage.merkle_log import LogError, MerkleLog
    from ledger.verification.proofs import ProofFileError, inclusion_file, leaf_for

    if (position is None) == (event is None):
        base.fail("name the event with exactly one of --position N or --event AGGREGATE_ID:VERSION", 2)
    named: tuple[str, int] | None = None
    if event is not None:
        aggregate, _, version = event.rpartition(":")
        try:
            named = (str(UUID(aggregate)), int(version))
        except ValueError:
            base.fail(f"{event!r} is not AGGREGATE_ID:VERSION", 2)
    ledger = _open(db)
    log = MerkleLog.for_ledger(ledger)
    try:
        made = sign_checkpoint(ledger, log, reuse_latest=True)
        leaf = leaf_for(log, position=position, event=named)
        text = inclusion_file(log, made, leaf)
    except (ProofFileError, LogError) as error:
        base.fail(str(error))
    out_file.write_text(text)
    base.out.print(f"inclusion proof of leaf {leaf.index} ({leaf.event_type} {leaf.aggregate_id} v{leaf.version}, "
                   f"position {leaf.position}) in checkpoint {made.checkpoint_id} (size {made.size}) written to "
                   f"{out_file}")


@proof_app.command("consistency")
def proof_consistency(size_from: Annotated[int, typer.Option("--from", min=0, help="The older tree size")],
                      size_to: Annotated[Optional[int], typer.Option("--to", min=0, help="The newer tree size "
                                                                     "(default: the latest checkpoint's)")] = None,
                      out_file: Annotated[Optional[Path], typer.Option("--out", help="Write here, not stdout")] = None,
                      db: DbOption = None) -> None:
    """Prove that the log of --from events is a prefix of the log of --to events."""
    from ledger.storage.checkpoints import CheckpointStore
    from ledger.storage.merkle_log import MerkleLog
    from ledger.verification.proofs import ProofFileError, consistency_file

    ledger = _open(db)
    log = MerkleLog.for_ledger(ledger)
    if size_to is None:
        latest = CheckpointStore.for_log(log).latest()
        if latest is None:
            base.fail("there is no checkpoint yet: run `timeledger checkpoint` or give --to", 2)
        size_to = latest.size
    try:
        text = consistency_file(log, size_from, size_to)
    except ProofFileError as error:
        base.fail(str(error), 2)
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        out_file.write_text(text)
        base.out.print(f"consistency proof {size_from} → {size_to} written to {out_file}")


@proof_app.command("verify")
def proof_verify(proof_file: Annotated[Path, typer.Argument(help="A proof file from `proof inclusion|consistency`")],
                 trust: Annotated[Optional[Path], typer.Option(help="Trust root public key file (`keys export-root`); "
                                                               "default: the one recorded at init")] = None,
                 key: Annotated[Optional[str], typer.Option(help="Pin one checkpoint verifier key (name+id+base64) "
                                                            "instead of the region keys chained to the trust "
                                                            "root")] = None,
                 db: DbOption = None) -> None:
    """Check a proof file; fails closed unless every tree it names carries a checkpoint signed by a region key
    that the trust root certified (and that was valid when it signed)."""
    from ledger.signing.note import NoteError, parse_verifier_key
    from ledger.storage.checkpoints import CheckpointError
    from ledger.verification.checkpoints import RegionKeyring
    from ledger.verification.proofs import CONSISTENCY_HEADER, ProofFileError, verify_consistency_file
    from ledger.verification.proofs import verify_inclusion_file

    try:
        text = proof_file.read_bytes()
    except OSError as error:
        base.fail(f"cannot read {proof_file}: {error}", 2)
    opener: Any
    if key:
        try:
            opener = parse_verifier_key(key)
        except NoteError as error:
            base.fail(f"verifier key: {error}", 2)
    else:
        ledger = _open(db)
        try:
            root = base.read_trust_root(trust) if trust else base64.b64decode(ledger.root_public_key())
            opener = RegionKeyring.from_store(ledger, root)
        except (OSError, ValueError, CheckpointError) as error:
            base.fail(f"trust root: {error}", 2)
    try:
        if text.startswith(CONSISTENCY_HEADER.encode()):
            proof = verify_consistency_file(text, opener)
            base.out.print(f"OK: the log of {proof.size1} events is a prefix of the log of {proof.size2} events")
        else:
            verified = verify_inclusion_file(text, opener)
            base.out.print(f"OK: leaf {verified.index} is in {verified.checkpoint.origin} at size "
                           f"{verified.checkpoint.size}")
    except ProofFileError as error:
        base.console.print(f"FAILED [{error.code}]: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


certificate_app = typer.Typer(help="Hour certificates (志愿服务证明) that verify offline.", no_args_is_help=True)


@certificate_app.command("issue")
def certificate_issue(member: Annotated[str, typer.Option(help="Member id")],
                      out_file: Annotated[Path, typer.Option("--out", help="Bundle to write (and FILE.pdf)")],
                      year: Annotated[Optional[int], typer.Option(min=2000, max=2100, help="Service year")] = None,
                      date_from: Annotated[Optional[str], typer.Option("--from", help="First service date")] = None,
                      date_to: Annotated[Optional[str], typer.Option("--to", help="Last service date")] = None,
                      db: DbOption = None) -> None:
    """Issue a certificate of a member's certified hours: FILE (JSON bundle) and FILE.pdf."""
    from datetime import date

    from ledger.application.certificates import issue_certificate
    from ledger.verification.certificates import CertificateError
    from ledger.storage.merkle_log import LogError

    try:
        member_id = UUID(member)
        first = date.fromisoformat(date_from) if date_from else None
        last = date.fromisoformat(date_to) if date_to else None
    except ValueError as error:
        base.fail(f"bad argument: {error}", 2)
    ledger = _open(db)
    try:
        issued = issue_certificate(ledger, member_id, year=year, period_from=first, period_to=last)
    except (CertificateError, LogError) as error:
        base.fail(str(error))
    display_name = ledger.get_region().display_name
    out_file.write_bytes(issued.bundle)
    pdf_path = Path(f"{out_file}.pdf")
    pdf_path.write_bytes(_given().render_certificate_pdf(issued.verified, display_name=display_name))
    verified = issued.verified
    base.out.print(f"certificate {issued.number}: {verified.member_name}, {len(verified.sessions)} certified "
                   f"session(s), {verified.total_minutes} minutes ({duration_text(verified.total_minutes)} h:mm)")
    base.out.print(f"written to {out_file} and {pdf_path} (sha256 {issued.sha256})", soft_wrap=True)


@certificate_app.command("verify")
def certificate_verify(bundle_file: Annotated[Path, typer.Argument(help="Certificate bundle (JSON)")],
                       trust: Annotated[Path, typer.Option(help="Trust root public key (`keys export-root`)")],
                       witness: Annotated[Optional[list[str]], typer.Option(
                           help="A witness verifier key (name+id+base64); repeat for several")] = None,
                       quorum: Annotated[int, typer.Option(min=0, help="Witness cosignatures required")] = 0,
                       reference: Annotated[Optional[str], typer.Option(
                           help="The QR code's text: the bundle must match its digest and total")] = None,
                       as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False) -> None:
    """Verify a certificate offline with the trust root's public key alone; print the certified total."""
    from ledger.verification.certificates import CertificateError, parse_reference, verify_certificate

    try:
        root = base.read_trust_root(trust)
        data = bundle_file.read_bytes()
    except (OSError, ValueError) as error:
        base.fail(f"cannot read input: {error}", 2)
    try:
        verified = verify_certificate(data, root, witness_keys=witness or [], witness_quorum=quorum)
        if reference is not None:
            number, digest, minutes = parse_reference(reference)
            if (number, digest, minutes) != (verified.number, verified.bundle_sha256, verified.total_minutes):
                raise CertificateError("the QR reference does not match this bundle (number, SHA-256 or total)")
    except CertificateError as error:
        if as_json:
            base.out.print_json(json.dumps({"ok": False, "reason": str(error)}, ensure_ascii=False))
        else:
            base.console.print(f"[red]FAILED[/red]: {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    hours = duration_text(verified.total_minutes)
    by_assurance = {assurance.value: sum(line.minutes for line in verified.sessions if line.assurance == assurance.value)
                    for assurance in Assurance}  # how the hours were recorded, from the signed events (issue #15)
    if as_json:
        base.out.print_json(json.dumps({
            "ok": True, "number": verified.number, "region": verified.region_code, "member_id": verified.member_id,
            "member_name": verified.member_name, "sessions": len(verified.sessions),
            "total_minutes": verified.total_minutes, "minutes_by_assurance": by_assurance,
            "checkpoint_size": verified.checkpoint.size,
            "witnesses": verified.witnesses, "sha256": verified.bundle_sha256}, ensure_ascii=False))
        return
    base.console.print(f"OK: certificate {verified.number} of {verified.member_name} ({verified.member_id}), issued by "
                       f"{verified.region_name} ({verified.region_code}); {len(verified.sessions)} certified "
                       f"session(s) proven in its log at size {verified.checkpoint.size}; "
                       f"reference {verified.reference}", highlight=False, soft_wrap=True)
    base.out.print(f"{verified.total_minutes} minutes ({hours} h:mm); by assurance: "
                   + ", ".join(f"{assurance} {minutes}" for assurance, minutes in by_assurance.items()),
                   highlight=False, soft_wrap=True)


AUDIT_INCOMPLETE_EXIT = 3  # no difference found, but not everything could be compared


def audit(trust: Annotated[Optional[Path], typer.Option(help="Trust root public key file; default: the one recorded "
                                                        "at init")] = None,
          workers: Annotated[Optional[int], typer.Option(help="Signature-checking processes (0 = inline)")] = None,
          verify: Annotated[bool, typer.Option(help="Verify every event's signature and chain too")] = True,
          views: Annotated[bool, typer.Option(help="Compare with the projections (rebuilds them in a scratch "
                                                   "database)")] = True,
          catch_up: Annotated[bool, typer.Option(help="First bring the Merkle log and the projections up to the "
                                                      "store (without it, lagging parts make the audit "
                                                      "INCOMPLETE, exit 3)")] = True,
          as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
          db: DbOption = None) -> None:
    """Replay the whole log: events, Merkle log and checkpoints, balances, points and stars; report differences."""
    from ledger.verification.audit import audit as run_audit
    from ledger.verification.audit import format_report
    from ledger.storage.merkle_log import MerkleLog

    ledger = _open(db)
    root = base.read_trust_root(trust) if trust else None
    log = MerkleLog.for_ledger(ledger)
    with Progress(TextColumn("[bold]audit[/bold] {task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=base.console,
                  transient=True) as bar:
        task = bar.add_task("", total=ledger.recorder.max_notification_id() or 0)
        report = run_audit(ledger, root_public_key=root, verify=verify, workers=workers, log=log,
                           views=_given().read_models() if views else None,
                           catch_up=catch_up,
                           progress=lambda stage, n: bar.update(task, description=stage, completed=n))
    if as_json:
        base.out.print_json(json.dumps({
            "ok": report.ok, "complete": report.complete, "incomplete": report.incomplete, "events": report.events, "events_verified": report.events_verified,
            "leaves": report.leaves, "unlogged": report.unlogged, "root": report.root.hex(),
            "checkpoints": report.checkpoints, "accounts": report.accounts, "views": report.views_compared,
            "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
            "differences": [vars(d) for d in report.differences]}, ensure_ascii=False))
    else:
        for line in format_report(report):
            base.out.print(line, highlight=False, markup=False, soft_wrap=True)
        base.out.print("OK: no differences" if report.ok else f"FAILED: {len(report.differences)} difference(s)"
                       if report.differences else f"INCOMPLETE: {len(report.incomplete)} comparison(s) not made",
                       highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1 if report.differences else AUDIT_INCOMPLETE_EXIT)


def register(app: typer.Typer, collaborators: Collaborators) -> None:
    """Add `checkpoint`, `proof …`, `certificate …` and `audit` to the `timeledger` CLI."""
    _collaborators.append(collaborators)
    app.command("checkpoint")(checkpoint)
    app.add_typer(proof_app, name="proof")
    app.add_typer(certificate_app, name="certificate")
    app.command("audit")(audit)
