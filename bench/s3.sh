#!/usr/bin/env bash
# rejig on a store shared through S3 (issue 14), against moto's S3 server on loopback, on the
# distro-like workload of bench/jigdo-workload.sh (337 packages, 560 MB of content).
#
#   bench/s3.sh [RUNS]        (default 3 runs; medians reported)
#
# Environment: REJIG=/path/to/rejig skips `cargo build --release`; JIGDO_DATA (default
# /work/bench-data/jigdo) is the workload (generated when missing, never in git).
#
# Compose N is bench/v1. Compose N+1 (ref bench/s3-n1 in the workload's compose repo, made
# once) is N with two packages changed: their rebuilt v2 RPMs replace the v1 ones in the package
# directory, and their files (extracted from those RPMs) are laid over N's tree.
# Every run, with fresh stores, caches and bucket:
#   local-cold     rejig build of N into a fresh local store (the peer figure)
#   s3-cold-A      builder A: rejig build of N into an empty bucket, empty cache
#   s3-B           builder B, empty cache: rejig build of N+1 on the bucket A filled
# Requests are counted by the server (moto's request log, one line per request) and by the
# client (REJIG_S3_STATS: requests by kind and body bytes); bytes are the client's count.
# Raw numbers and the summary: bench/runs/s3-<UTC date>-<hostname>.txt.
# Needs: moto_server (pip install 'moto[server]'), ostree, rpm2cpio, cpio, python3, curl.
set -euo pipefail

RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${JIGDO_DATA:-/work/bench-data/jigdo}
WORK=$ROOT/bench/work/s3
RUNDIR=$ROOT/bench/runs
export LC_ALL=C
mkdir -p "$WORK" "$RUNDIR"
for tool in moto_server ostree rpm2cpio cpio python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

"$ROOT/bench/jigdo-workload.sh" "$DATA"
if [ -z "${REJIG:-}" ]; then
    (cd "$ROOT" && nice -n 5 cargo build --release --quiet)
    REJIG=$ROOT/target/release/rejig
fi

