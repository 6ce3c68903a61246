#!/usr/bin/env bash
# Random exploration, longer than CI (run it before every submission):
#   * every hypothesis test under the `fuzz` profile (tests/conftest.py): random examples,
#     TIMELEDGER_FUZZ_FACTOR (default 10) times each test's own count;
#   * the schemathesis API test (tests/api/test_property_openapi.py) with
#     TIMELEDGER_API_FUZZ_EXAMPLES (default 60) examples per operation, as every role.
# Bounded in time (FUZZ_SECONDS, default 480: pytest is interrupted then, what ran is reported) and
# loopback only (the API runs in-process; nothing listens beyond 127.0.0.1). One random seed per run,
# printed, so a run can be repeated: FUZZ_SEED=… scripts/fuzz.sh.
# Prints what it found: each failing test with hypothesis's falsifying example (and the
# @reproduce_failure blob). Turn each into an explicit @example(...) on the test. Exit 1 if anything
# was found.
# Usage: scripts/fuzz.sh [pytest args…]   (default: the property, transparency, laws and API fuzz tests)
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
SEED="${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
LIMIT="${FUZZ_SECONDS:-480}"
export HYPOTHESIS_PROFILE=fuzz
export TIMELEDGER_FUZZ_FACTOR="${TIMELEDGER_FUZZ_FACTOR:-10}"
export TIMELEDGER_API_FUZZ_EXAMPLES="${TIMELEDGER_API_FUZZ_EXAMPLES:-60}"
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
unset CI  # the ci profile would derandomize

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(tests/property tests/transparency tests/projections/test_laws.py tests/api/test_property_openapi.py)
fi

log="$(mktemp -t timeledger-fuzz.XXXXXX)"
echo "fuzz: seed $SEED, at most ${LIMIT}s, factor ${TIMELEDGER_FUZZ_FACTOR}, API examples ${TIMELEDGER_API_FUZZ_EXAMPLES}; log $log"
started=$(date +%s)
timeout --signal=INT --kill-after=60 "$LIMIT" "$PYTHON" -m pytest -n 2 -q -p no:cacheprovider --tb=short -rf \
  --hypothesis-seed="$SEED" "${targets[@]}" >"$log" 2>&1
status=$?
elapsed=$(( $(date +%s) - started ))

failed=$(grep -c '^FAILED ' "$log" || true)
examples=$(grep -c 'Falsifying example' "$log" || true)
ran=$(grep -oE '^[.sxXFE]+' "$log" | tr -d '\n' | wc -c)  # pytest's progress characters, one per test
echo "fuzz: ${elapsed}s, pytest exit $status, tests run: $ran, failed tests: $failed, falsifying examples: $examples"
[ $status -eq 124 ] && echo "fuzz: the time limit stopped the run: the tests after the first $ran were not explored (raise FUZZ_SECONDS or lower TIMELEDGER_FUZZ_FACTOR)"
if [ "$failed" -gt 0 ] || [ "$examples" -gt 0 ]; then
  echo "---- what was found (turn each into an explicit @example on its test) ----"
  grep -E '^FAILED ' "$log"
  grep -E -A 12 'Falsifying (explicit )?example' "$log" | grep -v '^--$' | head -n 200
  grep -E '@reproduce_failure' "$log" | sort -u
  exit 1
fi
if [ $status -ne 0 ] && [ $status -ne 124 ]; then
  tail -n 40 "$log"
  exit 1
fi
echo "fuzz: nothing found in $ran tests (seed $SEED)"
