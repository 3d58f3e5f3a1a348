#!/usr/bin/env bash
# Writes the fuzz targets' packages and seeds.
#
# fuzz/make-seeds.sh packages
#   Only fuzz/packages/ (not committed): every package the tests fetch from registries and
#   build with rpmbuild (tests/support, `rejig-test-data copy`), pinned and cached under
#   target/test-data/. rpm_payload reads its four packages from there, and fuzz/run.sh seeds
#   rpm_package with the small ones. Needs what the tests need: apt-get, tar, xz, rpmbuild.
#
# fuzz/make-seeds.sh
#   Also regenerates the committed seeds of the rpm-md and jigdo targets from two tiny packages
#   built here:
# - regressions/repomd_xml/seed-*:  repomd.xml as createrepo_c writes it;
# - regressions/primary_xml/seed-*: the primary metadata, gzip, xz, zstd, bzip2 and plain;
# - regressions/jigdo_rpm/seed-*:   a jigdo RPM written by `rejig build` for a commit of the
#   two packages plus two new files, and the same package with its digests renamed away and
#   its payload decompressed, so that mutations get past the digests and the decompressor;
# - regressions/jigdo_part/seed-*:  a records part and the object part (the bigger new file,
#   over the 256 KiB threshold but compressible);
# - regressions/jigdo_tables/seed-head.*, regressions/jigdo_records/seed-built: the head as
#   shipped and raw, and the raw head length-prefixed before the concatenated records.
# - regressions/rpm_signature_tags/seed-*: the lead and signature header of packages signed
#   by rpmsign here (RSA and EdDSA keys made by gpg, header-only and --rpmv3) and of the
#   pinned signed packages of the test data (the rpm crate's EdDSA, RSA and ECDSA ones, rpm's
#   hello-2.0-1.x86_64-signed).
# Needs rpmbuild, createrepo_c, ostree, rpm2cpio, cpio, zstd and python3.
# Usage: fuzz/make-seeds.sh [packages]
set -euo pipefail
cd "$(dirname "$0")"
FUZZ=$PWD

rm -rf packages
(cd .. && cargo run --quiet -p rejig-test-support --bin rejig-test-data -- copy fuzz/packages)
echo "fuzz/packages: $(find packages -name '*.rpm' | wc -l) packages"
[ "${1:-}" != packages ] || exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SOURCE_DATE_EPOCH=1700000000

spec() { # name epoch version release
    cat <<EOF
Name: $1
Epoch: $2
Version: $3
Release: $4
Summary: a fuzz seed package
License: MIT
BuildArch: noarch
%description
A package for fuzz seeds.
%install
mkdir -p %{buildroot}/usr/share/$1 %{buildroot}/usr/bin
printf 'hello from %s\n' $1 > %{buildroot}/usr/share/$1/readme.txt
printf '#!/bin/sh\necho $1\n' > %{buildroot}/usr/bin/$1
ln -s ../share/$1/readme.txt %{buildroot}/usr/bin/$1-readme
%files
%attr(0755,root,root) /usr/bin/$1
/usr/bin/$1-readme
/usr/share/$1
EOF
}
mkdir -p "$tmp/packages" "$tmp/rpmbuild"
spec fuzzseed-a 0 1.0 1 > "$tmp/a.spec"
spec fuzzseed-b 2 2.0~rc1 3.fc40 > "$tmp/b.spec"
for s in a b; do
    rpmbuild -bb --quiet --define "_topdir $tmp/rpmbuild" --define "_rpmdir $tmp/packages" \
        --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" "$tmp/$s.spec" >/dev/null
done

