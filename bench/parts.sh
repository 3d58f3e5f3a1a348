#!/usr/bin/env bash
# rejig jigdo format 2 benchmark (issue 11 section 7): a published directory of packages, jigdo
# RPMs and their parts, served by nginx on loopback, against `ostree pull` of the same commits
# from the compose repo served by the same nginx, into the same mode (bare-user).
#
#   bench/parts.sh [RUNS]        (default 3 runs; medians, min and max are reported)
#
# Environment: REJIG=/path/to/rejig skips `cargo build --release`; JIGDO_DATA (default
# /work/bench-data/jigdo) is where the workload lives (bench/jigdo-workload.sh makes it when
# missing; never in git); DELTA (default `parent`) is what v2 to v5 are built with
# `--delta-from`, `none` for no delta parts; LINK (e.g. `400mbit`) shapes loopback to that rate
# during the runs (`tc qdisc ... tbf` on `lo`, root and iproute2 needed; it slows every loopback
# user on the machine while it lasts), to compare the tools over a link rather than memory.
#
# Once, before the runs (timed, one sample each):
#   publish-vN   for v1, v2, v3: the packages of repo-vN hardlinked into the published directory
#                bench/work/parts/www/pub, `rejig build --output-dir` of bench/vN into it (one
#                build store for all versions), then `createrepo_c` (v1) or `createrepo_c
#                --update` (v2, v3). The files each version adds are recorded.
# Every run, on a warm page cache (the published directory and the compose repo are read once
# before each run), with a fresh store and fresh repositories:
#   rejig-v1     rejig export http://.../pub/JIGDO-v1.rpm --packages http://.../pub/ into a new
#                bare-user repo and a new store (a cold client)
#   rejig-v2     the same client: export of the v2 jigdo URL (two packages rebuilt)
#   rejig-v3     the same client: export of the v3 jigdo URL (one file changed)
#   edge-vN      the same three exports by a client whose store is backed by its repository
#                (`rejig init --backed-by`, an edge host's one copy of the OS)
#   pull-v1      ostree pull --disable-static-deltas bench/v1 into a new bare-user repo
#   pull-v2      the same repo: pull of bench/v2
#   pull-v3      the same repo: pull of bench/v3
# Every timed step starts after a `sync`, so that it pays for its own writeback only. The
# trees a run writes are deleted at the start of the next, which then waits SETTLE seconds
# (default 65) before its first step.
# Wire bytes are nginx's $body_bytes_sent summed over the requests each step made (repodata,
# jigdos, parts, packages; ostree objects and refs), from its access log.
# After the runs, the mirror: v4 and v5 (one file changed each) published the same way, the
# directory's size, `rejig mirror prune --keep 2`, `createrepo_c --update`, the size after.
# Checks (untimed): every commit is the compose repo's; run 1 runs `ostree fsck` on the repo
# rejig wrote.
# Raw numbers and the summary: bench/runs/parts-<UTC date>-<hostname>.txt.
# Needs: nginx, ostree, createrepo_c, python3, GNU time, bc, curl (and cargo).
set -euo pipefail

RUNS=${1:-3}
SETTLE=${SETTLE:-65}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${JIGDO_DATA:-/work/bench-data/jigdo}
WORK=$ROOT/bench/work/parts
WWW=$WORK/www
PUB=$WWW/pub
SCRATCH=$WORK/scratch
RUNDIR=$ROOT/bench/runs
export LC_ALL=C

for tool in nginx ostree createrepo_c /usr/bin/time python3 bc curl; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

echo "== workload"
"$ROOT/bench/jigdo-workload.sh" "$DATA"
declare -A COMMIT
for v in v1 v2 v3 v4 v5; do COMMIT[$v]=$(ostree rev-parse --repo="$DATA/compose" "bench/$v"); done

if [[ -z ${REJIG:-} ]]; then
    echo "== cargo build --release"
    (cd "$ROOT" && nice -n 5 cargo build --release --quiet --bin rejig)
    REJIG=$ROOT/target/release/rejig
