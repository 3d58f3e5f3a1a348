#!/usr/bin/env bash
# Workload for bench/jigdo.sh and bench/parts.sh: an OS made of RPMs, composed into OSTree
# commits v1 (all packages), v2 (two rebuilt) and v3-v5 (one file changed each).
#
#   bench/jigdo-workload.sh [DATA]     (default DATA=/work/bench-data/jigdo)
#
# Does nothing if DATA/manifest.txt exists (delete DATA to rebuild; delete only manifest.txt to
# compose again from the RPMs already built). Otherwise, as root:
#  1. selects Debian packages installed on this machine: those with 10 KB-40 MB of files, in the
#     order of sha256(package name) (a fixed pseudo-random sample), until the selection has at
#     least MIN_PKGS packages, MIN_FILES regular files and MIN_BYTES bytes of regular content.
#     Per package: its `dpkg -L` regular files and symlinks that exist, at their canonical path
#     (parent directories resolved, so /bin/x is /usr/bin/x on merged-/usr), plus the directories
#     no other selected package lists (as %dir). Skipped: top-level entries (/bin, /lib64...),
#     names outside [A-Za-z0-9._+,@=:~/-] (rpm %files globs and macros), and a path already
#     taken by an earlier package;
#  2. repackages each with rpmbuild -bb: the files are copied from / by tar in %install, owner
#     root, modes kept, zstd level 3 payload, no brp scripts, no debuginfo, no automatic
#     requires/provides; version and release from dpkg (epoch kept; '-' and ':' in the upstream
#     version become '_'); arch x86_64 (dpkg amd64) or noarch (dpkg all). SOURCE_DATE_EPOCH and
#     a fixed build host make the RPMs reproducible;
#  3. v2 = v1 with exactly N_CHANGED (20) packages rebuilt: release + ".bench2" and a line appended
#     to each of their regular files under usr/bin, usr/sbin, usr/lib* and usr/libexec (what a
#     rebuild changes; docs and data stay). They are the first selected packages with
#     100 KB-15 MB of content and such files (issue 11 asks for a v1 -> v2 of 20+ packages);
#  4. DATA/repo-v1 and DATA/repo-v2: the RPMs of each version (hardlinked), with createrepo_c
#     repodata;
#  5. composes each version: `rpm -i --root ROOT --nodeps --noscripts --ignorearch` of all its
#     packages, etc moved to usr/etc, merged-/usr symlinks (bin, sbin, lib, lib64) and a few
#     generated files added (os-release, the package list, an empty machine-id, a tmpfiles.d
#     snippet), the rpmdb (sqlite) kept as usr/share/rpm, an initramfs of
#     usr/bin and usr/lib (cpio | zstd, ~50 MB): at least 40 MB of content no package holds,
#     checked; then `ostree commit` into the archive repo DATA/compose
#     (refs bench/v1 and bench/v2, v2's parent v1, fixed timestamps).
#  6. v3, v4 and v5: each the version before with only /usr/lib/os-release changed (see
#     one_file_versions below; added to an existing workload that lacks them).
# Heavy steps run under `nice -n 10`. Needs: dpkg, rpmbuild, rpm, createrepo_c, ostree, tar,
# python3.
set -euo pipefail

DATA=${1:-/work/bench-data/jigdo}
MIN_PKGS=150
MIN_FILES=16000
MIN_BYTES=$((450 * 1000 * 1000))
N_CHANGED=20
export SOURCE_DATE_EPOCH=1704067200   # 2024-01-01T00:00:00Z
export LC_ALL=C

