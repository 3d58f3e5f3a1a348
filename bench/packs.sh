#!/usr/bin/env bash
# Many packs (issue 15, "scale of files"): a store of COUNT one-file packages, one pack each,
# under a low and the usual limit on open files, before and after `gc` folds the packs.
#   1. builds COUNT tiny packages (rejig-test-data tiny) and an archive commit of their files;
#   2. times `rejig import` of the packages and of the commit into a fresh store;
#   3. times `rejig export` of the commit into a fresh repository under `ulimit -n 64` and
#      under 1024, and `rejig fsck` under 64;
#   4. times `rejig gc` (which folds the packs) under 64, then the same exports and fsck again;
#   5. checks, untimed: every export is the commit, and the ones after folding are byte for byte
#      the ones before.
# Usage: bench/packs.sh [COUNT] [RUNS]   (default 5000 packages, 3 runs; medians reported)
# Needs: ostree. Work files: bench/work/packs/ (on /dev/shm when WORK is not set: the figures
# are about files and descriptors, not the disk's fsync).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-5000}
RUNS=${2:-3}
WORK=${WORK:-/dev/shm/rejig-bench-packs}
cargo build --release -q --bin rejig
cargo build -q -p rejig-test-support --bin rejig-test-data   # only generates the packages
REJIG=$PWD/target/release/rejig
DATA=$PWD/target/debug/rejig-test-data
mkdir -p bench/runs
OUT=bench/runs/packs-$(date -u +%Y-%m-%dT%H%M%SZ)-$(hostname).txt
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# timed LABEL LIMIT ARGS…: runs rejig under `ulimit -n LIMIT`, appends "LABEL seconds".
timed() {
    local label=$1 limit=$2 start
    shift 2
    start=$(now)
    sh -c "ulimit -n $limit && exec \"\$0\" \"\$@\"" "$REJIG" --quiet --store "$WORK/store" "$@"
    echo "$label $(echo "$(now) - $start" | bc)" >>"$WORK/times"
}

{
echo "# rejig $(git rev-parse --short HEAD), $(date -u), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# $COUNT packages, $RUNS runs, work in $WORK, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"

rm -rf "$WORK"
mkdir -p "$WORK"
"$DATA" tiny "$WORK" "$COUNT"
ostree init --repo="$WORK/compose" --mode=archive
COMMIT=$(ostree commit --repo="$WORK/compose" --branch=os --no-bindings \
    --timestamp=2024-01-01T00:00:00Z "$WORK/root")
: >"$WORK/times"
for run in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/store" "$WORK"/out-*
    timed import-packages 1024 import "$WORK/packages"
    timed import-commit 1024 import --repo "$WORK/compose" --rev os
    packs_before=$(find "$WORK/store/packs" -name '*.pack' | wc -l)
    timed export-before-64 64 export "$COMMIT" --repo "$WORK/out-before-64"
    timed export-before-1024 1024 export "$COMMIT" --repo "$WORK/out-before-1024"
    timed fsck-before-64 64 fsck
    timed gc-fold-64 64 gc
    packs_after=$(find "$WORK/store/packs" -name '*.pack' | wc -l)
    timed export-after-64 64 export "$COMMIT" --repo "$WORK/out-after-64"
    timed export-after-1024 1024 export "$COMMIT" --repo "$WORK/out-after-1024"
    timed fsck-after-64 64 fsck
    for repo in "$WORK"/out-*; do
        test "$(ostree rev-parse --repo="$repo" "$COMMIT")" = "$COMMIT"
    done
    diff -r "$WORK/out-before-64/objects" "$WORK/out-after-64/objects"
    echo "run $run: $packs_before packs before gc, $packs_after after" | tee -a "$OUT"
done
ostree fsck --repo="$WORK/out-after-64" | tail -1 | tee -a "$OUT"
for label in import-packages import-commit export-before-64 export-before-1024 fsck-before-64 gc-fold-64 \
    export-after-64 export-after-1024 fsck-after-64; do
    printf '%-20s %s s (median of %s: %s)\n' "$label" \
        "$(grep "^$label " "$WORK/times" | cut -d' ' -f2 | median)" "$RUNS" \
        "$(grep "^$label " "$WORK/times" | cut -d' ' -f2 | tr '\n' ' ')"
done | tee -a "$OUT"
rm -rf "$WORK"
