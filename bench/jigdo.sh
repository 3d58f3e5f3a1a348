#!/usr/bin/env bash
# rejig jigdo benchmark: build and export of jigdos against `ostree pull` over HTTP and static
# deltas, on an OS of RPMs (bench/jigdo-workload.sh) composed into two OSTree commits, v1 and
# v2 (v2 = v1 with 20 packages rebuilt; v3-v5 are for bench/parts.sh).
#
#   bench/jigdo.sh [RUNS]        (default 3 runs; medians, min and max are reported)
#
# Environment: REJIG=/path/to/rejig skips `cargo build --release`; JIGDO_DATA (default
# /work/bench-data/jigdo) is where the workload lives (generated when missing, never in git).
# If the rejig binary has no `build` command, only the ostree side is measured.
#
# Every run, on a warm page cache (caches cannot be dropped here; the packages and the compose
# repo are read once before each run), with fresh stores and repositories under bench/work/:
#   rejig side (each `rejig --json`, its JSON kept in the raw file):
#     build-v1-cold    rejig build of bench/v1 from repo-v1 into a fresh store
#     build-v2-warm    rejig build of bench/v2 from repo-v2 on that same store
#     build-v2-cold    rejig build of bench/v2 from repo-v2 into a fresh store
#     export-{archive,bare-user}        jigdo v1 + the local repo-v1 directory -> fresh repo,
#                                       fresh store
#     export-http-{archive,bare-user}   the same with repo-v1 as an rpm-md repo over HTTP
#     update-{archive,bare-user}        jigdo v2 + repo-v2 (local dir) on the store and repo of
#                                       export-MODE: what an update fetches and costs
#     update-http-bare-user             the same over HTTP (bytes counted by the server)
#   ostree side, from the compose repo (archive) served over HTTP on loopback:
#     pull-{archive,bare-user}          ostree pull --disable-static-deltas bench/v1 into a fresh
#                                       `ostree init --mode=MODE` repo
#     pull-update-{archive,bare-user}   ostree pull --disable-static-deltas bench/v2 into it
#     delta-generate                    ostree static-delta generate --from=v1 --to=v2 (defaults,
#                                       so --min-fallback-size 4 MB), in the compose repo
#     pull-update-delta-bare-user       ostree pull --require-static-deltas bench/v2 into a copy
#                                       of the v1 bare-user repo (ostree 2022.7 refuses static
#                                       deltas into archive repos, so there is no archive row)
# The HTTP server is `python3 -m http.server --bind 127.0.0.1` over the workload directory.
# Bytes served are the sizes of the files behind its 200 responses (its log has the paths);
# its CPU time is recorded too, since a pull of 18k objects costs it real work.
# Checks (untimed): every commit checksum is the compose repo's, `ostree fsck` passes on the
# repos rejig exported (run 1 only: fsck of 550 MB takes a while).
# Raw numbers and the summary: bench/runs/jigdo-<UTC date>-<hostname>.txt.
# Needs: ostree, python3, GNU time, bc, rpm, createrepo_c, rpmbuild, zstd (and cargo).
set -euo pipefail

RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${JIGDO_DATA:-/work/bench-data/jigdo}
WORK=$ROOT/bench/work/jigdo
SCRATCH=$WORK/scratch
RUNDIR=$ROOT/bench/runs
export LC_ALL=C
mkdir -p "$WORK" "$RUNDIR"

for tool in ostree /usr/bin/time python3 bc rpm zstd curl; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

# ---------------------------------------------------------------------------------------------
echo "== workload"
"$ROOT/bench/jigdo-workload.sh" "$DATA"
V1=$(ostree rev-parse --repo="$DATA/compose" bench/v1)
V2=$(ostree rev-parse --repo="$DATA/compose" bench/v2)

if [[ -z ${REJIG:-} ]]; then
    echo "== cargo build --release"
    (cd "$ROOT" && nice -n 5 cargo build --release --quiet)
    REJIG=$ROOT/target/release/rejig
fi
[[ -x $REJIG ]] || { echo "no rejig binary at $REJIG" >&2; exit 1; }
HTTP_OK=1
HAVE_JIGDO=0
if "$REJIG" build --help >/dev/null 2>&1; then HAVE_JIGDO=1; fi

