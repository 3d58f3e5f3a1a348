#!/usr/bin/env bash
# RPM reader benchmark (issue "RPM reader and package import"), in one run:
#   1. parse + walk + verify time of a 15,000-entry package and, when RPM_CORPUS names a
#      directory of packages, of every package below it (`rejig inspect` reads the headers and
#      the whole payload and checks every digest; BENCHMARKS.md ran it on the extra corpus);
#   2. import throughput (MB/s of uncompressed payload) for zstd and xz packages built by
#      rpmbuild from this machine's /usr, against `rpm2cpio | cpio -idm` of the same packages
#      (sequential, and two at a time), and against the per-core limit: the same payloads
#      decompressed by the zstd/xz CLIs plus `openssl dgst -sha256`, timed separately and added.
# Usage: bench/rpm.sh [RUNS]   (default 3; medians are reported)
# Needs: rpm (rpmbuild, rpm2cpio), cpio, zstd, xz-utils, openssl. Work files: bench/work/rpm/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
WORK=bench/work/rpm
CORPUS=${RPM_CORPUS:-}
mkdir -p "$WORK" bench/runs
cargo build --release -q
REJIG=$PWD/target/release/rejig
OUT=bench/runs/rpm-$(date -u +%Y-%m-%dT%H%M%SZ)-$(hostname).txt
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

{
echo "# rejig $(git rev-parse --short HEAD), $(date -u), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# rpm $(rpm --version | awk '{print $3}'), zstd $(zstd --version | grep -o 'v[0-9.]*'), xz $(xz --version | head -1 | awk '{print $4}')"
} | tee "$OUT"

