"""The adapters: the database (SQLite, PostgreSQL), the signing mapper, the secrets, the raw event
reader, the paged catch-up loop the Merkle log and the projections share, the Merkle log's tables,
backups. Nothing here decides a rule of the domain."""