# ---------------------------------------------------------------------------------------------
HOST=$(hostname)
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
RAW=$RUNDIR/jigdo-$STAMP-$HOST.txt
{
    echo "# rejig jigdo benchmark, raw results"
    echo "# command: bench/jigdo.sh $RUNS"
    echo "# date (UTC): $STAMP"
    echo "# host: $HOST"
    echo "# cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "# memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "# disk: $(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}') (bench/work), $(df -T "$DATA" | awk 'NR == 2 {print $2 " on " $1}') (workload)"
    echo "# kernel: $(uname -r)"
    echo "# ostree: $(ostree --version | sed -n "s/^ *Version: '\(.*\)'/\1/p"), rpm: $(rpm --version | awk '{print $3}'), python3: $(python3 --version | cut -d' ' -f2)"
    echo "# rejig: git $(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown), binary $REJIG, jigdo commands: $([[ $HAVE_JIGDO == 1 ]] && echo yes || echo no)"
    echo "# page cache: warm (workload read once before each run; caches are not dropped)"
    sed 's/^/# workload: /' "$DATA/manifest.txt" | grep -v '^# workload: #'
    echo "# columns: run op wall_s user_s sys_s cpu_pct maxrss_kb | M run op key value"
} > "$RAW"
sed -n '3,40p' "$RAW"