# --- workload: packages built from /usr, cached -------------------------------------------
build_packages() {
    local comp=$1 payload=$2
    local dir=$WORK/pkgs-$comp
    [ -f "$dir/.done" ] && return
    rm -rf "$dir" "$WORK/rpmbuild-$comp"; mkdir -p "$dir"
    local top=$WORK/rpmbuild-$comp
    local i=0
    mkdir -p "$top/SPECS"
    # 12 packages of roughly 10-40 MB each, from directories of shared libraries and docs.
    for src in /usr/lib/x86_64-linux-gnu/{perl,perl-base,gconv,gdk-pixbuf-2.0,ldscripts,dri} /usr/share/doc /usr/include/linux /usr/include/c++ /usr/lib/python3.11/email /usr/lib/python3.11/asyncio /usr/libexec; do
        [ -d "$src" ] || continue
        i=$((i + 1))
        local name=bench$i
        cat > "$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: 1.0
Release: 1
Summary: benchmark package $i from $src
License: various
BuildArch: x86_64
%description
Files of $src, repackaged for benchmarking.
%install
mkdir -p %{buildroot}/opt/$name
cp -a $src/. %{buildroot}/opt/$name/
%files
/opt/$name
SPEC
        rpmbuild -bb --quiet --define "_topdir $PWD/$top" --define "_binary_payload $payload" \
            --define "__os_install_post %{nil}" --define "_build_id_links none" --define "debug_package %{nil}" \
            "$top/SPECS/$name.spec" >/dev/null 2>&1
    done
    find "$top/RPMS" -name '*.rpm' -exec mv {} "$dir/" \;
    rm -rf "$top"
    touch "$dir/.done"
}
build_many() {
    local dir=$WORK/many
    [ -f "$dir/.done" ] && return
    rm -rf "$dir"; mkdir -p "$dir/top/SPECS"
    cat > "$dir/top/SPECS/many.spec" <<'SPEC'
Name: many
Version: 1.0
Release: 1
Summary: 15,000 entries
License: MIT
BuildArch: noarch
%description
A package of 15,000 small files in 150 directories.
%install
for d in $(seq -w 0 149); do mkdir -p %{buildroot}/usr/share/many/d$d; for f in $(seq -w 0 98); do echo "$d/$f" > %{buildroot}/usr/share/many/d$d/f$f; done; done
%files
/usr/share/many
SPEC
    rpmbuild -bb --quiet --define "_topdir $PWD/$dir/top" --define "_binary_payload w19.zstdio" "$dir/top/SPECS/many.spec" >/dev/null 2>&1
    find "$dir/top/RPMS" -name '*.rpm' -exec mv {} "$dir/" \;
    rm -rf "$dir/top"; touch "$dir/.done"
}
build_packages zstd w19.zstdio
build_packages xz w2.xzdio
build_many
MANY=$(ls $WORK/many/*.rpm)
echo "# 15k package: $(rpm -qp --qf '%{NAME}: ' "$MANY") $(rpm -qpl "$MANY" | wc -l) entries" | tee -a "$OUT"

payload_bytes() { # sum of uncompressed payload sizes (archive size) of the packages in $1
    for p in "$1"/*.rpm; do rpm -qp --qf '%{LONGARCHIVESIZE}\n' "$p" 2>/dev/null; done | awk '{s+=$1} END {print s}'
}
compressed_payload() { # writes package $1's compressed payload to $2
    python3 - "$1" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
def end(off):
    il, dl = struct.unpack('>II', b[off+8:off+16]); return off + 16 + 16*il + dl
s = end(96); s += (8 - (s - 96) % 8) % 8
open(sys.argv[2], 'wb').write(b[end(s):])
PY
}

# --- 1. parse and walk -------------------------------------------------------------------
echo "## parse+walk+verify (rejig inspect), seconds, median of $RUNS" | tee -a "$OUT"
corpus=()
if [ -n "$CORPUS" ]; then
    mapfile -t corpus < <(find "$CORPUS" -name '*.rpm' ! -name '*corrupted*' | sort)
fi
for p in "${corpus[@]}" "$MANY"; do
    ts=()
    for r in $(seq "$RUNS"); do t=$(now); $REJIG inspect "$p" >/dev/null; ts+=("$(elapsed "$t")"); done
    name=$p
    if [ -n "$CORPUS" ]; then name=${p#"$CORPUS"/}; fi
    printf '%s %s\n' "$(printf '%s\n' "${ts[@]}" | median)" "$name" | tee -a "$OUT"
done

# --- 2. import throughput ----------------------------------------------------------------
for comp in zstd xz; do
    dir=$WORK/pkgs-$comp
    bytes=$(payload_bytes "$dir"); n=$(ls "$dir"/*.rpm | wc -l)
    echo "## $comp: $n packages, $bytes bytes of uncompressed payload, $(du -cb "$dir"/*.rpm | tail -1 | cut -f1) bytes of packages" | tee -a "$OUT"
    for r in $(seq "$RUNS"); do
        sync; rm -rf "$WORK/store" "$WORK/x"
        t=$(now); $REJIG --store "$WORK/store" --quiet import "$dir"; rejig_t=$(elapsed "$t")
        mkdir -p "$WORK/x"; t=$(now)
        for p in "$dir"/*.rpm; do abs=$(realpath "$p"); (cd "$WORK/x" && rpm2cpio "$abs" | cpio -idm --quiet); done
        seq_t=$(elapsed "$t"); rm -rf "$WORK/x"
        t=$(now)
        ls "$dir"/*.rpm | xargs -P2 -I{} sh -c 'mkdir -p "$1/x/$(basename "$2")" && cd "$1/x/$(basename "$2")" && rpm2cpio "$2" | cpio -idm --quiet' _ "$PWD/$WORK" "$PWD/{}"
        par_t=$(elapsed "$t"); rm -rf "$WORK/x"
        # Per-core limit: decompression and SHA-256 of the same payloads, each timed alone.
        dec=0; sha=0
        for p in "$dir"/*.rpm; do
            compressed_payload "$p" "$WORK/payload"
            t=$(now); if [ "$comp" = zstd ]; then zstd -dcq -T1 "$WORK/payload" > "$WORK/archive"; else xz -dcq -T1 "$WORK/payload" > "$WORK/archive"; fi
            dec=$(echo "$dec + $(elapsed "$t")" | bc)
            t=$(now); openssl dgst -sha256 "$WORK/archive" >/dev/null; sha=$(echo "$sha + $(elapsed "$t")" | bc)
        done
        rm -f "$WORK/payload" "$WORK/archive"
        echo "$comp run $r: rejig-import $rejig_t rpm2cpio-cpio-sequential $seq_t rpm2cpio-cpio-parallel2 $par_t decompress-1core $dec sha256-1core $sha" | tee -a "$OUT"
    done
done
rm -rf "$WORK/store"

# --- summary -------------------------------------------------------------------------------
echo "## summary (medians)" | tee -a "$OUT"
for comp in zstd xz; do
    bytes=$(payload_bytes "$WORK/pkgs-$comp")
    get() { grep "^$comp run" "$OUT" | awk -v k="$1" '{for(i=1;i<=NF;i++) if($i==k) print $(i+1)}' | median; }
    r=$(get rejig-import); s=$(get rpm2cpio-cpio-sequential); p=$(get rpm2cpio-cpio-parallel2); d=$(get decompress-1core); h=$(get sha256-1core)
    awk -v c="$comp" -v b="$bytes" -v r="$r" -v s="$s" -v p="$p" -v d="$d" -v h="$h" 'BEGIN {
        printf "%s: rejig import %.2fs = %.0f MB/s; rpm2cpio|cpio %.2fs sequential (%.2fx), %.2fs two at a time (%.2fx); per-core decompress+sha256 limit %.2fs = %.0f MB/s (rejig on 2 cores = %.2fx of one core)\n",
            c, r, b/r/1e6, s, s/r, p, p/r, d+h, b/(d+h)/1e6, (d+h)/r }' | tee -a "$OUT"
done
echo "raw runs: $OUT"
