"""Transfer cost: export + verify + import of a member with ~10,000 signed events.

Two regions under one province root on SQLite files; the member serves `--sessions` certified
sessions (4 events each: recorded, rated, certified, credited) before moving. Prints each phase,
the bundle size per event, and the ratio of the irreducible cost (checking the same number of
Ed25519 signatures with `cryptography` alone, measured in the same run) to the whole transfer.

    python scripts/bench_transfer.py [--sessions 2500]

The last line is JSON: {"seconds": export+import (import verifies), "bytes_per_event": …, …}.
"""

from __future__ import annotations

import argparse
import sys
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.scenario builds regions

from ledger.application import setup, transfers
from ledger.application import Ledger
from ledger.signing import keys as ed25519
from ledger.signing.statement import unpack
from ledger.storage.merkle_log import MerkleLog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.scenario import build_region

SESSIONS_PER_BATCH = 100


def busy_member(ledger: Ledger, sessions: int) -> tuple[UUID, int, Ed25519PrivateKey]:
    region = build_region(ledger, members=1)
    member = region.members[0]
    day = date(2020, 1, 6)
    for start in range(0, sessions, SESSIONS_PER_BATCH):
        with ledger.batch():
            for index in range(start, min(sessions, start + SESSIONS_PER_BATCH)):
                service_day = day + timedelta(days=index % 1500)
                setup.serve_session(ledger, community=region.community, member_id=member.actor_id,
                                    activity="敬老助残", content="陪老人聊天", place="社区活动室",
                                    service_date=min(service_day, ledger.today()), start_time="08:00",
                                    end_time="10:00", minutes=60 + index % 60, post_id=region.post_id, rating="优")
    ledger.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient="320104")
    events = sum(len(ledger.recorder.select_events(a)) for a in transfers.member_aggregate_ids(ledger,
                                                                                              member.actor_id))
    assert region.root_key is not None
    return member.actor_id, events, region.root_key


def raw_verify_seconds(bundle: bytes) -> float:
    """Checking every signature of the bundle with cryptography alone (one core, like import)."""
    document = json.loads(bundle)
    import base64

    envelopes = [base64.b64decode(e) for e in document["events"] + document["transfer_events"]]
    key = ed25519.generate()
    messages = [(unpack(e)[1]) for e in envelopes]
    signed = [(m, key.sign(m)) for m in messages]
    public = key.public_key()
    started = time.perf_counter()
    for message, signature in signed:
        public.verify(signature, message)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2500)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_transfer_"))
    source = Ledger(f"sqlite:///{folder / 'source.db'}")
    started = time.perf_counter()
    member_id, events, root = busy_member(source, args.sessions)
    setup_seconds = time.perf_counter() - started
    destination = Ledger(f"sqlite:///{folder / 'destination.db'}")
    destination.init_region(code="320104", name="南京市秦淮区", province_key=root)
    transfers.register_peer(source, transfers.region_card(destination))
    transfers.register_peer(destination, transfers.region_card(source))

    transfer_id = transfers.initiate(source, member_id=member_id, destination="320104")
    started = time.perf_counter()
    MerkleLog.for_ledger(source).catch_up()  # a running region keeps its log current; not part of a transfer
    log_seconds = time.perf_counter() - started
    started = time.perf_counter()
    bundle = transfers.export_bundle(source, transfer_id)
    export_seconds = time.perf_counter() - started
    import base64

    started = time.perf_counter()
    transfers.verify_bundle(bundle, root_public_key=base64.b64decode(destination.root_public_key()),
                            destination="320104", source_key_id=source.key_id_of(source.region_actor()))
    verify_seconds = time.perf_counter() - started
    started = time.perf_counter()
    receipt = transfers.import_bundle(destination, bundle)
    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    transfers.complete(source, receipt)
    complete_seconds = time.perf_counter() - started
    assert destination.get_balance_minutes(member_id) == receipt.body["balance_minutes"] > 0
    baseline = raw_verify_seconds(bundle)
    total = export_seconds + import_seconds
    print(f"member with {events:,} events (setup {setup_seconds:.1f} s; Merkle log caught up in {log_seconds:.2f} s)")
    print(f"export {export_seconds:.3f} s · verify {verify_seconds:.3f} s · import (verifies) {import_seconds:.3f} s · "
          f"complete {complete_seconds:.3f} s")
    print(f"bundle {len(bundle):,} bytes = {len(bundle) / events:.0f} bytes/event")
    print(f"raw Ed25519 verify of the same signatures: {baseline:.3f} s · ratio raw/(export+import) "
          f"{baseline / total:.2f}")
    print(json.dumps({"seconds": round(total, 3), "export_s": round(export_seconds, 3),
                      "verify_s": round(verify_seconds, 3), "import_s": round(import_seconds, 3),
                      "events": events, "bytes_per_event": round(len(bundle) / events),
                      "ratio": round(baseline / total, 3)}))


if __name__ == "__main__":
    main()