# rpm-md: one repository per compression, with --simple-md-filenames so that the primary's
# location does not change with every build. createrepo_c before 0.20 cannot write zstd: that
# primary is compressed here.
mkdir -p regressions/repomd_xml regressions/primary_xml regressions/jigdo_rpm
for compression in gz xz bz2; do
    repo=$tmp/repo-$compression
    mkdir -p "$repo"
    cp "$tmp"/packages/*.rpm "$repo/"
    createrepo_c --quiet --simple-md-filenames --no-database --set-timestamp-to-revision \
        --revision "$SOURCE_DATE_EPOCH" --general-compress-type "$compression" "$repo" >/dev/null
    cp "$repo/repodata/repomd.xml" "regressions/repomd_xml/seed-$compression"
    cp "$repo"/repodata/primary.xml.* "regressions/primary_xml/seed-$compression"
done
gzip -dc "$tmp/repo-gz/repodata/primary.xml.gz" > regressions/primary_xml/seed-plain
zstd --quiet -19 -c regressions/primary_xml/seed-plain > regressions/primary_xml/seed-zstd

# A jigdo: the two packages extracted, plus a file no package holds, committed with ostree
# and described by `rejig build`.
root=$tmp/root
mkdir -p "$root"
for package in "$tmp"/packages/*.rpm; do
    (cd "$root" && rpm2cpio "$package" | cpio -idm --quiet --no-absolute-filenames)
done
printf 'NAME=fuzzseed\n' > "$root/usr/share/os-release"
yes 'a big new file, carried as an object part' | head -c 300000 > "$root/usr/share/big" || true
ostree init --repo="$tmp/compose" --mode=archive
ostree commit --repo="$tmp/compose" --branch=os --subject=seed --timestamp=2024-01-01T00:00:00Z --no-bindings \
    "$root" >/dev/null
(cd .. && cargo run --quiet -- --store "$tmp/store" build --repo "$tmp/compose" --rev os \
    --packages "$tmp/packages" --name fuzzseed -o "$tmp/fuzzseed.rpm") >/dev/null
cp "$tmp/fuzzseed.rpm" regressions/jigdo_rpm/seed-built
mkdir -p regressions/jigdo_part regressions/jigdo_tables regressions/jigdo_records
for part in "$tmp"/rejig-part-*.rpm; do
    kind=records
    [ "$(rpm -qp --qf '%{SIZE}' "$part")" -gt 262144 ] && kind=object
    [ -e "regressions/jigdo_part/seed-$kind" ] || cp "$part" "regressions/jigdo_part/seed-$kind"
done
(rpm2cpio "$tmp/fuzzseed.rpm" | cpio -i --quiet --to-stdout '*/tables' > regressions/jigdo_tables/seed-head.zst) || [ -s regressions/jigdo_tables/seed-head.zst ]
tail -c +9 regressions/jigdo_tables/seed-head.zst | zstd -dcq > regressions/jigdo_tables/seed-head.raw
# jigdo_records: the raw head, length-prefixed (u16 LE), then its records parts' contents in
# the head's order (the parts list ends the head: a u32 count, then 113 bytes per part).
python3 - "$tmp" "$FUZZ/regressions/jigdo_tables/seed-head.raw" "$FUZZ/regressions/jigdo_records/seed-built" <<'PY'
import glob, subprocess, sys
tmp, head_path, out = sys.argv[1:]
head = open(head_path, "rb").read()
n = next(n for n in range(1, 10000) if int.from_bytes(head[len(head) - 113 * n - 4:len(head) - 113 * n], "little") == n)
records = b""
for i in range(n):
    entry = head[len(head) - 113 * (n - i):][:113]
    if entry[0] == 1:
        digest = entry[1:33].hex()
        path = glob.glob(f"{tmp}/rejig-part-{digest[:16]}-*.rpm")[0]
        records += subprocess.run(f"rpm2cpio {path} | cpio -i --quiet --to-stdout", shell=True,
                                  capture_output=True, check=False).stdout
open(out, "wb").write(len(head).to_bytes(2, "little") + head + records)
PY

# The same jigdo without digests: SIG_SHA256, PAYLOADDIGEST(ALT) and FILEDIGESTS renamed to
# unknown tags (the headers stay valid), and the payload decompressed.
python3 - "$tmp/fuzzseed.rpm" "$FUZZ/regressions/jigdo_rpm/seed-undigested" <<'EOF'
import subprocess, sys
data = bytearray(open(sys.argv[1], "rb").read())
RENAMES = {273: 1_000_273, 5092: 1_005_092, 5097: 1_005_097, 1035: 1_001_035}
def header(at, pad):
    il = int.from_bytes(data[at + 8:at + 12], "big")
    dl = int.from_bytes(data[at + 12:at + 16], "big")
    for i in range(il):
        entry = at + 16 + 16 * i
        tag = int.from_bytes(data[entry:entry + 4], "big")
        if tag in RENAMES:
            data[entry:entry + 4] = RENAMES[tag].to_bytes(4, "big")
    end = at + 16 + 16 * il + dl
    return end + ((8 - (end - at) % 8) % 8 if pad else 0)
payload = header(header(96, True), False)
plain = subprocess.run(["zstd", "-dc"], input=bytes(data[payload:]), capture_output=True, check=False).stdout
open(sys.argv[2], "wb").write(bytes(data[:payload]) + plain)
EOF
ls -l regressions/repomd_xml regressions/primary_xml regressions/jigdo_rpm

# The lead and signature header (padded to 8) of a package, for rpm_signature_tags.
sighead() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
il, dl = struct.unpack(">II", data[104:112])
end = 96 + 16 + 16 * il + dl
open(sys.argv[2], "wb").write(data[:end + (8 - (end - 96) % 8) % 8])
EOF
}
mkdir -p regressions/rpm_signature_tags
export GNUPGHOME="$tmp/gnupg"
mkdir -m 700 "$GNUPGHOME"
for algo in rsa3072 ed25519; do
    gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "seed $algo <$algo@rejig.invalid>" "$algo" sign never
    for v3 in "" --rpmv3; do
        cp packages/generated_rejig-manyfiles-1.0-1.noarch.rpm "$tmp/signed.rpm"
        rpmsign --addsign $v3 --define "_gpg_name seed $algo <$algo@rejig.invalid>" \
            --define "__gpg $(command -v gpg)" --define "_gpg_path $GNUPGHOME" "$tmp/signed.rpm"
        sighead "$tmp/signed.rpm" "regressions/rpm_signature_tags/seed-rpmsign-$algo${v3:+-v3}.sig"
    done
done
gpgconf --kill gpg-agent
for key in rpm-crate/RPMS/v4/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm \
    rpm-crate/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm \
    rpm-crate/RPMS/v4/signed/rpm-basic-with-ecdsa-2.3.4-5.el9.noarch.rpm rpm/RPMS/hello-2.0-1.x86_64-signed.rpm; do
    sighead "packages/${key//\//_}" "regressions/rpm_signature_tags/seed-$(basename "$key" .rpm).sig"
done
ls -l regressions/rpm_signature_tags