# v3, v4, v5: the previous version with only /usr/lib/os-release changed (VERSION_ID=vN), made
# with `ostree commit --tree=ref=PREV --tree=dir=OVERLAY` (the overlay holds that one file, its
# directories made like rpm makes them: root, 0755). Added to an existing workload when missing;
# `ostree diff` must show exactly the one modified file.
os_release() { # os_release VERSION -> the generated /usr/lib/os-release of that version
    printf 'NAME="rejig bench OS"\nID=rejig-bench\nVERSION_ID=%s\nPRETTY_NAME="rejig bench OS %s"\n' "$1" "$1"
}
one_file_versions() {
    local n prev overlay commit diff
    for n in 3 4 5; do
        ostree rev-parse --repo="$DATA/compose" "bench/v$n" >/dev/null 2>&1 && continue
        prev=bench/v$((n - 1))
        overlay=$DATA/gen/overlay-v$n
        rm -rf "$overlay"
        mkdir -p "$overlay/usr/lib"
        chmod 0755 "$overlay" "$overlay/usr" "$overlay/usr/lib"
        os_release "v$n" > "$overlay/usr/lib/os-release"
        chmod 0644 "$overlay/usr/lib/os-release"
        commit=$(nice -n 10 ostree commit --repo="$DATA/compose" --branch="bench/v$n" \
            --parent="$(ostree rev-parse --repo="$DATA/compose" "$prev")" \
            --subject="rejig bench OS v$n" --no-bindings --timestamp="2024-01-0${n}T00:00:00Z" \
            --tree=ref="$prev" --tree=dir="$overlay")
        rm -rf "$overlay"
        diff=$(ostree diff --repo="$DATA/compose" "$prev" "bench/v$n")
        if ! [[ $diff =~ ^M\ +/usr/lib/os-release$ ]]; then
            echo "v$n differs from $prev by more than os-release: $diff" >&2
            exit 1
        fi
        echo "   bench/v$n = $commit ($prev with only /usr/lib/os-release changed)"
        echo "v$n: commit $commit, $prev with only /usr/lib/os-release changed" >> "$DATA/manifest.txt"
    done
}

if [[ -f $DATA/manifest.txt ]]; then
    echo "== workload present: $DATA (delete it to rebuild)"
    one_file_versions
    exit 0
fi
for tool in dpkg-query rpmbuild rpm createrepo_c ostree tar python3; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "run as root (rpm -i --root, root-owned files)" >&2; exit 1; }

GEN=$DATA/gen
if [[ -f $DATA/repos.done ]]; then
    # Steps 1-4 are done (the RPMs take the longest): compose again, e.g. after a change here.
    echo "== packages and repos present in $DATA: composing only"
    rm -rf "$DATA/compose" "$GEN/compose.txt" "$DATA/manifest.txt"
else
echo "== building the jigdo workload in $DATA"
rm -rf "$DATA"
mkdir -p "$DATA/gen/lists" "$DATA/gen/specs"

# ---------------------------------------------------------------------------------------------
echo "== 1. selecting installed Debian packages (>= $MIN_PKGS packages, >= $MIN_FILES files, >= $MIN_BYTES bytes)"
nice -n 10 python3 - "$GEN" "$MIN_PKGS" "$MIN_FILES" "$MIN_BYTES" "$N_CHANGED" <<'EOF'
import hashlib, os, re, stat, subprocess, sys

gen, min_pkgs, min_files, min_bytes, n_changed = sys.argv[1], *map(int, sys.argv[2:6])
SAFE = re.compile(r"^/[A-Za-z0-9._+,@=:~/-]+$")

def dpkg_list(pkg):
    out = subprocess.run(["dpkg", "-L", pkg], capture_output=True).stdout
    for raw in out.split(b"\n"):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield None

q = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${Status}\n"],
                   capture_output=True, text=True, check=True).stdout
pkgs = []
for line in q.splitlines():
    name, version, arch, status = line.split("\t")
    if status.endswith(" installed") and arch in ("amd64", "all"):
        pkgs.append((name, version, arch))
pkgs.sort(key=lambda p: hashlib.sha256(p[0].encode()).hexdigest())

def scan(name):
    """-> (files, symlinks, dirs): canonical paths with their lstat, in dpkg order."""
    files, links, dirs, skipped = [], [], [], 0
    for p in dpkg_list(name):
        if p is None:
            skipped += 1
            continue
        if not p.startswith("/") or p in ("/", "/."):
            continue
        try:
            st = os.lstat(p)
        except OSError:
            continue
        parent = os.path.realpath(os.path.dirname(p))
        c = os.path.join(parent, os.path.basename(p))
        if c.count("/") < 2 or not SAFE.match(c):
            skipped += 1
            continue
        if stat.S_ISREG(st.st_mode):
            files.append((c, st.st_size))
        elif stat.S_ISLNK(st.st_mode):
            links.append(c)
        elif stat.S_ISDIR(st.st_mode) and os.path.realpath(c) == c:
            dirs.append(c)
    return files, links, dirs, skipped

