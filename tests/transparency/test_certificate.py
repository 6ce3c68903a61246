"""Hour certificates: issue and verify offline; every mutation is rejected with a clear reason."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from ledger.signing import merkle
from ledger.signing.canonical import canonical_bytes
from ledger.signing.note import Checkpoint, Ed25519Signer, parse_note, sign_note
from ledger.application.certificates import issue_certificate
from ledger.verification.certificates import CertificateError, parse_reference, verify_certificate
from ledger.application.checkpoints import cosign
from ledger.verification.checkpoints import witness_verifier_key
from ledger.signing.statement import event_type_of
from projections.render.certificate import render_certificate_pdf
from tests.scenario import at_day
from tests.transparency.helpers import build_history

runner = CliRunner()


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One region (SQLite file) and certificates of its two members, shared by the mutation tests."""
    path = tmp_path_factory.mktemp("cert") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    history = build_history(ledger)
    first, second = history.region.members
    a = issue_certificate(ledger, first.actor_id, year=2026)
    b = issue_certificate(ledger, second.actor_id, year=2026)
    result = {"ledger": ledger, "history": history, "a": a, "b": b, "root": history.region.root_public_key}
    yield result
    ledger.close()


def document(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def encode(doc: dict[str, Any]) -> bytes:
    return canonical_bytes(doc, checked=False)


def rejected(data: bytes, root: bytes, *needles: str) -> str:
    with pytest.raises(CertificateError) as caught:
        verify_certificate(data, root)
    reason = str(caught.value)
    for needle in needles:
        assert needle in reason, reason
    return reason


# ---------------------------------------------------------------------------------------------- round trip


def test_certificate_certifies_exactly_the_members_certified_minutes(any_ledger: Ledger) -> None:
    history = build_history(any_ledger)
    root = history.region.root_public_key
    for member in history.region.members:
        issued = issue_certificate(any_ledger, member.actor_id, year=2026)
        verified = verify_certificate(issued.bundle, root)
        assert verified.total_minutes == history.certified_2026[member.actor_id]
        assert verified.member_id == str(member.actor_id) and verified.region_code == "320102"
        assert all(line.service_date.year == 2026 for line in verified.sessions)
        assert verified.bundle_sha256 == issued.sha256
        assert parse_reference(verified.reference) == (issued.number, issued.sha256, verified.total_minutes)
    first = history.region.members[0]
    whole = verify_certificate(issue_certificate(any_ledger, first.actor_id).bundle, root)
    assert whole.total_minutes == history.certified_2026[first.actor_id] + 45  # with the 2025 session
    numbers = [issue_certificate(any_ledger, first.actor_id, year=2025).number for _ in range(2)]
    assert numbers[0] != numbers[1] and all(n.startswith("320102-") for n in numbers)
    empty = verify_certificate(issue_certificate(any_ledger, first.actor_id, year=2024).bundle, root)
    assert empty.total_minutes == 0 and empty.sessions == []


def test_bundle_holds_no_personal_fields(issued: dict[str, Any]) -> None:
    doc = document(issued["a"].bundle)
    types = set()
    for entry in doc["events"]:
        envelope = base64.b64decode(entry["event"])
        types.add(event_type_of(envelope))
        assert b"15195888588" not in envelope and b"personal_sealed" not in envelope
    assert types <= {"Key.Registered", "Key.Revoked", "Member.Enrolled", "Region.Initialised",
                     "Community.Registered", "ServiceSession.Recorded", "ServiceSession.Rated",
                     "ServiceSession.Certified", "ServiceSession.Corrected"}
    assert "Member.Registered" not in types and "TimeAccount.Credited" not in types


# ------------------------------------------------------------------------------------------------- mutations


@settings(max_examples=40)
@given(pick=st.integers(min_value=0), offset=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_of_any_event_is_rejected_naming_the_event(issued, pick, offset, bit) -> None:
    doc = document(issued["a"].bundle)
    entry = doc["events"][pick % len(doc["events"])]
    envelope = bytearray(base64.b64decode(entry["event"]))
    envelope[offset % len(envelope)] ^= 1 << bit
    entry["event"] = base64.b64encode(bytes(envelope)).decode()
    reason = rejected(encode(doc), issued["root"])
    assert f"leaf {entry['index']}" in reason or "event" in reason, reason


@settings(max_examples=40)
@given(pick=st.integers(min_value=0), which=st.integers(min_value=0), byte=st.integers(0, 31),
       bit=st.integers(0, 7))
def test_any_flipped_bit_of_any_proof_hash_is_rejected(issued, pick, which, byte, bit) -> None:
    doc = document(issued["a"].bundle)
    entry = doc["events"][pick % len(doc["events"])]
    if not entry["proof"]:
        return
    path = entry["proof"]
    value = bytearray(base64.b64decode(path[which % len(path)]))
    value[byte] ^= 1 << bit
    path[which % len(path)] = base64.b64encode(bytes(value)).decode()
    rejected(encode(doc), issued["root"], f"(leaf {entry['index']})", "not proven to be in the region's log")


def mutate(issued: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = document(issued["a"].bundle)
    change(doc)
    return encode(doc)


def test_a_changed_index_is_rejected(issued) -> None:
    def shift(doc: dict[str, Any]) -> None:
        last = doc["events"][-1]
        last["index"] += 1

    rejected(mutate(issued, shift), issued["root"], "not proven to be in the region's log")

    def swap(doc: dict[str, Any]) -> None:
        doc["events"][0]["index"], doc["events"][1]["index"] = doc["events"][1]["index"], doc["events"][0]["index"]

    rejected(mutate(issued, swap), issued["root"], "repeated or unsorted")


def test_truncated_extended_or_swapped_paths_are_rejected(issued) -> None:
    def truncate(doc: dict[str, Any]) -> None:
        doc["events"][-1]["proof"].pop()

    def extend(doc: dict[str, Any]) -> None:
        doc["events"][-1]["proof"].append(doc["events"][-1]["proof"][0])

    def swap(doc: dict[str, Any]) -> None:
        path = doc["events"][-1]["proof"]
        path[0], path[1] = path[1], path[0]

    for change in (truncate, extend, swap):
        rejected(mutate(issued, change), issued["root"], "not proven to be in the region's log")


def _checkpoint_lines(note: str) -> tuple[list[str], str]:
    text = parse_note(note).text
    return text.split("\n"), note[len(text):]


def test_a_changed_checkpoint_size_root_or_time_is_rejected(issued) -> None:
    for line_number, new in ((1, lambda v: str(int(v) + 1)),
                             (2, lambda v: base64.b64encode(bytes(32)).decode()),
                             (3, lambda v: "time 2020-01-01T00:00:00.000000+00:00")):
        def change(doc: dict[str, Any], line_number: int = line_number, new: Any = new) -> None:
            lines, signatures = _checkpoint_lines(doc["checkpoint"])
            lines[line_number] = new(lines[line_number])
            doc["checkpoint"] = "\n".join(lines) + signatures

        rejected(mutate(issued, change), issued["root"], "checkpoint's signature by the region key does not verify")


def test_a_checkpoint_signed_by_another_key_is_rejected(issued) -> None:
    rogue = Ed25519PrivateKey.generate()

    def resign(doc: dict[str, Any]) -> None:
        text = parse_note(doc["checkpoint"]).text
        doc["checkpoint"] = sign_note(text, [Ed25519Signer("timeledger/320102", rogue)])

    rejected(mutate(issued, resign), issued["root"], "checkpoint is not signed by a key of region 320102")

    def forged_tree(doc: dict[str, Any]) -> None:  # a whole forged log: the rogue signs its own root
        checkpoint = Checkpoint.parse(parse_note(doc["checkpoint"]).text)
        leaves = [merkle.leaf_hash(base64.b64decode(e["event"])) for e in doc["events"]]
        size, peaks, nodes = merkle.append_leaves(0, [], leaves)
        store = merkle.MemoryNodeStore()
        store.put_nodes(nodes)
        for index, entry in enumerate(doc["events"]):
            entry["index"] = index
            entry["proof"] = [base64.b64encode(h).decode() for h in merkle.inclusion_proof(store, index, size)]
        body = Checkpoint(checkpoint.origin, size, merkle.root_from_compact_range(size, peaks),
                          checkpoint.extensions).to_body()
        doc["checkpoint"] = sign_note(body, [Ed25519Signer("timeledger/320102", rogue)])

    rejected(mutate(issued, forged_tree), issued["root"], "not signed by a key of region 320102")


def test_a_key_not_chained_to_the_root_is_rejected(issued) -> None:
    other_root = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    rejected(issued["a"].bundle, other_root, "not certified by the trust root")

    def drop_region_key(doc: dict[str, Any]) -> None:  # without the region key's registration
        doc["events"] = [e for e in doc["events"] if event_type_of(base64.b64decode(e["event"])) != "Key.Registered"
                         or b'"role":"region"' not in base64.b64decode(e["event"])]

    rejected(mutate(issued, drop_region_key), issued["root"], "which is not certified by the trust root")


def test_a_swapped_member_is_rejected(issued) -> None:
    other = document(issued["b"].bundle)

    def swap_id(doc: dict[str, Any]) -> None:
        doc["member"]["id"] = other["member"]["id"]

    rejected(mutate(issued, swap_id), issued["root"], "lacks the Member.Enrolled event")

    def swap_name(doc: dict[str, Any]) -> None:
        doc["member"]["name"] = other["member"]["name"]

    rejected(mutate(issued, swap_name), issued["root"], "enrolled as")

    def swap_whole_member(doc: dict[str, Any]) -> None:  # B's enrolment and name with A's sessions
        mine = {e["index"] for e in doc["events"]}
        doc["events"] = sorted(doc["events"] + [e for e in other["events"] if e["index"] not in mine],
                               key=lambda e: e["index"])
        doc["member"] = other["member"]

    rejected(mutate(issued, swap_whole_member), issued["root"], "belongs to member", "not to the certificate's member")

    def add_foreign_session(doc: dict[str, Any]) -> None:  # B's session smuggled into A's certificate
        mine = {e["index"] for e in doc["events"]}
        doc["events"] = sorted(doc["events"] + [e for e in other["events"] if e["index"] not in mine],
                               key=lambda e: e["index"])

    rejected(mutate(issued, add_foreign_session), issued["root"], "belongs to member")


def test_claims_outside_the_signed_events_are_rejected(issued) -> None:
    def more_minutes(doc: dict[str, Any]) -> None:
        doc["total"]["minutes"] += 60

    rejected(mutate(issued, more_minutes), issued["root"], "claims", "certify")

    def other_number(doc: dict[str, Any]) -> None:
        doc["number"] = doc["number"][:-1] + ("9" if doc["number"][-1] != "9" else "8")

    rejected(mutate(issued, other_number), issued["root"], "seal does not verify")

    def narrower_period(doc: dict[str, Any]) -> None:
        doc["period"]["to"] = "2026-03-31"

    rejected(mutate(issued, narrower_period), issued["root"], "outside the period")

    def later_issue(doc: dict[str, Any]) -> None:
        doc["issued_at"] = (datetime.fromisoformat(doc["issued_at"]) + timedelta(seconds=1)).isoformat(
            timespec="microseconds")

    rejected(mutate(issued, later_issue), issued["root"], "seal does not verify")


def test_removed_events_are_rejected(issued) -> None:
    doc = document(issued["a"].bundle)
    kinds = {e["index"]: event_type_of(base64.b64decode(e["event"])) for e in doc["events"]}
    certified = [index for index, kind in kinds.items() if kind == "ServiceSession.Certified"]
    recorded = [index for index, kind in kinds.items() if kind == "ServiceSession.Recorded"]

    def drop(index: int) -> Callable[[dict[str, Any]], None]:
        def change(doc: dict[str, Any]) -> None:
            doc["events"] = [e for e in doc["events"] if e["index"] != index]
        return change

    rejected(mutate(issued, drop(certified[0])), issued["root"], "not certified")
    rejected(mutate(issued, drop(recorded[0])), issued["root"])  # a chain without its genesis


def test_a_revoked_signer_key_is_rejected(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'r.db'}")
    history = build_history(ledger)
    region = history.region
    member = region.members[0]
    community_key = ledger.key_id_of(region.community)
    before = issue_certificate(ledger, member.actor_id, year=2026)
    assert verify_certificate(before.bundle, region.root_public_key).total_minutes == 250
    # the community's key turns out to have been compromised since before it certified anything
    with at_day(date(2026, 6, 1)):
        ledger.revoke_key(authority=region.region, key_id=community_key, reason="密钥泄露",
                          effective_at=datetime(2025, 3, 2, tzinfo=timezone.utc))
    with pytest.raises(CertificateError) as caught:
        issue_certificate(ledger, member.actor_id, year=2026)
    assert f"by key {community_key}, revoked from" in str(caught.value)
    ledger.close()


def test_not_canonical_or_ambiguous_json_is_rejected(issued) -> None:
    doc = document(issued["a"].bundle)
    rejected(json.dumps(doc, ensure_ascii=False, indent=1).encode(), issued["root"], "canonical JSON")
    data = issued["a"].bundle
    rejected(data.replace(b'{"checkpoint":', b'{"number":"x","checkpoint":', 1), issued["root"], "appears twice")
    rejected(data[:-1], issued["root"], "not a JSON document")
    rejected(b"[]", issued["root"], "certificate fields")


# -------------------------------------------------------------------------------------------------- witnesses


def test_witness_cosignatures_are_checked_when_asked_for(issued) -> None:
    ledger, root = issued["ledger"], issued["root"]
    witness = Ed25519PrivateKey.generate()
    vkey = witness_verifier_key("timeledger/320104", witness)
    member = issued["history"].region.members[0].actor_id
    plain = issue_certificate(ledger, member, year=2026)
    with pytest.raises(CertificateError, match="quorum is 1"):
        verify_certificate(plain.bundle, root, witness_keys=[vkey], witness_quorum=1)
    from ledger.storage.checkpoints import CheckpointStore
    from ledger.storage.merkle_log import MerkleLog

    cosign(ledger, witness_name="timeledger/320104", witness_key=witness,
           checkpoint=CheckpointStore.for_log(MerkleLog.for_ledger(ledger)).get(plain.checkpoint_id))
    witnessed = issue_certificate(ledger, member, year=2026)
    verified = verify_certificate(witnessed.bundle, root, witness_keys=[vkey], witness_quorum=1)
    assert verified.witnesses == ["timeledger/320104"]
    assert verify_certificate(witnessed.bundle, root).total_minutes == 250  # witnesses are optional


# ------------------------------------------------------------------------------------------------------ CLI, PDF


def test_cli_issue_verify_and_the_pdf_qr_code(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    ledger = Ledger(db)
    history = build_history(ledger)
    member = history.region.members[0].actor_id
    ledger.close()
    out = tmp_path / "cert.json"
    result = runner.invoke(app, ["certificate", "issue", "--member", str(member), "--year", "2026", "--out", str(out),
                                 "--db", db])
    assert result.exit_code == 0, result.output
    assert out.exists() and Path(f"{out}.pdf").read_bytes().startswith(b"%PDF")
    assert runner.invoke(app, ["keys", "export-root", "--out", str(tmp_path / "root.pub"), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["certificate", "verify", str(out), "--trust", str(tmp_path / "root.pub")])
    assert result.exit_code == 0 and "250 minutes (4:10 h:mm)" in result.output, result.output
    doc = document(out.read_bytes())
    doc["total"]["minutes"] = 9999
    out.write_bytes(encode(doc))
    result = runner.invoke(app, ["certificate", "verify", str(out), "--trust", str(tmp_path / "root.pub")])
    assert result.exit_code == 1 and "FAILED" in result.output and "claims 3 session(s) and 9999 minutes" in \
        result.output.replace("\n", "")
    if shutil.which("zbarimg") and shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "150", f"{out}.pdf", str(tmp_path / "page")], check=True,
                       timeout=60)
        decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "page-1.png")], capture_output=True,
                                 check=True, timeout=60).stdout.decode().strip()
        number, digest, minutes = parse_reference(decoded)
        assert minutes == 250 and number.startswith("320102-")


def test_pdf_renders_an_empty_certificate(issued) -> None:
    ledger = issued["ledger"]
    empty = issue_certificate(ledger, issued["history"].region.members[1].actor_id, year=2020)
    assert render_certificate_pdf(empty.verified).startswith(b"%PDF")