fi
[[ -x $REJIG ]] || { echo "no rejig binary at $REJIG" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/nginx/tmp" "$PUB" "$SCRATCH" "$RUNDIR"
ln -s "$DATA/compose" "$WWW/compose"

HOST=$(hostname)
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
RAW=$RUNDIR/parts-$STAMP-$HOST.txt
{
    echo "# rejig jigdo format 2 (parts) benchmark, raw results"
    echo "# command: bench/parts.sh $RUNS"
    echo "# date (UTC): $STAMP"
    echo "# host: $HOST"
    echo "# cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "# memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "# disk: $(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}') (bench/work), $(df -T "$DATA" | awk 'NR == 2 {print $2 " on " $1}') (workload)"
    echo "# kernel: $(uname -r)"
    echo "# ostree: $(ostree --version | sed -n "s/^ *Version: '\(.*\)'/\1/p"), nginx: $(nginx -v 2>&1 | sed 's/.*nginx\///'), createrepo_c: $(createrepo_c --version | awk '{print $2}')"
    echo "# rejig: git $(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown), binary $REJIG"
    echo "# page cache: warm (published directory and compose repo read once before each run)"
    echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    sed 's/^/# workload: /' "$DATA/manifest.txt" | grep -v '^# workload: #'
    echo "# columns: run op wall_s user_s sys_s cpu_pct maxrss_kb | M run op key value"
} > "$RAW"
sed -n '3,60p' "$RAW"

# ---------------------------------------------------------------------------------------------
# nginx on loopback, our own config and prefix, stopped (by its pid) on exit.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ACCESS=$WORK/nginx/access.log
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
user $(id -un) $(id -gn);
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
    log_format bench '\$status \$body_bytes_sent \$bytes_sent \$request_method \$request_uri';
    access_log $ACCESS bench;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    sendfile on;
    keepalive_timeout 65;
    types { application/x-rpm rpm; application/xml xml; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT;
        root $WWW;
    }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
URL=http://127.0.0.1:$PORT
cleanup() {
    kill "$NGINX_PID" 2>/dev/null || true
    [[ -z ${LINK:-} ]] || tc qdisc del dev lo root 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "$URL/compose/config" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/compose/config" >/dev/null || { echo "nginx does not answer on $URL" >&2; cat "$WORK/nginx/error.log" >&2; exit 1; }
echo "# http: nginx on $URL (pid $NGINX_PID), root $WWW (pub/ and compose/)" >> "$RAW"

log_mark() { wc -l < "$ACCESS"; }
served_since() { # served_since MARK -> "key value" lines: requests, bytes, per class, non-2xx
    tail -n +"$(( $1 + 1 ))" "$ACCESS" | python3 -c '
import re, sys
from collections import Counter
n, b, bad = Counter(), Counter(), 0
for line in sys.stdin:
    status, body, total, method, uri = line.split()[:5]
    if not status.startswith("2"):
        bad += 1
    path = uri.split("?")[0]
    if "/repodata/" in path: c = "repodata"
    elif "/pub/bench-os-" in path: c = "jigdo"
    elif "/pub/rejig-part-" in path: c = "parts"
    elif path.startswith("/pub/"): c = "packages"
    else: c = "ostree"
    for k in ("all", c):
        n[k] += 1
        b[k] += int(body)
print("http_requests", n["all"])
print("http_bytes", b["all"])
for c in ("repodata", "jigdo", "parts", "packages", "ostree"):
    if n[c]:
        print(f"http_requests_{c}", n[c])
        print(f"http_bytes_{c}", b[c])
print("http_not_2xx", bad)'
}

# measure RUN OP CMD...: wall from date +%s.%N, the rest from GNU time; stdout in $SCRATCH/OP.out;
# the requests and bytes nginx logged while it ran.
measure() {
    local run=$1 op=$2
    shift 2
    local tf=$SCRATCH/$op.time t0 t1 mark
    mark=$(log_mark)
    # No step pays for the writeback of the one before it: both tools sync what they write.
    sync
    t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$tf" "$@" >"$SCRATCH/$op.out" 2>"$SCRATCH/$op.err"; then
        echo "FAILED: $op: $*" | tee -a "$RAW" >&2
        cat "$SCRATCH/$op.err" "$tf" >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    awk -v run="$run" -v op="$op" -v wall="$(echo "$t1 - $t0" | bc)" -F': ' '
        /User time/ {u = $2} /System time/ {s = $2}
        /Percent of CPU/ {c = $2; sub("%", "", c)}
        /Maximum resident set size/ {r = $2}
        END {printf "%s %s %.3f %.2f %.2f %s %s\n", run, op, wall, u, s, c, r}' "$tf" | tee -a "$RAW"
    served_since "$mark" | while read -r k val; do metric "$run" "$op" "$k" "$val"; done
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
check_eq() { # check_eq WHAT GOT WANT
    if [[ $2 != "$3" ]]; then
        echo "CHECK FAILED: $1: got '$2', want '$3'" | tee -a "$RAW" >&2
        exit 1
    fi
}
warm_cache() {
    find "$PUB" "$DATA/compose" -type f -print0 | xargs -0 cat >/dev/null
}
pub_files() { (cd "$PUB" && find . -maxdepth 1 -type f -name '*.rpm' -printf '%f\n' | sort); }
pub_bytes() { find "$PUB" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

# ---------------------------------------------------------------------------------------------
# Untimed facts: the objects each update adds (archive form), from a throwaway archive repo.
echo "== facts about the commits"
ostree init --repo="$SCRATCH/facts" --mode=archive
prev_list=/dev/null
for v in v1 v2 v3; do
    ostree pull-local --repo="$SCRATCH/facts" "$DATA/compose" "${COMMIT[$v]}" >/dev/null
    (cd "$SCRATCH/facts/objects" && find . -type f | sort) > "$SCRATCH/objects-$v"
    read -r cnt bytes < <(comm -13 "$prev_list" "$SCRATCH/objects-$v" |
        (cd "$SCRATCH/facts/objects" && xargs -r stat -c %s) | awk '{n++; s += $1} END {print n + 0, s + 0}')
    kinds=$(comm -13 "$prev_list" "$SCRATCH/objects-$v" | sed 's/.*\.//' | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')
    echo "# $v ${COMMIT[$v]}: objects new against the version before (archive): $cnt ($kinds) $bytes bytes" | tee -a "$RAW"
    metric 0 facts "new_objects_$v" "$cnt"
    metric 0 facts "new_object_bytes_$v" "$bytes"
    prev_list=$SCRATCH/objects-$v
done
rm -rf "$SCRATCH/facts"

# ---------------------------------------------------------------------------------------------
# publish VERSION: its packages hardlinked in, rejig build --output-dir, createrepo_c.
declare -A JIGDO
publish() {
    local v=$1 before after added pkgs=0 pkgb=0 parts=0 partb=0 jig="" f repo=$DATA/repo-v2
    [[ $v == v1 ]] && repo=$DATA/repo-v1   # v3-v5 are v2's packages with one file changed
    before=$(pub_files)
    for f in "$repo"/*.rpm; do
        [[ -e $PUB/$(basename "$f") ]] || ln "$f" "$PUB/"
    done
    local delta=()
    # An update is built with delta parts from its parent (DELTA=none: without).
    [[ $v != v1 && ${DELTA:-parent} != none ]] && delta=(--delta-from "${DELTA:-parent}")
    measure 0 "build-$v" "$REJIG" --store "$WORK/st-build" --json build --repo "$DATA/compose" \
        --rev "bench/$v" --packages "$repo" --name bench-os --output-dir "$PUB" "${delta[@]}"
    json_metrics 0 "build-$v"
    if [[ $v == v1 ]]; then
        measure 0 "createrepo-$v" nice -n 10 createrepo_c --quiet --no-database "$PUB"
    else
        measure 0 "createrepo-$v" nice -n 10 createrepo_c --quiet --no-database --update "$PUB"
    fi
    after=$(pub_files)
    added=$(comm -13 <(echo "$before") <(echo "$after"))
    while read -r f; do
        [[ -n $f ]] || continue
        case $f in
            bench-os-*) jig=$f ;;
            rejig-part-*) parts=$((parts + 1)); partb=$((partb + $(stat -c %s "$PUB/$f"))) ;;
            *) pkgs=$((pkgs + 1)); pkgb=$((pkgb + $(stat -c %s "$PUB/$f"))) ;;
        esac
    done <<< "$added"
    [[ -n $jig ]] || { echo "build of $v added no bench-os-*.rpm to $PUB" | tee -a "$RAW" >&2; exit 1; }
    JIGDO[$v]=$jig
    metric 0 "publish-$v" rpms_added "$(grep -c . <<< "$added")"
    metric 0 "publish-$v" packages_added "$pkgs"
    metric 0 "publish-$v" package_bytes_added "$pkgb"
    metric 0 "publish-$v" parts_added "$parts"
    metric 0 "publish-$v" part_bytes_added "$partb"
    metric 0 "publish-$v" jigdo_bytes "$(stat -c %s "$PUB/$jig")"
    metric 0 "publish-$v" repodata_bytes "$(du -sb "$PUB/repodata" | cut -f1)"
    metric 0 "publish-$v" pub_bytes "$(pub_bytes)"
    metric 0 "publish-$v" pub_rpms "$(pub_files | wc -l)"
    echo "# publish $v: jigdo $jig ($(stat -c %s "$PUB/$jig") bytes); added $pkgs packages ($pkgb bytes), $parts parts ($partb bytes); directory $(pub_bytes) bytes in $(pub_files | wc -l) RPMs + repodata" | tee -a "$RAW"
}
echo "== publishing v1, v2, v3"
for v in v1 v2 v3; do publish "$v"; done

# ---------------------------------------------------------------------------------------------
if [[ -n ${LINK:-} ]]; then
    tc qdisc replace dev lo root tbf rate "$LINK" burst 512kb latency 100ms
    echo "# link: loopback shaped to $LINK during the runs ($(tc qdisc show dev lo | head -1))" | tee -a "$RAW"
fi
for run in $(seq 1 "$RUNS"); do
    rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
    # What a run writes is deleted only here, then left to settle: ext4 without a journal (this
    # VM's root filesystem) will not reuse an inode within 60 s of its deletion, and checks each
    # candidate against the inode table to know, so whichever cold install followed the
    # deletion of a repository paid 1-2 s of system time for it.
    sync; sleep "$SETTLE"
    S=$SCRATCH
    echo "== run $run/$RUNS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "# run $run: loadavg before: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%T) UTC" >> "$RAW"
    warm_cache

    # rejig: a cold client, then its updates, every input by URL
    for v in v1 v2 v3; do
        measure "$run" "rejig-$v" "$REJIG" --store "$S/st" --json export "$URL/pub/${JIGDO[$v]}" \
            --packages "$URL/pub/" --repo "$S/exp" --mode bare-user --ref bench
        json_metrics "$run" "rejig-$v"
        check_eq "rejig $v ref" "$(ostree rev-parse --repo="$S/exp" bench)" "${COMMIT[$v]}"
    done
    if [[ $run == 1 ]]; then
        if ostree fsck --repo="$S/exp" >"$S/fsck.log" 2>&1; then
            echo "# fsck of rejig's bare-user repo after v3: ok" >> "$RAW"
        else
            echo "CHECK FAILED: ostree fsck of rejig's repo" | tee -a "$RAW" >&2; cat "$S/fsck.log" >&2; exit 1
        fi
    fi

    # rejig on an edge host: the same client with a store backed by its repository (one copy)
    "$REJIG" --store "$S/edge-st" init --backed-by "$S/edge" >/dev/null
    for v in v1 v2 v3; do
        measure "$run" "edge-$v" "$REJIG" --store "$S/edge-st" --json export "$URL/pub/${JIGDO[$v]}" \
            --packages "$URL/pub/" --repo "$S/edge" --mode bare-user --ref bench
        json_metrics "$run" "edge-$v"
        check_eq "edge $v ref" "$(ostree rev-parse --repo="$S/edge" bench)" "${COMMIT[$v]}"
    done
    if [[ $run == 1 ]]; then
        if ostree fsck --repo="$S/edge" >"$S/fsck.log" 2>&1 && "$REJIG" --store "$S/edge-st" fsck >>"$S/fsck.log" 2>&1; then
            echo "# ostree fsck of the edge repo and rejig fsck of its backed store after v3: ok" >> "$RAW"
        else
            echo "CHECK FAILED: fsck of the edge client" | tee -a "$RAW" >&2; cat "$S/fsck.log" >&2; exit 1
        fi
    fi

    # ostree: the same commits from the compose repo, same server, same mode
    ostree init --repo="$S/pull" --mode=bare-user
    ostree remote add --repo="$S/pull" --no-gpg-verify mirror "$URL/compose"
    for v in v1 v2 v3; do
        measure "$run" "pull-$v" ostree pull --repo="$S/pull" --disable-static-deltas mirror "bench/$v"
        check_eq "pull $v" "$(ostree rev-parse --repo="$S/pull" "mirror:bench/$v")" "${COMMIT[$v]}"
        echo "# run $run: pull-$v: $(grep -ah 'transferred' "$S/pull-$v.out" "$S/pull-$v.err" | tail -1)" >> "$RAW"
    done
done

# ---------------------------------------------------------------------------------------------
echo "== mirror: v4, v5, then rejig mirror prune --keep 2"
mkdir -p "$SCRATCH"
for v in v4 v5; do publish "$v"; done
metric 0 mirror before_prune_bytes "$(pub_bytes)"
metric 0 mirror before_prune_rpms "$(pub_files | wc -l)"
measure 0 prune "$REJIG" --json mirror prune "$PUB" --keep 2
echo "# prune output: $(tr -d '\n' < "$SCRATCH/prune.out")" >> "$RAW"
measure 0 createrepo-prune nice -n 10 createrepo_c --quiet --no-database --update "$PUB"
metric 0 mirror after_prune_bytes "$(pub_bytes)"
metric 0 mirror after_prune_rpms "$(pub_files | wc -l)"
metric 0 mirror after_prune_repodata_bytes "$(du -sb "$PUB/repodata" | cut -f1)"
metric 0 mirror packages_bytes "$(find "$PUB" -maxdepth 1 -type f -name '*.rpm' ! -name 'bench-os-*' ! -name 'rejig-part-*' -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
echo "# after prune: $(pub_files | grep -c '^bench-os-') jigdos, $(pub_files | grep -c '^rejig-part-') parts: $(pub_files | grep -E '^bench-os-' | tr '\n' ' ')" >> "$RAW"
# a client that never saw anything still gets v5 from the pruned mirror
measure 0 rejig-v5-after-prune "$REJIG" --store "$SCRATCH/st5" --json export "$URL/pub/${JIGDO[v5]}" \
    --packages "$URL/pub/" --repo "$SCRATCH/exp5" --mode bare-user --ref bench
check_eq "v5 from the pruned mirror" "$(ostree rev-parse --repo="$SCRATCH/exp5" bench)" "${COMMIT[v5]}"
rm -rf "$SCRATCH/st5" "$SCRATCH/exp5"

# ---------------------------------------------------------------------------------------------
echo "== summary"
python3 - "$RAW" <<'EOF' | tee -a "$RAW"
import statistics, sys
from collections import defaultdict

raw = sys.argv[1]
rows, metrics = defaultdict(list), defaultdict(list)
for line in open(raw):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split()
    if f[0] == "M":
        metrics[(f[2], f[3])].append(float(f[4]))
    elif len(f) == 7:
        run, op, wall, user, sys_, cpu, rss = f
        rows[op].append(dict(wall=float(wall), user=float(user), sys=float(sys_), cpu=float(cpu), rss=int(rss)))

med = statistics.median
def wall(op): return med([r["wall"] for r in rows[op]]) if rows.get(op) else None
def m(op, key): return med(metrics[(op, key)]) if metrics.get((op, key)) else None
def rng(op, key):
    xs = metrics.get((op, key))
    return f"{min(xs):,.0f}–{max(xs):,.0f}" if xs else ""

n = max(len(rows[op]) for op in rows if op.startswith("pull-"))
print()
print(f"### Steps: medians of {n} run(s)")
print()
print("| step | wall s (median) | min–max | user s | sys s | CPU % | peak RSS MiB | requests | bytes on the wire | of which repodata |")
print("|---|---|---|---|---|---|---|---|---|---|")
for op, rs in rows.items():
    ws = [r["wall"] for r in rs]
    req, byt, rd = m(op, "http_requests"), m(op, "http_bytes"), m(op, "http_bytes_repodata")
    print(f"| {op} | {wall(op):.2f} | {min(ws):.2f}–{max(ws):.2f} | {med([r['user'] for r in rs]):.2f} "
          f"| {med([r['sys'] for r in rs]):.2f} | {med([r['cpu'] for r in rs]):.0f} | {med([r['rss'] for r in rs]) / 1024:.0f} "
          f"| {'' if req is None else f'{req:.0f}'} | {'' if byt is None else f'{byt:,.0f}'} | {'' if rd is None else f'{rd:,.0f}'} |")

print()
print("### Against the targets of issue 11 (medians)")
print()
print("| measure | rejig | ostree pull | ratio | target | |")
print("|---|---|---|---|---|---|")
def row(name, a, b, target, unit, absolute=None):
    r = a / b
    if absolute is not None:
        ok = a <= absolute
        tgt = f"≤ {absolute / 1024:g} KiB"
    else:
        ok = r <= target
        tgt = f"≤ {target:g}×"
    fa = f"{a:,.0f} B" if unit == "B" else f"{a:.2f} s"
    fb = f"{b:,.0f} B" if unit == "B" else f"{b:.2f} s"
    print(f"| {name} | {fa} | {fb} | {r:.3f}× | {tgt} | {'met' if ok else 'MISSED'} |")
row("one-file update v2 → v3: bytes", m("rejig-v3", "http_bytes"), m("pull-v3", "http_bytes"), None, "B", 128 * 1024)
row("one-file update v2 → v3: time", wall("rejig-v3"), wall("pull-v3"), 1.0, "s")
row("v1 → v2: bytes", m("rejig-v2", "http_bytes"), m("pull-v2", "http_bytes"), 1.0, "B")
row("v1 → v2: time", wall("rejig-v2"), wall("pull-v2"), 1.0, "s")
row("cold install v1: bytes", m("rejig-v1", "http_bytes"), m("pull-v1", "http_bytes"), 0.8, "B")
row("cold install v1: time", wall("rejig-v1"), wall("pull-v1"), 0.5, "s")
if rows.get("edge-v1"):
    print()
    print("The same against a store backed by its repository (`init --backed-by`: one copy of the OS, as ostree keeps):")
    print()
    print("| measure | rejig, backed store | ostree pull | ratio | target | |")
    print("|---|---|---|---|---|---|")
    row("one-file update v2 → v3: bytes", m("edge-v3", "http_bytes"), m("pull-v3", "http_bytes"), None, "B", 128 * 1024)
    row("one-file update v2 → v3: time", wall("edge-v3"), wall("pull-v3"), 1.0, "s")
    row("v1 → v2: bytes", m("edge-v2", "http_bytes"), m("pull-v2", "http_bytes"), 1.0, "B")
    row("v1 → v2: time", wall("edge-v2"), wall("pull-v2"), 1.0, "s")
    row("cold install v1: bytes", m("edge-v1", "http_bytes"), m("pull-v1", "http_bytes"), 0.8, "B")
    row("cold install v1: time", wall("edge-v1"), wall("pull-v1"), 0.5, "s")

print()
print("### Bytes by kind (medians)")
print()
print("| step | repodata | jigdo | parts | packages | ostree objects and refs |")
print("|---|---|---|---|---|---|")
for op in ("rejig-v1", "rejig-v2", "rejig-v3", "edge-v1", "edge-v2", "edge-v3", "pull-v1", "pull-v2", "pull-v3",
           "rejig-v5-after-prune"):
    cells = []
    for c in ("repodata", "jigdo", "parts", "packages", "ostree"):
        b, r = m(op, f"http_bytes_{c}"), m(op, f"http_requests_{c}")
        cells.append("" if b is None else f"{b:,.0f} ({r:.0f} req)")
    print(f"| {op} | " + " | ".join(cells) + " |")

print()
print("### Mirror")
print()
print("| version | RPMs added | packages | parts (bytes) | jigdo bytes | repodata bytes | directory bytes |")
print("|---|---|---|---|---|---|---|")
for v in ("v1", "v2", "v3", "v4", "v5"):
    op = f"publish-{v}"
    if m(op, "rpms_added") is None:
        continue
    print(f"| {v} | {m(op, 'rpms_added'):.0f} | {m(op, 'packages_added'):.0f} ({m(op, 'package_bytes_added'):,.0f} B) "
          f"| {m(op, 'parts_added'):.0f} ({m(op, 'part_bytes_added'):,.0f} B) | {m(op, 'jigdo_bytes'):,.0f} "
          f"| {m(op, 'repodata_bytes'):,.0f} | {m(op, 'pub_bytes'):,.0f} |")
b, a = m("mirror", "before_prune_bytes"), m("mirror", "after_prune_bytes")
if b is not None:
    print()
    print(f"- after 5 versions: {m('mirror', 'before_prune_rpms'):.0f} RPMs, {b:,.0f} bytes (repodata included)")
    print(f"- after `rejig mirror prune --keep 2` and `createrepo_c --update`: {m('mirror', 'after_prune_rpms'):.0f} RPMs, "
          f"{a:,.0f} bytes; packages alone {m('mirror', 'packages_bytes'):,.0f} bytes; "
          f"jigdos + parts + repodata {a - m('mirror', 'packages_bytes'):,.0f} bytes")
for op in ("rejig-v1", "rejig-v2", "rejig-v3", "edge-v1", "edge-v2", "edge-v3"):
    keys = sorted(k for (o, k) in metrics if o == op and not k.startswith("http_"))
    if keys:
        print(f"- {op} (rejig --json): " + ", ".join(f"{k} {m(op, k):,.0f}" for k in keys))
EOF
echo
echo "raw results: $RAW"