taken, selected, dir_listers = set(), [], {}
tot_files = tot_bytes = tot_skipped = 0
for name, version, arch in pkgs:
    files, links, dirs, skipped = scan(name)
    size = sum(s for _, s in files)
    if not (10_000 <= size <= 40_000_000):
        continue
    files = [(c, s) for c, s in files if c not in taken]
    links = [c for c in links if c not in taken]
    if not files:
        continue
    taken.update(c for c, _ in files)
    taken.update(links)
    for d in set(dirs):
        dir_listers.setdefault(d, set()).add(name)
    selected.append(dict(name=name, version=version, arch=arch, files=files, links=links, dirs=dirs))
    tot_files += len(files)
    tot_bytes += sum(s for _, s in files)
    tot_skipped += skipped
    if len(selected) >= min_pkgs and tot_files >= min_files and tot_bytes >= min_bytes:
        break
else:
    sys.exit(f"not enough installed packages: {len(selected)} packages, {tot_files} files, {tot_bytes} bytes")

def rpm_evr(v):
    """Debian [epoch:]upstream[-revision] -> RPM (epoch, version, release)."""
    epoch, rest = v.split(":", 1) if ":" in v else ("", v)
    upstream, rev = rest.rsplit("-", 1) if "-" in rest else (rest, "0")
    fix = lambda s: re.sub(r"[^A-Za-z0-9._+~^]", "_", s)
    return epoch, fix(upstream), fix(rev)

BIN = re.compile(r"^/usr/(bin|sbin|lib[^/]*|libexec)/")
changed = []
with open(f"{gen}/packages.tsv", "w") as out:
    for p in selected:
        epoch, ver, rel = rpm_evr(p["version"])
        rarch = "x86_64" if p["arch"] == "amd64" else "noarch"
        owned = sorted(d for d in set(p["dirs"]) if dir_listers[d] == {p["name"]} and d not in taken)
        with open(f"{gen}/lists/{p['name']}.tar", "w") as f:          # for tar -T, relative
            for c in owned + [c for c, _ in p["files"]] + p["links"]:
                f.write(c[1:] + "\n")
        with open(f"{gen}/lists/{p['name']}.files", "w") as f:        # for %files -f
            f.writelines(f"%dir {d}\n" for d in owned)
            f.writelines(f"{c}\n" for c, _ in p["files"])
            f.writelines(f"{c}\n" for c in p["links"])
        size = sum(s for _, s in p["files"])
        bins = [c for c, _ in p["files"] if BIN.match(c)]
        if len(changed) < n_changed and 100_000 <= size <= 15_000_000 and bins:
            changed.append(p["name"])
            with open(f"{gen}/lists/{p['name']}.v2", "w") as f:
                f.writelines(c + "\n" for c in bins)
        out.write("\t".join([p["name"], epoch or "-", ver, rel, rarch, p["version"], str(len(p["files"])),
                             str(size), str(len(p["links"])), str(len(owned))]) + "\n")
if len(changed) < n_changed:
    sys.exit(f"only {len(changed)} packages qualify as the changed ones, {n_changed} wanted")
with open(f"{gen}/changed.txt", "w") as f:
    f.writelines(c + "\n" for c in changed)
print(f"   {len(selected)} packages, {tot_files} regular files, {tot_bytes} bytes, "
      f"{sum(len(p['links']) for p in selected)} symlinks; {tot_skipped} dpkg paths skipped "
      f"(unsafe names or top-level); changed in v2: {' '.join(changed)}")
EOF
mapfile -t CHANGED < "$GEN/changed.txt"

# ---------------------------------------------------------------------------------------------
# One spec per package and version. %install copies the listed paths from / (tar keeps modes,
# symlinks and hardlinks between listed files); v2 then appends a line to the listed files.
write_spec() { # write_spec NAME EPOCH VERSION RELEASE ARCH DEBVERSION V2LIST -> spec path
    local name=$1 epoch=$2 ver=$3 rel=$4 arch=$5 debver=$6 v2list=$7
    local spec=$GEN/specs/$name-$rel.spec
    {
        echo "Name: $name"
        [[ $epoch != - ]] && echo "Epoch: $epoch"
        echo "Version: $ver"
        echo "Release: $rel"
        echo "Summary: Debian package $name $debver, repackaged for the rejig jigdo benchmark"
        echo "License: Distributable"
        echo "BuildArch: $arch"
        echo "AutoReqProv: no"
        echo "%description"
        echo "The files of the Debian package $name $debver as installed on the build machine."
        echo "%install"
        echo "mkdir -p %{buildroot}"
        echo "tar -C / --no-recursion --verbatim-files-from -T $GEN/lists/$name.tar -cf - | tar -C %{buildroot} -xpf -"
        if [[ -n $v2list ]]; then
            echo "while IFS= read -r f; do printf '\\n# rejig-bench v2: rebuilt\\n' >> \"%{buildroot}\$f\"; done < $v2list"
        fi
        echo "%files -f $GEN/lists/$name.files"
        echo "%defattr(-,root,root,-)"
    } > "$spec"
    echo "$spec"
}

