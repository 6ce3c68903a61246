"""What an auditor (and every other region) checks, changing nothing.

* `store` — `verify_store`: every event's signature, key chain (the one key-validity rule,
  `key_valid_at`), hash chain and replay.
* `certificates` — hour certificates (志愿服务证明): a self-contained, canonical JSON bundle that
  `verify_certificate` checks offline with the province root key alone (its PDF: projections/render).
* `bundles` — inclusion proofs for other bundles (the transfer bundle).
* `proofs` — inclusion proofs as C2SP tlog-proof files (carrying the event) and consistency proofs.
* `audit` — `timeledger audit`: events, log, checkpoints and balances replayed; the read models are
  compared by `projections.audit`.
"""
