"""The auditor's toolkit: the region's Merkle log, signed checkpoints, proofs, hour certificates, audit.

* `log.MerkleLog` — every stored event as an RFC 9162 leaf, kept by a catch-up projection that commits
  each page (leaves, completed nodes, compact range, tracking position) in one transaction.
* `checkpoints` — C2SP checkpoints signed by the region key (origin `timeledger/<region>`), witness
  cosignatures (`cosignature/v1`) by other regions, consistency between checkpoints.
* `proofs` — inclusion proofs as C2SP tlog-proof files (carrying the event) and consistency proofs.
* `certificate` — hour certificates (志愿服务证明): a self-contained, canonical JSON bundle that
  `verify_certificate` checks offline with the province root key alone, and its PDF.
* `audit` — `timeledger audit`: events, log, checkpoints, balances and projections, compared.
* `bundle` — inclusion proofs for other bundles (the transfer bundle).
* `cli.register(app)` — `timeledger checkpoint | proof … | certificate … | audit`.
"""