echo "== 2. writing specs"
: > "$GEN/specs.v1"; : > "$GEN/specs.v2"
while IFS=$'\t' read -r name epoch ver rel arch debver _; do
    write_spec "$name" "$epoch" "$ver" "$rel" "$arch" "$debver" "" >> "$GEN/specs.v1"
done < "$GEN/packages.tsv"
for name in "${CHANGED[@]}"; do
    IFS=$'\t' read -r _ epoch ver rel arch debver _ < <(grep -P "^\Q$name\E\t" "$GEN/packages.tsv")
    write_spec "$name" "$epoch" "$ver" "$rel.bench2" "$arch" "$debver" "$GEN/lists/$name.v2" >> "$GEN/specs.v2"
done

echo "== 3. rpmbuild -bb of $(wc -l < "$GEN/specs.v1") + $(wc -l < "$GEN/specs.v2") packages (two at a time, nice 10)"
mkdir -p "$GEN/rpmbuild"
build_one() { # build_one SPEC
    local top=$GEN/rpmbuild/$(basename "$1" .spec)
    rm -rf "$top"
    nice -n 10 rpmbuild -bb --quiet \
        --define "_topdir $top" --define "_rpmdir $GEN/rpms" \
        --define '_binary_payload w3.zstdio' \
        --define '__os_install_post %{nil}' --define '__arch_install_post %{nil}' \
        --define 'debug_package %{nil}' --define '_build_id_links none' \
        --define '_buildhost bench.rejig' --define 'use_source_date_epoch_as_buildtime 1' \
        --define 'clamp_mtime_to_source_date_epoch 1' \
        "$1" >"$top.log" 2>&1 || { echo "rpmbuild failed: $1" >&2; tail -20 "$top.log" >&2; return 1; }
    rm -rf "$top" "$top.log"
}
export -f build_one
export GEN
cat "$GEN/specs.v1" "$GEN/specs.v2" | xargs -P2 -I{} bash -c 'build_one "$1"' _ {}

echo "== 4. repo-v1 and repo-v2 (createrepo_c)"
mkdir -p "$DATA/repo-v1" "$DATA/repo-v2"
find "$GEN/rpms" -name '*.rpm' | while read -r f; do
    if [[ $(rpm -qp --qf '%{RELEASE}' "$f" 2>/dev/null) == *.bench2 ]]; then
        ln "$f" "$DATA/repo-v2/"
    else
        ln "$f" "$DATA/repo-v1/"
        name=$(rpm -qp --qf '%{NAME}' "$f" 2>/dev/null)
        grep -qxF "$name" "$GEN/changed.txt" || ln "$f" "$DATA/repo-v2/"
    fi
