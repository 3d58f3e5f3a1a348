#!/usr/bin/env bash
# Runs rejig's whole test suite. It first installs the system tools the tests use as
# oracles (the real ostree CLI, setfattr, rpm, rpmbuild, rpmsign, createrepo_c, gpg, openssl) with apt-get when they are missing.
# The test data comes from package registries at test time (apt-get source, cargo), so the
# first run needs the network; later runs use the cache under target/test-data/.
# The end-to-end tests chown files and write bare repositories, so run it as root
# (or in a throwaway VM/container).
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v ostree >/dev/null || missing+=(ostree)
command -v setfattr >/dev/null || missing+=(attr)
command -v rpm >/dev/null || missing+=(rpm)           # also brings rpm2cpio and rpm2archive
command -v cpio >/dev/null || missing+=(cpio)
command -v rpmbuild >/dev/null || missing+=(rpm)  # rpmbuild and rpmsign make jigdo fixtures
command -v createrepo_c >/dev/null || missing+=(createrepo-c)
command -v gpg >/dev/null || missing+=(gnupg)         # rpmsign signs with a throwaway key
command -v openssl >/dev/null || missing+=(openssl)     # ed25519 commit signatures, made and checked independently of rejig
command -v setcap >/dev/null || missing+=(libcap2-bin)
command -v strace >/dev/null || missing+=(strace)     # crash matrix kill points, durability order
command -v xz >/dev/null || missing+=(xz-utils)        # tar -xJ of the source packages the test data comes from
command -v moto_server >/dev/null || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)  # installs moto below
if ((${#missing[@]})); then
    mapfile -t missing < <(printf "%s\n" "${missing[@]}" | sort -u)
    echo "run-tests: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The object-storage tests (tests/s3) run against moto's S3 server on loopback, from PyPI.
if ! command -v moto_server >/dev/null; then
    echo "run-tests: installing moto[server] (pip)"
    # Debian's own python3 is marked externally managed (PEP 668); a pyenv or venv python3 is not.
    python3 -m pip install --quiet 'moto[server]' 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages 'moto[server]'
    hash -r
    if command -v pyenv >/dev/null; then pyenv rehash; fi
    command -v moto_server >/dev/null || { echo "run-tests: moto_server is not on PATH after pip install" >&2; exit 1; }
fi
[ "$(id -u)" = 0 ] || echo "run-tests: warning: not root; tests that chown files or write bare repositories will fail" >&2

# The tests fetch real packages (rpm's and libarchive's Debian source packages, the rpm
# crate's assets; see tests/support) into target/test-data/ on their first run. A corpus of
# distribution packages beside the repository, when there is one, is read too.
if [ -d ../shared/corpus/rpms ]; then
    REJIG_TEST_CORPUS=$(cd ../shared/corpus/rpms && pwd)
    export REJIG_TEST_CORPUS
    echo "run-tests: also reading the extra corpus $REJIG_TEST_CORPUS"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
