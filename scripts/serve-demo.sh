#!/usr/bin/env bash
# Install the service and start it on the embedded SQLite default with a demo region year.
# Usage: scripts/serve-demo.sh [--port 8000]    (database: $TIMELEDGER_DATABASE_URL or sqlite:///timeledger.db)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e .
exec timeledger serve --demo --demo-members 240 "$@"