done
rm -rf "$GEN/rpms"
for v in v1 v2; do
    n=$(ls "$DATA/repo-$v"/*.rpm | wc -l)
    echo "   repo-$v: $n packages, $(du -cb "$DATA/repo-$v"/*.rpm | tail -1 | cut -f1) bytes"
    nice -n 10 createrepo_c --quiet --no-database --revision "$SOURCE_DATE_EPOCH" \
        --set-timestamp-to-revision "$DATA/repo-$v"
done
touch "$DATA/repos.done"
fi
mapfile -t CHANGED < "$GEN/changed.txt"

# ---------------------------------------------------------------------------------------------
echo "== 5. composing the commits into the archive repo $DATA/compose"
ostree init --repo="$DATA/compose" --mode=archive
PARENT=none
for v in v1 v2; do
    root=$GEN/root-$v
    rm -rf "$root"
    mkdir -p "$root"
    echo "   $v: rpm -i --root of $(ls "$DATA/repo-$v"/*.rpm | wc -l) packages"
    nice -n 10 rpm -i --root "$root" --dbpath /var/lib/rpm --nodeps --noscripts --ignorearch \
        --nosignature --nodigest "$DATA/repo-$v"/*.rpm
    # the rpmdb moves to /usr/share/rpm (where image-based systems keep it)
    mkdir -p "$root/usr/share"
    mv "$root/var/lib/rpm" "$root/usr/share/rpm"
    rm -rf "$root/root/.rpmdb"
    if [[ -d $root/etc ]]; then
        mkdir -p "$root/usr"
        mv "$root/etc" "$root/usr/etc"
    fi
    for l in bin sbin lib lib64; do
        [[ -e $root/$l || -L $root/$l ]] || ln -s "usr/$l" "$root/$l"
    done
    mkdir -p "$root/usr/lib/tmpfiles.d" "$root/usr/share/rejig-bench" "$root/usr/etc"
    printf 'NAME="rejig bench OS"\nID=rejig-bench\nVERSION_ID=%s\nPRETTY_NAME="rejig bench OS %s"\n' \
        "$v" "$v" > "$root/usr/lib/os-release"
    rpm -qp --qf '%{NAME}-%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}.%{ARCH}\n' "$DATA/repo-$v"/*.rpm \
        2>/dev/null | sort > "$root/usr/share/rejig-bench/packages.txt"
    : > "$root/usr/etc/machine-id"
    # an initramfs: a newc cpio of the first 150 MB of usr/lib and usr/bin (files in name order),
    # zstd -3; made again per version, so it changes when its input does, as a real one would
    mkdir -p "$root/usr/lib/modules/6.1.0-bench"
    (cd "$root" && find usr/bin usr/lib -type f -printf '%s %p\n' | sort -k2 |
        awk '{if (s <= 150000000) print $2; s += $1}' |
        cpio -o -H newc --reproducible --quiet | zstd -3 -T2 -q -c) \
        > "$root/usr/lib/modules/6.1.0-bench/initramfs.img"
    nonpkg=$(( $(du -sb "$root/usr/share/rpm" | cut -f1) + $(stat -c %s "$root/usr/lib/modules/6.1.0-bench/initramfs.img") ))
    if (( nonpkg < 40 * 1000 * 1000 )); then
        echo "$v: only $nonpkg bytes of non-package content (rpmdb + initramfs), 40 MB wanted" >&2
        exit 1
    fi
    printf 'd /var/lib/rejig-bench 0755 root root -\n' > "$root/usr/lib/tmpfiles.d/rejig-bench.conf"
    parent_arg=()
    [[ $PARENT == none ]] || parent_arg=(--parent="$PARENT")
    PARENT=$(nice -n 10 ostree commit --repo="$DATA/compose" --branch="bench/$v" "${parent_arg[@]}" \
        --subject="rejig bench OS $v" --no-bindings --timestamp="2024-01-0${v#v}T00:00:00Z" "$root")
    echo "   bench/$v = $PARENT"
    read -r files bytes < <(find "$root" -type f -printf '%s\n' | awk '{n++; s+=$1} END {print n, s}')
    echo "$v: non-package content: rpmdb $(du -sb "$root/usr/share/rpm" | cut -f1) bytes, initramfs $(stat -c %s "$root/usr/lib/modules/6.1.0-bench/initramfs.img") bytes" >> "$GEN/compose.txt"
    echo "$v: commit $PARENT, $files regular files, $bytes bytes, $(find "$root" -type l | wc -l) symlinks, $(find "$root" -type d | wc -l) directories" >> "$GEN/compose.txt"
    rm -rf "$root"
done

# ---------------------------------------------------------------------------------------------
{
    echo "# rejig jigdo benchmark workload, made by bench/jigdo-workload.sh on $(hostname) $(date -u +%FT%TZ)"
    awk -F'\t' '{n++; f+=$7; b+=$8; l+=$9; d+=$10} END {
        printf "packages: %d\nregular_files: %d\nregular_bytes: %d\nsymlinks: %d\nowned_dirs: %d\n", n, f, b, l, d}' \
        "$GEN/packages.tsv"
    echo "changed_in_v2: ${CHANGED[*]}"
    for name in "${CHANGED[@]}"; do
        echo "changed_files_$name: $(wc -l < "$GEN/lists/$name.v2") of $(grep -P "^\Q$name\E\t" "$GEN/packages.tsv" | cut -f7)"
    done
    for v in v1 v2; do
        echo "repo_$v: $(ls "$DATA/repo-$v"/*.rpm | wc -l) packages, $(du -cb "$DATA/repo-$v"/*.rpm | tail -1 | cut -f1) bytes"
    done
    cat "$GEN/compose.txt"
    echo "compose_repo_objects_bytes: $(du -sb "$DATA/compose/objects" | cut -f1)"
} > "$DATA/manifest.tmp"
mv "$DATA/manifest.tmp" "$DATA/manifest.txt"
one_file_versions
cat "$DATA/manifest.txt"