# ---------------------------------------------------------------------------------------------
# HTTP server on loopback over the workload directory, stopped (by its pid) on exit.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HTTP_LOG=$WORK/http.log
python3 -u -m http.server --bind 127.0.0.1 --directory "$DATA" "$PORT" >"$HTTP_LOG" 2>&1 &
HTTP_PID=$!
URL=http://127.0.0.1:$PORT
cleanup() {
    kill "$HTTP_PID" 2>/dev/null || true
    rm -rf "$SCRATCH"
    ostree static-delta delete --repo="$DATA/compose" "$V1-$V2" >/dev/null 2>&1 || true
    rm -f "$DATA/compose/summary" "$DATA/compose/summary.sig"
    find "$DATA/compose/delta-indexes" -type f -delete 2>/dev/null || true   # left by summary -u
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "$URL/manifest.txt" >/dev/null 2>&1 && break; sleep 0.1; done
echo "# http: python3 -m http.server on $URL (pid $HTTP_PID)" >> "$RAW"

server_cpu() { # CPU seconds (user+sys) the HTTP server has used so far
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$HTTP_PID/stat"
}
log_mark() { wc -l < "$HTTP_LOG"; }
served_since() { # served_since MARK -> "requests bytes" of 200 responses logged after line MARK
    tail -n +"$(( $1 + 1 ))" "$HTTP_LOG" | python3 -c '
import os, re, sys, urllib.parse
root = sys.argv[1]
n = b = 0
for line in sys.stdin:
    m = re.search(r"\"GET (\S+) HTTP/[0-9.]+\" 200 ", line)
    if m:
        n += 1
        b += os.path.getsize(os.path.join(root, urllib.parse.unquote(m.group(1).split("?")[0]).lstrip("/")))
print(n, b)' "$DATA"
}

# ---------------------------------------------------------------------------------------------
# measure RUN OP CMD...: wall from date +%s.%N, the rest from GNU time; stdout in $SCRATCH/OP.out.
# With the HTTP server involved, also the requests, bytes and server CPU of the command.
measure() {
    local run=$1 op=$2
    shift 2
    local tf=$SCRATCH/$op.time t0 t1 mark cpu0 cpu1
    mark=$(log_mark)
    cpu0=$(server_cpu)
    t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$tf" "$@" >"$SCRATCH/$op.out" 2>"$SCRATCH/$op.err"; then
        if [[ ${MAY_FAIL:-0} == 1 ]]; then   # the caller handles it; the error goes to the raw file
            echo "# run $run: $op FAILED: $*: $(grep -v '^Command exited' "$SCRATCH/$op.err" | head -3 | tr '\n' ' ')" | tee -a "$RAW" >&2
            return 1
        fi
        echo "FAILED: $op: $*" | tee -a "$RAW" >&2
        cat "$SCRATCH/$op.err" "$tf" >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    cpu1=$(server_cpu)
    awk -v run="$run" -v op="$op" -v wall="$(echo "$t1 - $t0" | bc)" -F': ' '
        /User time/ {u = $2} /System time/ {s = $2}
        /Percent of CPU/ {c = $2; sub("%", "", c)}
        /Maximum resident set size/ {r = $2}
        END {printf "%s %s %.3f %.2f %.2f %s %s\n", run, op, wall, u, s, c, r}' "$tf" | tee -a "$RAW"
    read -r reqs bytes < <(served_since "$mark")
    if (( reqs > 0 )); then
        metric "$run" "$op" http_requests "$reqs"
        metric "$run" "$op" http_bytes "$bytes"
        metric "$run" "$op" http_server_cpu_s "$(echo "$cpu1 - $cpu0" | bc)"
    fi
}
metric() { echo "M $1 $2 $3 $4" >> "$RAW"; }
json_metrics() { # json_metrics RUN OP: every numeric field of OP's JSON output as a metric
    python3 - "$SCRATCH/$2.out" "$1" "$2" >> "$RAW" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for k, v in d.items():
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        print(f"M {sys.argv[2]} {sys.argv[3]} {k} {v}")
EOF
    echo "# run $1 $2 json: $(tr -d '\n' < "$SCRATCH/$2.out")" >> "$RAW"
}
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.out" "$2"; }
check_eq() { # check_eq WHAT GOT WANT
    if [[ $2 != "$3" ]]; then
        echo "CHECK FAILED: $1: got '$2', want '$3'" | tee -a "$RAW" >&2
        exit 1
    fi
}
fsck_repo() { # fsck_repo WHAT REPO
    if ! ostree fsck --repo="$2" >"$SCRATCH/fsck.log" 2>&1; then
        echo "CHECK FAILED: ostree fsck of $1 ($2)" | tee -a "$RAW" >&2
        cat "$SCRATCH/fsck.log" >&2
        exit 1
    fi
    echo "# fsck $1: ok" >> "$RAW"
}
pull_summary() { # the "N metadata, M content objects fetched; X KiB transferred..." line of a pull
    grep -a 'transferred' "$SCRATCH/$1.out" "$SCRATCH/$1.err" | tail -1 | sed 's/^[^:]*://' || true
}
warm_cache() {
    find "$DATA/repo-v1" "$DATA/repo-v2" "$DATA/compose" -type f -print0 | xargs -0 cat >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Untimed facts about the commits, from two throwaway archive repos filled by pull-local:
# the metadata objects of v2 (what a jigdo must at least carry), and the object bytes an ideal
# object pull v1 -> v2 moves (objects of v2 missing after v1, as stored in an archive repo).
echo "== facts about the commits"
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
ostree init --repo="$SCRATCH/facts" --mode=archive
ostree pull-local --repo="$SCRATCH/facts" "$DATA/compose" "$V1" >/dev/null
(cd "$SCRATCH/facts/objects" && find . -type f | sort) > "$SCRATCH/objects-v1"
ostree pull-local --repo="$SCRATCH/facts" "$DATA/compose" "$V2" >/dev/null
(cd "$SCRATCH/facts/objects" && find . -type f | sort) > "$SCRATCH/objects-v1v2"
NEW_OBJ_BYTES=$(comm -13 "$SCRATCH/objects-v1" "$SCRATCH/objects-v1v2" |
    (cd "$SCRATCH/facts/objects" && xargs -r stat -c %s) | awk '{s += $1} END {print s + 0}')
NEW_OBJ_COUNT=$(comm -13 "$SCRATCH/objects-v1" "$SCRATCH/objects-v1v2" | wc -l)
NEW_OBJ_KINDS=$(comm -13 "$SCRATCH/objects-v1" "$SCRATCH/objects-v1v2" | sed 's/.*\.//' | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')
rm -rf "$SCRATCH/facts"
ostree init --repo="$SCRATCH/facts" --mode=archive
ostree pull-local --repo="$SCRATCH/facts" "$DATA/compose" "$V2" >/dev/null
read -r META_COUNT META_BYTES < <(find "$SCRATCH/facts/objects" -type f \( -name '*.commit' -o -name '*.dirtree' -o -name '*.dirmeta' \) \
    -printf '%s\n' | awk '{n++; s += $1} END {print n, s}')
META_ZSTD=$(cd "$SCRATCH/facts/objects" && find . -type f \( -name '*.commit' -o -name '*.dirtree' -o -name '*.dirmeta' \) -print0 |
    sort -z | tar --null -T - -cf - | zstd -19 -T1 -q -c | wc -c)
V2_OBJ_COUNT=$(find "$SCRATCH/facts/objects" -type f | wc -l)
V2_OBJ_BYTES=$(find "$SCRATCH/facts/objects" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
{
    echo "# v1 $V1"
    echo "# v2 $V2"
    echo "# v2 objects (archive): $V2_OBJ_COUNT files, $V2_OBJ_BYTES bytes"
    echo "# v2 metadata objects (commit+dirtree+dirmeta): $META_COUNT, $META_BYTES bytes; tar | zstd -19: $META_ZSTD bytes"
    echo "# ideal object pull v1 -> v2 (archive objects of v2 not in v1): $NEW_OBJ_COUNT objects ($NEW_OBJ_KINDS), $NEW_OBJ_BYTES bytes"
    echo "# repo-v1 $(du -cb "$DATA"/repo-v1/*.rpm | tail -1 | cut -f1) bytes of RPMs; changed in v2: $(sed -n 's/^changed_in_v2: //p' "$DATA/manifest.txt"):" \
        "$(for f in "$DATA"/repo-v2/*.bench2.*.rpm; do echo -n "$(basename "$f") $(stat -c %s "$f") bytes; "; done)"
} | tee -a "$RAW"
rm -rf "$SCRATCH/facts"
metric 0 facts meta_bytes "$META_BYTES"
metric 0 facts meta_zstd_bytes "$META_ZSTD"
metric 0 facts ideal_update_bytes "$NEW_OBJ_BYTES"
metric 0 facts changed_rpm_bytes "$(cat "$DATA"/repo-v2/*.bench2.*.rpm | wc -c)"

# ---------------------------------------------------------------------------------------------
for run in $(seq 1 "$RUNS"); do
    rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
    S=$SCRATCH
    echo "== run $run/$RUNS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "# run $run: loadavg before: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%T) UTC" >> "$RAW"
    warm_cache

    if [[ $HAVE_JIGDO == 1 ]]; then
        # --- build
        measure "$run" build-v1-cold "$REJIG" --store "$S/st-build" --json build --repo "$DATA/compose" \
            --rev bench/v1 --packages "$DATA/repo-v1" --name bench-os -o "$S/jigdo-v1.rpm"
        json_metrics "$run" build-v1-cold
        check_eq "build v1 commit" "$(json_field build-v1-cold commit)" "$V1"
        measure "$run" build-v2-warm "$REJIG" --store "$S/st-build" --json build --repo "$DATA/compose" \
            --rev bench/v2 --packages "$DATA/repo-v2" --name bench-os -o "$S/jigdo-v2.rpm"
        json_metrics "$run" build-v2-warm
        check_eq "build v2 commit" "$(json_field build-v2-warm commit)" "$V2"
        measure "$run" build-v2-cold "$REJIG" --store "$S/st-build2" --json build --repo "$DATA/compose" \
            --rev bench/v2 --packages "$DATA/repo-v2" --name bench-os -o "$S/jigdo-v2-cold.rpm"
        json_metrics "$run" build-v2-cold
        check_eq "build v2 (cold) commit" "$(json_field build-v2-cold commit)" "$V2"
        metric "$run" jigdo v1_bytes "$(stat -c %s "$S/jigdo-v1.rpm")"
        metric "$run" jigdo v2_bytes "$(stat -c %s "$S/jigdo-v2.rpm")"
        echo "# run $run: jigdo v2 from the warm and the cold store identical: $(cmp -s "$S/jigdo-v2.rpm" "$S/jigdo-v2-cold.rpm" && echo yes || echo no)" >> "$RAW"
        rm -rf "$S/st-build" "$S/st-build2" "$S/jigdo-v2-cold.rpm"

        # --- cold export of v1 (fresh store, fresh repo), from the directory and over HTTP
        for mode in archive bare-user; do
            measure "$run" "export-$mode" "$REJIG" --store "$S/st-$mode" --json export "$S/jigdo-v1.rpm" \
                --packages "$DATA/repo-v1" --repo "$S/exp-$mode" --mode "$mode" --ref bench
            json_metrics "$run" "export-$mode"
            check_eq "export $mode commit" "$(json_field "export-$mode" commit)" "$V1"
            check_eq "export $mode ref" "$(ostree rev-parse --repo="$S/exp-$mode" bench)" "$V1"
            # rpm-md over HTTP: measured only while rejig supports it (the first failure is
            # recorded in the raw file and turns these rows off)
            if [[ $HTTP_OK == 1 ]] && MAY_FAIL=1 measure "$run" "export-http-$mode" "$REJIG" \
                    --store "$S/st-http-$mode" --json export "$S/jigdo-v1.rpm" \
                    --packages "$URL/repo-v1/" --repo "$S/exp-http-$mode" --mode "$mode" --ref bench; then
                json_metrics "$run" "export-http-$mode"
                check_eq "export over HTTP $mode commit" "$(json_field "export-http-$mode" commit)" "$V1"
            else
                HTTP_OK=0
            fi
            if [[ $run == 1 ]]; then fsck_repo "rejig export $mode" "$S/exp-$mode"; fi
            # the bare-user HTTP client is kept for update-http-bare-user
            [[ $mode == bare-user ]] || rm -rf "$S/exp-http-$mode" "$S/st-http-$mode"
        done

        # --- update v1 -> v2 on the clients' stores and repos
        for mode in archive bare-user; do
            measure "$run" "update-$mode" "$REJIG" --store "$S/st-$mode" --json export "$S/jigdo-v2.rpm" \
                --packages "$DATA/repo-v2" --repo "$S/exp-$mode" --mode "$mode" --ref bench
            json_metrics "$run" "update-$mode"
            check_eq "update $mode ref" "$(ostree rev-parse --repo="$S/exp-$mode" bench)" "$V2"
            if [[ $run == 1 ]]; then fsck_repo "rejig update $mode" "$S/exp-$mode"; fi
            rm -rf "$S/exp-$mode" "$S/st-$mode"
        done
        if [[ $HTTP_OK == 1 ]]; then
            measure "$run" update-http-bare-user "$REJIG" --store "$S/st-http-bare-user" --json export "$S/jigdo-v2.rpm" \
                --packages "$URL/repo-v2/" --repo "$S/exp-http-bare-user" --mode bare-user --ref bench
            json_metrics "$run" update-http-bare-user
            check_eq "update over HTTP ref" "$(ostree rev-parse --repo="$S/exp-http-bare-user" bench)" "$V2"
        fi
        rm -rf "$S/exp-http-bare-user" "$S/st-http-bare-user"
    fi

    # --- ostree pull over HTTP: v1 into fresh repos, then v1 -> v2
    for mode in archive bare-user; do
        ostree init --repo="$S/pull-$mode" --mode="$mode"
        ostree remote add --repo="$S/pull-$mode" --no-gpg-verify mirror "$URL/compose"
        measure "$run" "pull-$mode" ostree pull --repo="$S/pull-$mode" --disable-static-deltas mirror bench/v1
        check_eq "pull $mode" "$(ostree rev-parse --repo="$S/pull-$mode" mirror:bench/v1)" "$V1"
        echo "# run $run: pull-$mode: $(pull_summary "pull-$mode")" >> "$RAW"
        [[ $mode == bare-user ]] && cp -a "$S/pull-$mode" "$S/pull-delta-$mode"
        measure "$run" "pull-update-$mode" ostree pull --repo="$S/pull-$mode" --disable-static-deltas mirror bench/v2
        check_eq "pull update $mode" "$(ostree rev-parse --repo="$S/pull-$mode" mirror:bench/v2)" "$V2"
        echo "# run $run: pull-update-$mode: $(pull_summary "pull-update-$mode")" >> "$RAW"
        rm -rf "$S/pull-$mode"
    done

    # --- static delta v1 -> v2, and a pull that uses it
    ostree static-delta delete --repo="$DATA/compose" "$V1-$V2" >/dev/null 2>&1 || true
    measure "$run" delta-generate ostree static-delta generate --repo="$DATA/compose" --from="$V1" --to="$V2"
    metric "$run" delta-generate delta_bytes "$(find "$DATA/compose/deltas" -type f -printf '%s\n' | awk '{s += $1} END {print s}')"
    ostree static-delta show --repo="$DATA/compose" "$V1-$V2" > "$S/delta-show.txt"
    echo "# run $run: delta: $(grep -E 'Total|Number of parts|Fallback|Part' "$S/delta-show.txt" | tr -s ' ' | tr '\n' ';')" >> "$RAW"
    ostree summary -u --repo="$DATA/compose"
    measure "$run" pull-update-delta-bare-user ostree pull --repo="$S/pull-delta-bare-user" --require-static-deltas mirror bench/v2
    check_eq "pull update via delta" "$(ostree rev-parse --repo="$S/pull-delta-bare-user" mirror:bench/v2)" "$V2"
    echo "# run $run: pull-update-delta-bare-user: $(pull_summary pull-update-delta-bare-user)" >> "$RAW"
    ostree static-delta delete --repo="$DATA/compose" "$V1-$V2" >/dev/null
    rm -f "$DATA/compose/summary" "$DATA/compose/summary.sig"
    find "$DATA/compose/delta-indexes" -type f -delete
    rm -rf "$SCRATCH"
done

# ---------------------------------------------------------------------------------------------
echo "== summary"
python3 - "$RAW" "$HAVE_JIGDO" <<'EOF' | tee -a "$RAW"
import statistics, sys
from collections import defaultdict

raw, have_jigdo = sys.argv[1], sys.argv[2] == "1"
rows, metrics = defaultdict(list), defaultdict(list)
for line in open(raw):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split()
    if f[0] == "M":
        metrics[(f[2], f[3])].append(float(f[4]))
    elif len(f) == 7:
        run, op, wall, user, sys_, cpu, rss = f
        rows[op].append(dict(wall=float(wall), user=float(user), sys=float(sys_),
                             cpu=float(cpu), rss=int(rss)))

med = lambda xs: statistics.median(xs)
def wall(op): return med([r["wall"] for r in rows[op]]) if rows.get(op) else None
def m(op, key): return med(metrics[(op, key)]) if metrics.get((op, key)) else None
def mb(x): return f"{x / 1e6:,.2f} MB" if x is not None else "–"

print()
print(f"### Timings: medians of {max(len(v) for v in rows.values())} run(s)")
print()
print("| operation | wall s (median) | min–max | user s | sys s | CPU % | peak RSS MiB | HTTP requests | HTTP bytes | server CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for op, rs in rows.items():
    ws = [r["wall"] for r in rs]
    req, byt, cpu = m(op, "http_requests"), m(op, "http_bytes"), m(op, "http_server_cpu_s")
    print(f"| {op} | {wall(op):.2f} | {min(ws):.2f}–{max(ws):.2f} | {med([r['user'] for r in rs]):.2f} "
          f"| {med([r['sys'] for r in rs]):.2f} | {med([r['cpu'] for r in rs]):.0f} "
          f"| {med([r['rss'] for r in rs]) / 1024:.0f} | {'' if req is None else f'{req:.0f}'} "
          f"| {'' if byt is None else mb(byt)} | {'' if cpu is None else f'{cpu:.2f}'} |")

def cmp(name, a, b, target=None, fmt=lambda x: f"{x:.2f} s"):
    if a is None or b is None:
        print(f"| {name} | not measured | | | |")
        return
    r = a / b
    t = v = ""
    if target is not None:
        t, v = f"≤ {target:g}", ("met" if r <= target else "MISSED")
    print(f"| {name} | {fmt(a)} vs {fmt(b)} | {r:.2f}× | {t} | {v} |")
if have_jigdo:
    print()
    print("### Comparisons (medians)")
    print()
    print("| comparison | figures | ratio | target | |")
    print("|---|---|---|---|---|")
    cmp("warm build v2 / cold build v2", wall("build-v2-warm"), wall("build-v2-cold"), 0.2)
    cmp("warm build v2 / cold build v1", wall("build-v2-warm"), wall("build-v1-cold"), 0.2)
    for mode in ("archive", "bare-user"):
        cmp(f"cold export → {mode} (local dir) / ostree pull over HTTP", wall(f"export-{mode}"), wall(f"pull-{mode}"), 0.5)
        cmp(f"cold export → {mode} (rpm-md over HTTP) / ostree pull over HTTP", wall(f"export-http-{mode}"), wall(f"pull-{mode}"), 0.5)
    for mode in ("archive", "bare-user"):
        cmp(f"update → {mode} (local dir) / ostree pull v1→v2", wall(f"update-{mode}"), wall(f"pull-update-{mode}"))
    cmp("update → bare-user (rpm-md over HTTP) / ostree pull v1→v2", wall("update-http-bare-user"), wall("pull-update-bare-user"))

print()
print("### Update v1 → v2: bytes over the wire (medians)")
print()
j2 = m("jigdo", "v2_bytes")
print("| method | bytes (median) | min–max | vs ostree object pull |")
print("|---|---|---|---|")
pull = m("pull-update-bare-user", "http_bytes")
def rng(op, key):
    xs = metrics.get((op, key))
    return f"{min(xs):,.0f}–{max(xs):,.0f}" if xs else ""
lines = []   # (label, median bytes, min–max)
if have_jigdo:
    bf = m("update-bare-user", "bytes_fetched")
    lines.append(("rejig: bytes_fetched (local dir) + jigdo v2", bf + j2, ""))
    lines.append(("  of which bytes_fetched", bf, rng("update-bare-user", "bytes_fetched")))
    lines.append(("  of which the jigdo v2", j2, rng("jigdo", "v2_bytes")))
    hb = m("update-http-bare-user", "http_bytes")
    lines.append(("rejig over HTTP: bytes served (repodata + packages) + jigdo v2",
                  None if hb is None else hb + j2, ""))
    lines.append(("  rejig over HTTP: bytes_fetched reported", m("update-http-bare-user", "bytes_fetched"), ""))
    lines.append(("  rejig over HTTP: bytes_downloaded reported", m("update-http-bare-user", "bytes_downloaded"), ""))
lines.append(("ostree pull --disable-static-deltas (bytes served)", pull, rng("pull-update-bare-user", "http_bytes")))
lines.append(("  ideal object pull (archive objects of v2 not in v1)", m("facts", "ideal_update_bytes"), ""))
lines.append(("static delta (size of deltas/)", m("delta-generate", "delta_bytes"), rng("delta-generate", "delta_bytes")))
lines.append(("ostree pull via the static delta, bare-user (bytes served)", m("pull-update-delta-bare-user", "http_bytes"),
              rng("pull-update-delta-bare-user", "http_bytes")))
lines.append(("the two changed RPMs", m("facts", "changed_rpm_bytes"), ""))
for name, b, r in lines:
    if b is None:
        print(f"| {name} | not measured | | |")
    else:
        print(f"| {name} | {b:,.0f} | {r} | {b / pull:.2f}× |")

if have_jigdo:
    print()
    print("### Jigdo size (medians)")
    print()
    meta, metaz = m("facts", "meta_bytes"), m("facts", "meta_zstd_bytes")
    bn = m("build-v2-warm", "bytes_new")
    print(f"- jigdo v1 {m('jigdo', 'v1_bytes'):,.0f} bytes, jigdo v2 {j2:,.0f} bytes")
    print(f"- v2 metadata objects (commit+dirtree+dirmeta) {meta:,.0f} bytes (tar | zstd -19: {metaz:,.0f});"
          f" + bytes_new {bn:,.0f} = {meta + bn:,.0f}")
    print(f"- jigdo v2 / (metadata + new objects) = {j2 / (meta + bn):.2f}×; jigdo v2 / zstd'd metadata = {j2 / metaz:.2f}×")
    for op in ("build-v1-cold", "build-v2-warm", "build-v2-cold"):
        keys = ["objects_total", "objects_from_packages", "objects_new", "objects_symlink",
                "bytes_from_packages", "bytes_new", "packages_used", "packages_unused", "jigdo_bytes"]
        if rows.get(op):
            print(f"- {op}: " + ", ".join(f"{k} {m(op, k):,.0f}" for k in keys if m(op, k) is not None))
    for op in ("export-archive", "export-bare-user", "export-http-bare-user", "update-archive",
               "update-bare-user", "update-http-bare-user"):
        keys = ["packages_total", "packages_needed", "packages_fetched", "bytes_fetched",
                "bytes_downloaded", "content_objects", "content_objects_in_store",
                "objects_total", "objects_written", "objects_reused"]
        if rows.get(op):
            print(f"- {op}: " + ", ".join(f"{k} {m(op, k):,.0f}" for k in keys if m(op, k) is not None))
EOF
echo
echo "raw results: $RAW"