# --- compose N+1: two packages changed -------------------------------------------------------
CHANGED=$(sed -n 's/^changed_in_v2: //p' "$DATA/manifest.txt" | tr ' ' '\n' | head -2)
PKGS_N1=$DATA/repo-s3-n1
if ! ostree rev-parse --repo="$DATA/compose" bench/s3-n1 >/dev/null 2>&1; then
    echo "== composing N+1 (bench/s3-n1): v1 with $(echo $CHANGED) from v2"
    rm -rf "$PKGS_N1" "$WORK/overlay"
    mkdir -p "$PKGS_N1" "$WORK/overlay"
    for rpm in "$DATA"/repo-v1/*.rpm; do
        name=$(rpm -qp --qf '%{NAME}' "$rpm" 2>/dev/null)
        if echo "$CHANGED" | grep -qx "$name"; then
            new=$(for r in "$DATA"/repo-v2/"$name"-*.rpm; do [ "$(rpm -qp --qf '%{NAME}' "$r" 2>/dev/null)" = "$name" ] && echo "$r"; done | head -1)
            ln "$new" "$PKGS_N1/"
            (cd "$WORK/overlay" && rpm2cpio "$new" | cpio -idm --quiet)
        else
            ln "$rpm" "$PKGS_N1/"
        fi
    done
    [ -d "$WORK/overlay/etc" ] && { mkdir -p "$WORK/overlay/usr/etc"; cp -a "$WORK/overlay/etc/." "$WORK/overlay/usr/etc/"; rm -rf "$WORK/overlay/etc"; }
    ostree commit --repo="$DATA/compose" -b bench/s3-n1 --tree=ref=bench/v1 --tree=dir="$WORK/overlay" \
        --owner-uid=0 --owner-gid=0 --timestamp=2024-01-02T00:00:00Z -s "v1 with two packages changed" >/dev/null
fi
N1=$(ostree rev-parse --repo="$DATA/compose" bench/s3-n1)
V1=$(ostree rev-parse --repo="$DATA/compose" bench/v1)

# --- moto ------------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MOTO_LOG=$WORK/moto.log
moto_server -H 127.0.0.1 -p "$PORT" >"$MOTO_LOG" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
requests() { grep -c 'HTTP/1.1"' "$MOTO_LOG" || true; }

RAW=$RUNDIR/s3-$(date -u +%Y%m%dT%H%M%SZ)-$(hostname).txt
echo "# bench/s3.sh: N=bench/v1 ($V1), N+1=bench/s3-n1 ($N1), changed: $(echo $CHANGED)" > "$RAW"
measure() { # measure RUN NAME STATSFILE CMD... -> appends "RUN NAME seconds server_requests client_json build_json"
    local run=$1 name=$2 stats=$3; shift 3
    local before after t0 t1 out
    before=$(requests)
    t0=$(date +%s.%N)
    out=$(REJIG_S3_STATS=$stats "$@")
    t1=$(date +%s.%N)
    after=$(requests)
    local client="{}"; [ -s "$stats" ] && client=$(cat "$stats")
    echo "$run $name $(echo "$t1 - $t0" | bc) $((after - before)) $client $(echo "$out" | tr -d '\n')" >> "$RAW"
    echo "  $name: $(echo "$t1 - $t0" | bc) s, $((after - before)) requests"
}

for run in $(seq "$RUNS"); do
    echo "== run $run"
    S=$WORK/run
    rm -rf "$S"; mkdir -p "$S"
    bucket=bench-$run-$$
    curl -s -X PUT "http://127.0.0.1:$PORT/$bucket" >/dev/null
    cat "$DATA"/repo-v1/*.rpm "$PKGS_N1"/*.rpm >/dev/null   # warm page cache for every side
    measure "$run" local-cold /dev/null "$REJIG" --json --store "$S/local" build --repo "$DATA/compose" --rev bench/v1 \
        --packages "$DATA/repo-v1" --name bench-os -o "$S/local.rpm"
    measure "$run" s3-cold-A "$S/a.json" "$REJIG" --json --store "s3://$bucket/farm" --cache "$S/cache-a" build \
        --repo "$DATA/compose" --rev bench/v1 --packages "$DATA/repo-v1" --name bench-os -o "$S/a.rpm"
    measure "$run" s3-B "$S/b.json" "$REJIG" --json --store "s3://$bucket/farm" --cache "$S/cache-b" build \
        --repo "$DATA/compose" --rev bench/s3-n1 --packages "$PKGS_N1" --name bench-os -o "$S/b.rpm"
    rm -rf "$S"
done

python3 - "$RAW" <<'EOF' | tee -a "$RAW"
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    run, name, secs, server, rest = line.split(" ", 4)
    client, _, build = rest.partition("} ")
    client = json.loads(client + "}")
    build = json.loads(build) if build.strip() else {}
    rows.setdefault(name, []).append((float(secs), int(server), client, build))
med = lambda xs: statistics.median(xs)
print(f"### bench/s3.sh: medians of {max(len(v) for v in rows.values())} run(s)")
print("| step | wall s | server requests | client GET / PUT / LIST / DELETE | bytes in | bytes out | packages imported |")
print("|---|---|---|---|---|---|---|")
for name in ["local-cold", "s3-cold-A", "s3-B"]:
    r = rows.get(name, [])
    if not r:
        continue
    c = lambda k: med([x[2].get(k, 0) for x in r])
    print(f"| {name} | {med([x[0] for x in r]):.2f} | {med([x[1] for x in r]):.0f} | "
          f"{c('gets'):.0f} / {c('puts'):.0f} / {c('lists'):.0f} / {c('deletes'):.0f} | "
          f"{c('bytes_in')/1e6:.1f} MB | {c('bytes_out')/1e6:.1f} MB | {med([x[3].get('packages_imported', -1) for x in r]):.0f} |")
wall = lambda n: med([x[0] for x in rows[n]])
print()
print(f"- B's build / cold local build: {wall('s3-B') / wall('local-cold'):.2f} (target <= 0.25)")
print(f"- cold build on S3 / cold local build: {wall('s3-cold-A') / wall('local-cold'):.2f} (target <= 1.3)")
print(f"- B imported {med([x[3].get('packages_imported', -1) for x in rows['s3-B']]):.0f} packages (target: the 2 changed)")
EOF
echo "raw: $RAW"
