#!/usr/bin/env bash
# Bounded fuzzing for CI: every target in fuzz/fuzz_targets/ for FUZZ_SECONDS (default 45) each,
# starting from the seed corpus in fuzz/corpus/<target>/. Exits 1 if any target crashes, and
# prints the crash input (see README.md for turning it into a regression test).
#
# cargo-fuzz needs nightly-only flags (-Z, sanitizer-coverage); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. Builds go to fuzz/target (kept between runs on the same machine).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-45}"
targets="${FUZZ_TARGETS:-vmcfg_parse xm_outputs yaml_load observe_output snapshot_manifest}"
export RUSTC_BOOTSTRAP=1
# -a: debug assertions and overflow checks, as in the test suite; -s none: no AddressSanitizer
# (domform forbids unsafe code, so ASan finds nothing that a panic would not, and costs build
# time); 16 codegen units: a faster build for a short run.
flags=(-a -s none --codegen-units 16)

start=$(date +%s)
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
  echo "   installed in $(($(date +%s) - start)) s"
fi

t0=$(date +%s)
echo "== building fuzz targets"
cargo fuzz build "${flags[@]}" 2>&1 | tail -n 3
echo "   built in $(($(date +%s) - t0)) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
  mkdir -p "$scratch/$t" "$scratch/crash-$t"
  log="$scratch/$t.log"
  echo "== fuzzing $t for ${seconds} s"
  # New inputs go to the scratch corpus (first dir); the seeds in corpus/$t are only read.
  if cargo fuzz run "${flags[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/crash-$t/" >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" | sed 's/^/   /'
  else
    failed+=("$t")
    echo "!! $t crashed; its output:"
    grep -m 3 -A 1 'panicked at' "$log" || true
    grep -vE '^#[0-9]+' "$log" | grep -E 'SUMMARY|Reproduce|Minimize' || true
    mkdir -p "artifacts/$t"
    for crash in "$scratch/crash-$t"/*; do
      [ -f "$crash" ] || continue
      cp "$crash" "artifacts/$t/"
      echo "!! crash input fuzz/artifacts/$t/$(basename "$crash") (escaped):"
      python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read()))' "$crash"
    done
  fi
done
echo "== fuzzing took $(($(date +%s) - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs under fuzz/artifacts/; see fuzz/README.md)"
  exit 1
fi
