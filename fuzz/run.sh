#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for N seconds each, two at a time under nice -n 10
# (the machine is shared), seeded from fuzz/regressions/<target>/ (kept crashes and the seeds
# fuzz/make-seeds.sh writes) and, for whole packages, the packages the tests fetch and build
# (fuzz/packages/, written first by `fuzz/make-seeds.sh packages`) and the extra corpus that
# REJIG_TEST_CORPUS names, when it is set. Needs cargo-fuzz and a nightly toolchain
# (`cargo install cargo-fuzz`; sanitizer flags are nightly-only).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]      (default 600 seconds, every target)
# A crash stops its target and leaves the input in fuzz/artifacts/<target>/: fix the bug, then
# copy the input into fuzz/regressions/<target>/ so that `cargo test` replays it on stable.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(cargo +nightly fuzz list)
mkdir -p logs
./make-seeds.sh packages
nice -n 10 cargo +nightly fuzz build -O 2>&1 | tail -1
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus/$target"
    cp -n regressions/"$target"/* "corpus/$target/" 2>/dev/null || true
done
if [[ " ${TARGETS[*]} " == *" rpm_package "* ]]; then
    # Small packages only, and not the sparse 4 GiB one: each run must stay fast.
    find packages ${REJIG_TEST_CORPUS:+"$REJIG_TEST_CORPUS"} -name '*.rpm' -size -200k ! -name '*bigfile*' \
        -exec cp -n {} corpus/rpm_package/ \;
fi
declare -A START
for target in "${TARGETS[@]}"; do
    START[$target]=$(find "corpus/$target" -type f | wc -l)
done
printf '%s\n' "${TARGETS[@]}" | xargs -P2 -I{} sh -c \
    "nice -n 10 cargo +nightly fuzz run -O {} corpus/{} -- -max_total_time=$SECONDS_EACH -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 > logs/{}.log 2>&1; echo \"{}: exit \$?\""
echo
printf '%-16s %12s %10s %14s %8s %s\n' target executions exec/s corpus cov crashes
for target in "${TARGETS[@]}"; do
    log=logs/$target.log
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
    cov=$(grep -o ' cov: [0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
    files=$(find "corpus/$target" -type f | wc -l)
    crashes=$(find "artifacts/$target" -type f 2>/dev/null | wc -l)
    printf '%-16s %12s %10s %14s %8s %s\n' "$target" "${runs:-?}" "${speed:-?}" "${START[$target]} -> $files" \
        "${cov:-?}" "$crashes"
done
