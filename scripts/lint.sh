#!/usr/bin/env bash
# ruff (style and bugs), mypy strict (config in pyproject.toml), import-linter (layer contracts).
# Runs all three and fails if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()
run() {
    echo "lint: $*" >&2
    "$@" || failed+=("$1")
}
run .venv/bin/ruff check src tests
run .venv/bin/mypy
run .venv/bin/lint-imports --no-cache
if ((${#failed[@]})); then
    echo "lint: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "lint: ok" >&2
