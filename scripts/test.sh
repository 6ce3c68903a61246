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

python -m pytest -n 2 --durations=15 "$@"
