"""The ledger's commands of `timeledger`, offered to the entry point (api/cli), which registers them.

`store` — init, demo, verify, info, keys, transfer, region, calendar, backup, restore;
`transparency` — checkpoint, proof, certificate, audit (given the certificate's PDF renderer and the
read models by the entry point: the ledger imports neither api/ nor projections/).
"""
