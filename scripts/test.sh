#!/usr/bin/env bash
# The whole suite on a fresh machine: set up .venv, install the brokers, lint, run pytest.
# Lint failures do not stop the tests (both results are shown); the exit code is non-zero if either
# failed, or if pytest collected no tests. Extra arguments go to pytest (PYTEST_ARGS too).
# Writes reports/junit.xml and reports/summary.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mkdir -p reports
printf '*\n' >reports/.gitignore  # test output never gets committed
summary=reports/summary.txt
: >"$summary"

phase() {  # phase NAME COMMAND...: run and time one phase; remember its exit code in $phase_status
    local name=$1 started elapsed_ms line
    shift
    echo "=== $name: $*" >&2
    started=${EPOCHREALTIME/./}
    set +e
    "$@"
    phase_status=$?
    set -e
    elapsed_ms=$(((${EPOCHREALTIME/./} - started) / 1000))
    line=$(printf 'phase %-8s %5d.%ds  %s' "$name" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100)) \
        "$([ "$phase_status" = 0 ] && echo ok || echo "FAILED (exit $phase_status)")")
    echo "$line" >>"$summary"
    echo "$line" >&2
}

phase setup bash scripts/setup.sh
[ "$phase_status" = 0 ] || exit "$phase_status"
phase brokers bash scripts/install-brokers.sh
[ "$phase_status" = 0 ] || exit "$phase_status"
phase lint bash scripts/lint.sh
lint_status=$phase_status

# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words on purpose
phase tests .venv/bin/python -m pytest -ra --durations=15 --junitxml=reports/junit.xml ${PYTEST_ARGS:-} "$@"
test_status=$phase_status

.venv/bin/python scripts/junit_summary.py reports/junit.xml >>"$summary" || true
if [ "$test_status" = 5 ]; then
    echo "tests: pytest collected no tests: that is a failure" >>"$summary"
fi
if [ "$lint_status" != 0 ]; then
    echo "lint: FAILED (its output is above)" >>"$summary"
fi
if [ "$lint_status" != 0 ] || [ "$test_status" != 0 ]; then
    echo "RESULT: FAILED" >>"$summary"
else
    echo "RESULT: OK" >>"$summary"
fi
echo "=== summary (also in $summary)"
cat "$summary"
[ "$lint_status" = 0 ] && [ "$test_status" = 0 ]
