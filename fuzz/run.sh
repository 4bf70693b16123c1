#!/usr/bin/env bash
# Run the fuzz targets for a bounded time each: fuzz/run.sh SECONDS [TARGET…] (default: all
# targets, 30 s each). Starts from the committed seeds (fuzz/seeds/<target>) in a scratch
# corpus (fuzz/corpus/<target>, not committed), with the target's dictionary (dicts/). Needs
# `cargo fuzz` (cargo install cargo-fuzz) and a nightly toolchain (rustup toolchain install
# nightly). Exits non-zero on the first target that fails; its crash input is in
# fuzz/artifacts/<target>/ and the log in fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-30}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
mkdir -p logs
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  dict=dicts/jsonrpc.dict
  case "$t" in
    rules_load) dict=dicts/rules.dict ;;
    jwt_verify | jwks_document) dict=dicts/jwt.dict ;;
  esac
  status=0
  cargo +nightly fuzz run "$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -dict="$dict" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 > "logs/$t.log" 2>&1 || status=$?
  runs=$(grep -oP '^stat::number_of_executed_units:\s*\K\d+' "logs/$t.log" || echo "?")
  rss=$(grep -oP '^stat::peak_rss_mb:\s*\K\d+' "logs/$t.log" || echo "?")
  echo "fuzz/run.sh: $t: ${SECONDS_EACH}s, $runs executions, peak RSS ${rss} MB, exit $status" >&2
  if [ "$status" -ne 0 ]; then
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "logs/$t.log" >&2 || tail -30 "logs/$t.log" >&2
    exit "$status"
  fi
done
