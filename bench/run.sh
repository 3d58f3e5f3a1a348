#!/usr/bin/env bash
# rejig benchmark: export/import against `ostree commit` and `ostree pull-local --untrusted`.
#
#   bench/run.sh [RUNS]        (default 3 runs)
#
# Builds `cargo build --release` (set REJIG=/path/to/rejig to skip the build), builds the
# workload tree once under bench/work/tree (git-ignored; delete it to rebuild), then for each
# run times, on a warm page cache:
#   ostree commit -> archive, ostree commit -> bare-user,
#   rejig import (from the bare-user repo, and from the archive repo, each into a fresh store),
#   rejig export -> archive, rejig export -> bare-user (fresh target repos; peak RSS recorded),
#   ostree pull-local --untrusted -> archive, -> bare-user (fresh, `ostree init`ed targets).
#     On one filesystem pull-local verifies each object and then *hardlinks* it (no copy), so
#     it is also timed from a copy of the source repo on tmpfs (/dev/shm), where it must copy
#     ("pull-local-copy-*"; skipped if /dev/shm is not a tmpfs with room).
# Each run also checks that every commit checksum matches the one `ostree commit` produced and
# runs `ostree fsck` on both exported repos (untimed). Raw numbers and the summary go to
# bench/runs/<UTC date>-<hostname>.txt; the summary (medians, ratios) is also printed.
# Needs: ostree, GNU time (/usr/bin/time), python3, cargo (unless REJIG is set).
set -euo pipefail

RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$ROOT/bench/work
TREE=$WORK/tree
SCRATCH=$WORK/scratch
SHM=/dev/shm/rejig-bench-$$
RUNDIR=$ROOT/bench/runs
mkdir -p "$WORK" "$RUNDIR"
export LC_ALL=C

for tool in ostree /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

# ---------------------------------------------------------------------------------------------
# Binary
if [[ -z ${REJIG:-} ]]; then
    echo "== cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
    REJIG=$ROOT/target/release/rejig
