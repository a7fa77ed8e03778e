#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install the project with its dev tools: pip install -e '.[dev]'.
# Idempotent and quiet: skips the install when pyproject.toml has not changed since the last success;
# prints pip's output only when something fails. SETUP_FORCE=1 reinstalls anyway.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "setup: $*" >&2; }

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else say "needs root for: $*"; return 1
    fi
}

output=$(mktemp)
trap 'rm -f "$output"' EXIT
quietly() {
    if ! "$@" >"$output" 2>&1; then
        cat "$output" >&2
        say "failed: $*"
        exit 1
    fi
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    python=$(find_python) || { say "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)"; exit 1; }
    rm -rf .venv
    if ! "$python" -m venv .venv >"$output" 2>&1; then
        # Debian's python3 needs python3-venv for ensurepip
        if [ "$python" = /usr/bin/python3 ] || [ "$python" = /bin/python3 ]; then
            say "installing python3-venv"
            rm -rf .venv
            quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
            quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
            quietly "$python" -m venv .venv
        else
            cat "$output" >&2
            say "could not create .venv with $python"
            exit 1
        fi
    fi
fi

stamp=.venv/.backbone-setup-stamp
wanted="$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version.split()[0])')"
if [ "${SETUP_FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] &&
    .venv/bin/python -c 'import domain, pytest' 2>/dev/null; then
    exit 0
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
quietly .venv/bin/python -m pip install --quiet --upgrade pip
quietly .venv/bin/python -m pip install --quiet -e '.[dev]'
echo "$wanted" >"$stamp"
say "installed $(.venv/bin/python --version) with the project and its dev tools in .venv"
