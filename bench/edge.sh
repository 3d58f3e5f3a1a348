#!/usr/bin/env bash
# An edge host's disk (issue 13): a store backed by the repository it feeds
# (`rejig init --backed-by REPO`) against the copying store, on the distro-like workload of
# bench/jigdo-workload.sh (188 packages, 504 MB).
#
#   bench/edge.sh [RUNS]        (default 3 runs; medians, min and max are reported)
#
# Environment: REJIG=/path/to/rejig skips `cargo build --release`; JIGDO_DATA (default
# /work/bench-data/jigdo) is where the workload lives (made by bench/jigdo-workload.sh when
# missing; never in git).
#
# Once, before the runs: the jigdos of bench/v1, v2 (20 packages rebuilt) and v3 (one file
# changed) are built with `rejig build --output-dir` into bench/work/edge/pub, beside the
# packages of each version (hardlinked). Every run, for each store kind, with a fresh store and
# a fresh bare-user repository, on a warm page cache:
#   v1   export of the v1 jigdo (a cold install: every package fetched from the directory)
#   v2   the same client: export of the v2 jigdo
#   v3   the same client: export of the v3 jigdo
# The store kinds: `copying` (a plain store) and `backed` (`init --backed-by` the repository).
# After v3: the store's size and the repository's (du -sb), the bytes each step fetched (the
# export's JSON), wall time of each step. Checks: every commit is the compose repo's; run 1
# runs `ostree fsck` on each repository and `rejig fsck` on each store.
# Raw numbers and the summary: bench/runs/edge-<UTC date>-<hostname>.txt.
# Needs: ostree, python3, GNU time (and cargo).
set -euo pipefail

RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${JIGDO_DATA:-/work/bench-data/jigdo}
WORK=$ROOT/bench/work/edge
PUB=$WORK/pub
RUNDIR=$ROOT/bench/runs
export LC_ALL=C

for tool in ostree python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

echo "== workload"
"$ROOT/bench/jigdo-workload.sh" "$DATA"
declare -A COMMIT
for v in v1 v2 v3; do COMMIT[$v]=$(ostree rev-parse --repo="$DATA/compose" "bench/$v"); done

if [[ -z ${REJIG:-} ]]; then
    echo "== cargo build --release"
    (cd "$ROOT" && nice -n 5 cargo build --release --quiet --bin rejig)
    REJIG=$ROOT/target/release/rejig
fi

mkdir -p "$RUNDIR"
RAW=$RUNDIR/edge-$(date -u +%Y%m%dT%H%M%SZ)-$(hostname).txt
echo "# bench/edge.sh: $RUNS run(s), $(nproc) CPUs, rejig $("$REJIG" --version)" | tee "$RAW"

# metric RUN KIND STEP NAME VALUE
metric() { echo "M $1 $2 $3 $4 $5" >> "$RAW"; }

rm -rf "$WORK"
mkdir -p "$PUB"
declare -A JIGDO
for v in v1 v2 v3; do
    repo=$DATA/repo-v2
    [[ $v == v1 ]] && repo=$DATA/repo-v1
    for f in "$repo"/*.rpm; do
        [[ -e $PUB/$(basename "$f") ]] || ln "$f" "$PUB/"
    done
    before=$(ls "$PUB")
    "$REJIG" --store "$WORK/st-build" --json build --repo "$DATA/compose" --rev "bench/$v" \
        --packages "$repo" --name bench-os --output-dir "$PUB" > "$WORK/build-$v.json"
    JIGDO[$v]=$(comm -13 <(echo "$before") <(ls "$PUB") | grep '^bench-os-' | head -1)
    [[ -n ${JIGDO[$v]} ]] || { echo "build of $v wrote no bench-os jigdo" >&2; exit 1; }
    echo "# jigdo $v: ${JIGDO[$v]}" | tee -a "$RAW"
done

warm() { cat "$PUB"/* > /dev/null; }

for run in $(seq 1 "$RUNS"); do
    for kind in copying backed; do
        S=$WORK/run-$run-$kind
        rm -rf "$S"
        mkdir -p "$S"
        if [[ $kind == backed ]]; then
            "$REJIG" --store "$S/store" init --backed-by "$S/repo" > /dev/null
        fi
        warm
        for v in v1 v2 v3; do
            out=$S/$v.json
            /usr/bin/time -f "%e %U %S %M" -o "$S/$v.time" \
                "$REJIG" --store "$S/store" --json export "$PUB/${JIGDO[$v]}" --packages "$PUB" \
                --repo "$S/repo" --mode bare-user --ref bench/os > "$out"
            read -r wall user sys rss < "$S/$v.time"
            commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["commit"])' "$out")
            [[ $commit == "${COMMIT[$v]}" ]] || { echo "run $run $kind $v: commit $commit, not ${COMMIT[$v]}" >&2; exit 1; }
            fetched=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["bytes_fetched"] + d.get("part_bytes_fetched", 0))' "$out")
            metric "$run" "$kind" "$v" wall "$wall"
            metric "$run" "$kind" "$v" fetched "$fetched"
            echo "run $run $kind $v: ${wall}s, fetched $fetched bytes" | tee -a "$RAW"
        done
        store=$(du -sb "$S/store" | cut -f1)
        repo=$(du -sb "$S/repo" | cut -f1)
        metric "$run" "$kind" after-v3 store_bytes "$store"
        metric "$run" "$kind" after-v3 repo_bytes "$repo"
        echo "run $run $kind: store $store bytes, repository $repo bytes" | tee -a "$RAW"
        if [[ $run == 1 ]]; then
            ostree fsck --repo="$S/repo" > /dev/null
            "$REJIG" --store "$S/store" fsck > /dev/null
        fi
        [[ $run == 1 ]] || rm -rf "$S"
    done
done

python3 - "$RAW" <<'EOF' | tee -a "$RAW"
import statistics, sys
from collections import defaultdict
values = defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("M "):
        _, run, kind, step, name, value = line.split()
        values[(kind, step, name)].append(float(value))
med = lambda k: statistics.median(values[k])
rng = lambda k: f"{min(values[k]):g}–{max(values[k]):g}"
n = len(values[("copying", "v1", "wall")])
print(f"\n### Edge host: copying store vs store backed by its repository (medians of {n})")
print("| measure | copying | backed | backed / copying |")
print("|---|---|---|---|")
for step in ["v1", "v2", "v3"]:
    c, b = med(("copying", step, "wall")), med(("backed", step, "wall"))
    print(f"| {step} wall s | {c:.2f} ({rng(('copying', step, 'wall'))}) | {b:.2f} ({rng(('backed', step, 'wall'))}) | {b / c:.2f}× |")
for step in ["v1", "v2", "v3"]:
    c, b = med(("copying", step, "fetched")), med(("backed", step, "fetched"))
    print(f"| {step} bytes fetched | {c:.0f} | {b:.0f} | {'same' if c == b else f'{b / c:.3f}×'} |")
sc, sb = med(("copying", "after-v3", "store_bytes")), med(("backed", "after-v3", "store_bytes"))
rc, rb = med(("copying", "after-v3", "repo_bytes")), med(("backed", "after-v3", "repo_bytes"))
print(f"| store after v3 | {sc / 1e6:.1f} MB | {sb / 1e6:.1f} MB | {sb / sc:.3f}× |")
print(f"| repository after v3 | {rc / 1e6:.1f} MB | {rb / 1e6:.1f} MB | |")
print(f"| store / repository | {100 * sc / rc:.1f}% | {100 * sb / rb:.1f}% | |")
EOF
echo "raw: $RAW"
