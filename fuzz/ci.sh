#!/usr/bin/env bash
# CI's bounded fuzz step: build every fuzz target and run each for a few seconds on its
# committed seeds (fuzz/seeds/<target>). It catches a target that no longer builds, a seed
# that now fails, and shallow regressions; the long runs are fuzz/run.sh's (see README.md).
#
#   fuzz/ci.sh [SECONDS_PER_TARGET]   (default 10)
#
# Needs rustup (it installs the nightly toolchain, profile minimal, when missing). It does
# not use cargo-fuzz: installing it compiles ~100 crates, so the targets are built with
# plain `cargo +nightly build` and the RUSTFLAGS cargo-fuzz 0.13 passes (sancov
# instrumentation, `--cfg fuzzing`, debug assertions), minus two things that only make
# long runs better and cost minutes here: AddressSanitizer (the crate forbids nothing
# unsafe of its own; the long runs keep it) and one codegen unit per crate (opt-level 1
# with the default units instead). The binaries are ordinary libFuzzer executables, run
# directly. Without rustup the step fails loudly: it never skips silently.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-10}
TRIPLE=x86_64-unknown-linux-gnu
started=$(date +%s)

if ! command -v rustup >/dev/null 2>&1; then
  echo "fuzz/ci.sh: FAILED: rustup is not installed, so no nightly toolchain for the fuzz build." >&2
  echo "fuzz/ci.sh: install Rust with rustup (https://rustup.rs) on the CI machine." >&2
  exit 1
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "== fuzz: installing the nightly toolchain (profile minimal)"
  if ! rustup toolchain install nightly --profile minimal; then
    echo "fuzz/ci.sh: FAILED: could not install the nightly toolchain." >&2
    exit 1
  fi
fi
rustup run nightly rustc --version
# libfuzzer-sys compiles libFuzzer itself (C++).
if ! command -v c++ >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "== fuzz: installing a C++ compiler (libFuzzer)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++
  else
    echo "fuzz/ci.sh: FAILED: no C++ compiler for libFuzzer and no apt-get to install one." >&2
    exit 1
  fi
fi

RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing \
 -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
 -Cllvm-args=-sanitizer-coverage-stack-depth \
 -Cdebug-assertions"
export RUSTFLAGS
# Its own target directory: these flags would otherwise rebuild cargo-fuzz's artefacts in
# fuzz/target for nothing.
export CARGO_TARGET_DIR=${FUZZ_CI_TARGET_DIR:-target/ci}
echo "== fuzz: building the targets (cargo +nightly build, sancov, opt-level 1)"
# --target keeps RUSTFLAGS away from build scripts and proc macros, as cargo-fuzz does.
cargo +nightly build --locked --release --bins --target "$TRIPLE" \
  --config 'profile.release.opt-level=1' \
  --config 'profile.release.debug="line-tables-only"'
built=$(date +%s)
echo "== fuzz: build took $((built - started)) s"

mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^sec0-gateway-fuzz$')
bin_dir="$CARGO_TARGET_DIR/$TRIPLE/release"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${TARGETS[@]}"; do
  dict=dicts/jsonrpc.dict
  case "$t" in
    rules_load) dict=dicts/rules.dict ;;
    jwt_verify | jwks_document) dict=dicts/jwt.dict ;;
  esac
  # New inputs go to a scratch corpus; the committed seeds are only read.
  mkdir -p "$scratch/$t" "$scratch/$t.artifacts"
  status=0
  "$bin_dir/$t" "$scratch/$t" "seeds/$t" -max_total_time="$SECONDS_EACH" -dict="$dict" \
    -max_len=65536 -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$scratch/$t.artifacts/" >"$scratch/$t.log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$scratch/$t.log")
  echo "fuzz: $t: ${SECONDS_EACH}s, ${runs:-?} executions, exit $status"
  if [ "$status" -ne 0 ]; then
    grep -E -A30 "panicked|ERROR|SUMMARY" "$scratch/$t.log" | head -60 >&2 || tail -40 "$scratch/$t.log" >&2
    for a in "$scratch/$t.artifacts"/*; do
      [ -e "$a" ] || continue
      echo "fuzz: $t: failing input (base64): $(base64 -w0 "$a")" >&2
    done
    failed+=("$t")
  fi
done
echo "== fuzz: step took $(($(date +%s) - started)) s (build $((built - started)) s)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/ci.sh: FAILED: ${failed[*]} (see fuzz/README.md to reproduce and fix)" >&2
  exit 1
fi
