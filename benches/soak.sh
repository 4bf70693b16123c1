#!/usr/bin/env bash
# Soak test (issue 21): two gateway replicas sharing one Redis under steady mixed load for
# DURATION (default 20m), with escalations answered by a scripted reviewer, while an
# upstream, the collector, Redis, the audit disk and the client side fail on a schedule, the
# rules reload and the TLS certificate is replaced; at the end nothing either replica decided
# may be missing from its audit trail, escalations' answers must match the reviewer's and the
# fail mode, and RSS and open fds must be flat. The work is done by benches/soak.py and
# benches/soak_faults.py (standard library Python); this wrapper checks the tools and picks
# the binary.
#
# Needs: nginx, wrk, redis-server (Debian `nginx-light`, `wrk`, `redis-server`), openssl, python3;
# root to mount the audit files' tmpfs (else that fault is skipped, loudly).
# Usage: benches/soak.sh [DURATION] [soak.py options…]     e.g. benches/soak.sh 2m
# SOAK_BIN=path/to/sec0-gateway uses that binary (CI: the debug build the tests made);
# otherwise the release build (built here if needed).
# Everything binds to 127.0.0.1 on free ports and is stopped on exit. Report: stdout and
# benches/.run-soak/report.md. Exit 1 when a record is lost or something leaks.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in nginx wrk openssl python3 redis-server; do
  command -v "$tool" >/dev/null 2>&1 || { echo "benches/soak.sh: $tool not found (apt-get install nginx-light wrk openssl python3 redis-server)" >&2; exit 1; }
done

BIN=${SOAK_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=target/release/sec0-gateway
fi
[ -x "$BIN" ] || { echo "benches/soak.sh: $BIN is not an executable" >&2; exit 1; }

# The orchestrator kills what it started on every exit path; this trap covers the wrapper
# being interrupted before it runs.
child=
trap '[ -n "$child" ] && kill "$child" 2>/dev/null || true' EXIT INT TERM
python3 benches/soak.py "${1:-20m}" --bin "$BIN" "${@:2}" &
child=$!
wait "$child"