fi
[[ -x $REJIG ]] || { echo "no rejig binary at $REJIG" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Workload: copies of parts of /usr, built once. Directories are added in this order until the
# tree holds at least MIN_FILES regular files and MIN_BYTES bytes of regular content.
MIN_FILES=15000
MIN_BYTES=$((400 * 1000 * 1000))
CANDIDATES=(/usr/include /usr/share/doc /usr/lib/python3 /usr/lib/python3.* /usr/share/locale
            /usr/libexec /usr/share/perl /usr/share/i18n /usr/share/zoneinfo /usr/lib/gcc
            /usr/share/man /usr/lib/x86_64-linux-gnu)

tree_stats() { # -> "FILES BYTES SYMLINKS DIRS"
    local files bytes links dirs
    read -r files bytes < <(find "$1" -type f -printf '%s\n' | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}')
    links=$(find "$1" -type l | wc -l)
    dirs=$(find "$1" -type d | wc -l)
    echo "$files $bytes $links $dirs"
}

if [[ ! -f $WORK/tree.manifest || ! -d $TREE ]]; then
    echo "== building the workload tree in $TREE (once)"
    rm -rf "$TREE" "$TREE.tmp" "$WORK/tree.manifest"
    mkdir -p "$TREE.tmp"
    used=()
    for src in "${CANDIDATES[@]}"; do
        [[ -d $src ]] || continue
        dest=$TREE.tmp/$(echo "${src#/usr/}" | tr '/' '_')
        cp -a "$src" "$dest"
        used+=("$src")
        read -r files bytes _ _ < <(tree_stats "$TREE.tmp")
        if (( files >= MIN_FILES && bytes >= MIN_BYTES )); then break; fi
    done
    # Only regular files, symlinks and directories; no non-UTF-8 names.
    find "$TREE.tmp" ! -type f ! -type l ! -type d -delete
    python3 - "$TREE.tmp" <<'EOF'
import os, shutil, sys
root = os.fsencode(sys.argv[1])
dropped = 0
for dirpath, dirnames, filenames in os.walk(root, topdown=True):
    for name in list(dirnames) + filenames:
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            path = os.path.join(dirpath, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
                dirnames.remove(name)
            else:
                os.unlink(path)
            dropped += 1
print(f"dropped {dropped} non-UTF-8 name(s)")
EOF
    read -r files bytes links dirs < <(tree_stats "$TREE.tmp")
    if (( files < MIN_FILES || bytes < MIN_BYTES )); then
        echo "workload too small ($files files, $bytes bytes); add directories to CANDIDATES" >&2
        exit 1
    fi
    mv "$TREE.tmp" "$TREE"
    {
        echo "sources: ${used[*]}"
        echo "regular_files: $files"
        echo "regular_bytes: $bytes"
        echo "symlinks: $links"
        echo "directories: $dirs"
    } > "$WORK/tree.manifest"
fi
read -r FILES BYTES LINKS DIRS < <(tree_stats "$TREE")
SOURCES=$(sed -n 's/^sources: //p' "$WORK/tree.manifest")
echo "== workload: $FILES regular files, $BYTES bytes ($(( BYTES / 1048576 )) MiB), $LINKS symlinks, $DIRS directories"
echo "   from: $SOURCES"

# ---------------------------------------------------------------------------------------------
# Machine and versions
HOST=$(hostname)
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
RAW=$RUNDIR/$STAMP-$HOST.txt
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(sha_ni|avx2|avx512f)$' | tr '\n' ' ' || true)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
FS=$(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}')
OSTREE_VERSION=$(ostree --version | sed -n "s/^ *Version: '\(.*\)'/\1/p")
GIT=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
KERNEL=$(uname -r)

{
    echo "# rejig benchmark, raw results"
    echo "# command: bench/run.sh $RUNS"
    echo "# date (UTC): $STAMP"
    echo "# host: $HOST"
    echo "# cpu: $(nproc) x $CPU (flags: ${FLAGS:-none of sha_ni/avx2/avx512f})"
    echo "# memory: $MEM"
    echo "# kernel: $KERNEL"
    echo "# filesystem of bench/work: $FS"
    echo "# ostree: $OSTREE_VERSION"
    echo "# rejig: git $GIT, binary $REJIG"
    echo "# workload: $FILES regular files, $BYTES bytes, $LINKS symlinks, $DIRS directories"
    echo "# workload sources: $SOURCES"
    echo "# columns: run op wall_s user_s sys_s cpu_pct maxrss_kb"
} > "$RAW"
cat "$RAW" | sed -n '3,12p'

# ---------------------------------------------------------------------------------------------
# Timing: wall from date +%s.%N, the rest from GNU time -v.
measure() { # measure RUN OP CMD... ; stdout of CMD is left in $SCRATCH/OP.out
    local run=$1 op=$2
    shift 2
    local tf=$SCRATCH/$op.time t0 t1
    t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$tf" "$@" >"$SCRATCH/$op.out" 2>"$SCRATCH/$op.err"; then
        echo "FAILED: $op: $*" >&2
        cat "$SCRATCH/$op.err" "$tf" >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    awk -v run="$run" -v op="$op" -v wall="$(echo "$t1 - $t0" | bc)" -F': ' '
        /User time/ {u = $2} /System time/ {s = $2}
        /Percent of CPU/ {c = $2; sub("%", "", c)}
        /Maximum resident set size/ {r = $2}
        END {printf "%s %s %.3f %.2f %.2f %s %s\n", run, op, wall, u, s, c, r}' "$tf" | tee -a "$RAW"
}

check_eq() { # check_eq WHAT GOT WANT
    if [[ $2 != "$3" ]]; then
        echo "CHECK FAILED: $1: got '$2', want '$3'" | tee -a "$RAW" >&2
        exit 1
    fi
}

json_commit() { python3 -c 'import json,sys; print(json.load(sys.stdin)["commit"])' <"$1"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2" <"$1"; }
linked_objects() { find "$1/objects" -type f -links +1 | wc -l; }

# pull-local from tmpfs needs /dev/shm to be a tmpfs with room for both source repos.
SHM_OK=0
if [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
   (( $(df -B1 --output=avail /dev/shm | tail -1) > 3 * BYTES )); then
    SHM_OK=1
fi
echo "# pull-local-copy (source on tmpfs): $([[ $SHM_OK == 1 ]] && echo yes || echo skipped)" >> "$RAW"

warm_cache() {
    find "$TREE" -type f -print0 | xargs -0 cat >/dev/null
}

cleanup() { rm -rf "$SCRATCH" "$SHM"; }
trap cleanup EXIT

for run in $(seq 1 "$RUNS"); do
    cleanup
    mkdir -p "$SCRATCH"
    S=$SCRATCH
    echo "== run $run/$RUNS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "# run $run: loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RAW"
    warm_cache

    # a. ostree commit into fresh archive and bare-user repos
    ostree init --repo="$S/src-archive" --mode=archive
    measure "$run" commit-archive ostree commit --repo="$S/src-archive" --branch=bench \
        --no-bindings --timestamp=2024-01-01T00:00:00Z "$TREE"
    COMMIT=$(tr -d '[:space:]' <"$S/commit-archive.out")
    ostree init --repo="$S/src-bare-user" --mode=bare-user
    measure "$run" commit-bare-user ostree commit --repo="$S/src-bare-user" --branch=bench \
        --no-bindings --timestamp=2024-01-01T00:00:00Z "$TREE"
    check_eq "ostree commit bare-user vs archive" "$(tr -d '[:space:]' <"$S/commit-bare-user.out")" "$COMMIT"
    echo "# run $run: commit $COMMIT" >> "$RAW"

    # b. import into fresh stores
    measure "$run" import-from-bare-user "$REJIG" --store "$S/store" --json import \
        --repo "$S/src-bare-user" --rev bench
    check_eq "import from bare-user" "$(json_commit "$S/import-from-bare-user.out")" "$COMMIT"
    echo "# run $run: import: $(json_field "$S/import-from-bare-user.out" objects_total) objects," \
        "$(json_field "$S/import-from-bare-user.out" raw_bytes_written) bytes of unique content," \
        "$(json_field "$S/import-from-bare-user.out" bytes_stored) bytes of packs" >> "$RAW"
    measure "$run" import-from-archive "$REJIG" --store "$S/store2" --json import \
        --repo "$S/src-archive" --rev bench
    check_eq "import from archive" "$(json_commit "$S/import-from-archive.out")" "$COMMIT"
    rm -rf "$S/store2"

    # c. export into fresh repos
    measure "$run" export-archive "$REJIG" --store "$S/store" --json export "$COMMIT" \
        --repo "$S/exp-archive" --mode archive --ref bench
    check_eq "export archive" "$(json_commit "$S/export-archive.out")" "$COMMIT"
    measure "$run" export-bare-user "$REJIG" --store "$S/store" --json export "$COMMIT" \
        --repo "$S/exp-bare-user" --mode bare-user --ref bench
    check_eq "export bare-user" "$(json_commit "$S/export-bare-user.out")" "$COMMIT"

    # d. pull-local --untrusted into fresh repos
    ostree init --repo="$S/pull-archive" --mode=archive
    measure "$run" pull-local-archive ostree pull-local --untrusted --repo="$S/pull-archive" \
        "$S/src-archive" bench
    ostree init --repo="$S/pull-bare-user" --mode=bare-user
    measure "$run" pull-local-bare-user ostree pull-local --untrusted --repo="$S/pull-bare-user" \
        "$S/src-bare-user" bench
    check_eq "pull-local archive" "$(ostree rev-parse --repo="$S/pull-archive" bench)" "$COMMIT"
    check_eq "pull-local bare-user" "$(ostree rev-parse --repo="$S/pull-bare-user" bench)" "$COMMIT"
    echo "# run $run: objects hardlinked by pull-local: archive $(linked_objects "$S/pull-archive")," \
        "bare-user $(linked_objects "$S/pull-bare-user") (of $(find "$S/pull-archive/objects" -type f | wc -l))" >> "$RAW"
    rm -rf "$S/pull-archive" "$S/pull-bare-user"
    if [[ $SHM_OK == 1 ]]; then
        mkdir -p "$SHM"
        cp -a "$S/src-archive" "$S/src-bare-user" "$SHM/"
        find "$SHM" -type f -print0 | xargs -0 cat >/dev/null
        for mode in archive bare-user; do
            ostree init --repo="$S/pull-copy-$mode" --mode=$mode
            measure "$run" pull-local-copy-$mode ostree pull-local --untrusted \
                --repo="$S/pull-copy-$mode" "$SHM/src-$mode" bench
            check_eq "pull-local-copy $mode" "$(ostree rev-parse --repo="$S/pull-copy-$mode" bench)" "$COMMIT"
            rm -rf "$S/pull-copy-$mode"
        done
        rm -rf "$SHM"
    fi

    # e. correctness of the exported repos (untimed)
    for mode in archive bare-user; do
        check_eq "export $mode ref" "$(ostree rev-parse --repo="$S/exp-$mode" bench)" "$COMMIT"
        if ! ostree fsck --repo="$S/exp-$mode" >"$S/fsck-$mode.log" 2>&1; then
            echo "CHECK FAILED: ostree fsck of the exported $mode repo" | tee -a "$RAW" >&2
            cat "$S/fsck-$mode.log" >&2
            exit 1
        fi
        echo "# run $run: ostree fsck exp-$mode: ok" >> "$RAW"
    done
    echo "# run $run: archive objects/ bytes: ostree commit $(du -sb "$S/src-archive/objects" | cut -f1)," \
        "rejig export $(du -sb "$S/exp-archive/objects" | cut -f1)" >> "$RAW"
    echo "   checks ok: commit $COMMIT everywhere, ostree fsck passes on both exported repos"
done
cleanup

# ---------------------------------------------------------------------------------------------
# Summary
python3 - "$RAW" "$BYTES" "$FILES" <<'EOF' | tee -a "$RAW"
import statistics, sys
from collections import defaultdict

raw, content_bytes, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = defaultdict(list)
for line in open(raw):
    if line.startswith("#") or not line.strip():
        continue
    run, op, wall, user, sys_, cpu, rss = line.split()
    rows[op].append(dict(wall=float(wall), user=float(user), sys=float(sys_),
                         cpu=float(cpu), rss=int(rss)))

def med(op, key):
    return statistics.median(r[key] for r in rows[op])

print()
print(f"## Summary: medians of {len(rows['export-archive'])} run(s)")
print()
print("| operation | wall s (median) | min–max | user s | sys s | CPU % | peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
OPS = ["commit-archive", "commit-bare-user", "import-from-bare-user", "import-from-archive",
       "export-archive", "export-bare-user", "pull-local-archive", "pull-local-bare-user",
       "pull-local-copy-archive", "pull-local-copy-bare-user"]
for op in [op for op in OPS if rows[op]]:
    walls = [r["wall"] for r in rows[op]]
    print(f"| {op} | {med(op, 'wall'):.2f} | {min(walls):.2f}–{max(walls):.2f} "
          f"| {med(op, 'user'):.2f} | {med(op, 'sys'):.2f} | {med(op, 'cpu'):.0f} "
          f"| {med(op, 'rss') / 1024:.0f} |")

def ratio(peer, ours, target=None):
    r = med(peer, "wall") / med(ours, "wall")
    verdict = ""
    if target is not None:
        verdict = "met" if r >= target else "MISSED"
        verdict = f" | ≥ {target:g}× | {verdict}"
    else:
        verdict = " | – | –"
    print(f"| {ours} vs {peer} | {med(ours, 'wall'):.2f} s vs {med(peer, 'wall'):.2f} s "
          f"| {r:.2f}×{verdict} |")

print()
print("Speed-up = peer median wall / rejig median wall (> 1 means rejig is faster).")
print()
print("| comparison | medians | speed-up | target | |")
print("|---|---|---|---|---|")
ratio("commit-archive", "export-archive", 2.0)
ratio("commit-bare-user", "export-bare-user", 1.0)
ratio("pull-local-archive", "export-archive")
ratio("pull-local-bare-user", "export-bare-user")
if rows["pull-local-copy-archive"]:
    ratio("pull-local-copy-archive", "export-archive")
    ratio("pull-local-copy-bare-user", "export-bare-user")
print()
mib = content_bytes / 1048576
for op in ["import-from-bare-user", "import-from-archive"]:
    w = med(op, "wall")
    print(f"{op}: {w:.2f} s, {mib / w:.0f} MiB/s of tree content ({mib:.0f} MiB incl. duplicates),"
          f" {files / w:,.0f} files/s")
for op in ["export-archive", "export-bare-user"]:
    rss = max(r["rss"] for r in rows[op]) / 1024
    print(f"{op}: peak RSS max over runs {rss:.0f} MiB (target < 300 MiB: "
          f"{'met' if rss < 300 else 'MISSED'})")
EOF
echo
echo "raw results: $RAW"
