#!/usr/bin/env bash
# Install everything the project and its tests need, then run the whole test suite.
# Usage: scripts/test.sh [pytest args…]
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages (CJK font for PDFs, poppler and zbar to check them, Chromium for the web tests).
missing=()
while read -r package; do
  [ -z "$package" ] || [[ "$package" == \#* ]] && continue
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done < .ci/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

# PostgreSQL on 127.0.0.1:5432 (the production engine; the same tests run on it and on SQLite).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[dev]"

# The house's checks (issue 13): lint, types, and the import direction (api → projections → ledger).
python -m ruff check .
python -m mypy
lint-imports

python -m pytest -n 2 --durations=15 "$@"

# The calendar: the date-sensitive tests once more with the wall clock moved (libfaketime, Debian
# package faketime): early January, the year's end in China time (UTC 16:00 on 31 December is
# midnight in Beijing) and a 29 February. Only for the whole run (no pytest arguments given);
# TIMELEDGER_SKIP_CALENDAR=1 skips it. The clock starts at each instant and runs on from there.
CALENDAR_TESTS=(tests/web tests/projections/test_demo_region.py tests/projections/test_golden_year.py
                tests/transparency/test_certificate.py tests/integration/test_transfer_cli.py
                tests/integration/test_cli.py::test_demo_then_tamper_then_verify_names_the_event
                tests/api/test_flow.py tests/api/test_log_and_certificates.py)
if [ $# -eq 0 ] && [ -z "${TIMELEDGER_SKIP_CALENDAR:-}" ]; then
  if ! command -v faketime >/dev/null; then
    echo "faketime is missing (apt-get install faketime): the calendar runs cannot run" >&2
    exit 1
  fi
  for start in "2027-01-04 10:00:00" "2026-12-31 16:00:00" "2028-02-29 10:00:00"; do
    echo "== the date-sensitive tests with the clock at $start UTC"
    TZ=UTC faketime -f "@$start" python -m pytest -n 2 -q -p no:cacheprovider "${CALENDAR_TESTS[@]}"
  done
fi
