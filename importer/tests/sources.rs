//! Package sources against reality: packages built with the `rpm` crate, repositories made by
//! the real `createrepo_c` (gz, xz and zstd primary metadata), served by a real HTTP/1.1
//! server on loopback that can truncate, corrupt, stall or fail its replies.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rejig_format::{FileSha256, HeaderSha256, PackageBinding};
use rejig_importer::source::{
    fetch, Catalog, FetchOptions, Fetched, Location, PackageSource, RepoLocation, MAX_PRIMARY_BYTES, MAX_REPOMD_BYTES,
};
use rejig_importer::Error;
use rejig_store::{NoProgress, Progress};
use rejig_test_support::rpm_builder::{self as support, build, build_standard, createrepo, Built, Spec};
use rejig_test_support::server::{Fault, Server};

fn options() -> FetchOptions {
    FetchOptions {
        jobs: 2,
        attempts: 3,
        connect_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    }
}

fn load(sources: &[PackageSource]) -> Catalog {
    Catalog::load(sources, &options(), &NoProgress).unwrap()
}

fn load_err(sources: &[PackageSource]) -> String {
    match Catalog::load(sources, &options(), &NoProgress) {
        Ok(_) => panic!("loading {sources:?} should fail"),
        Err(e) => e.to_string(),
    }
}

fn source(spec: &str) -> PackageSource {
    PackageSource::parse(spec).unwrap()
}

fn fetch_all(catalog: &Catalog, wanted: &[PackageBinding], dir: &Path) -> Vec<Fetched> {
    fetch(catalog, wanted, dir, &options(), &NoProgress).into_iter().map(|r| r.unwrap()).collect()
}

fn fetch_one(catalog: &Catalog, wanted: PackageBinding, dir: &Path, options: &FetchOptions) -> Result<Fetched, Error> {
    fetch(catalog, &[wanted], dir, options, &NoProgress).pop().unwrap()
}

/// A tree of the standard packages made into a repository with `compression`.
fn repo(compression: &str) -> (tempfile::TempDir, Vec<Built>) {
    let tree = tempfile::tempdir().unwrap();
    let built = build_standard(tree.path());
    createrepo(tree.path(), compression);
    (tree, built)
}

/// Checks a fetched download is exactly the package, fresh from the network.
fn assert_downloaded(fetched: &Fetched, package: &Built, dir: &Path) {
    assert!(fetched.temporary);
    assert_eq!(fetched.path, dir.join(format!("{}.rpm", hex::encode(package.file_sha256))));
    assert_eq!(fs::read(&fetched.path).unwrap(), package.bytes, "{} differs", fetched.path.display());
    assert_eq!(fetched.size, package.bytes.len() as u64);
    assert!(!dir.join(format!("{}.rpm.part", hex::encode(package.file_sha256))).exists());
}

/// Counts progress units.
#[derive(Default)]
struct Counting {
    started: AtomicU64,
    total: AtomicU64,
    done: AtomicU64,
    finished: AtomicU64,
}

impl Progress for Counting {
    fn start(&self, _: &str, total: u64) {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.total.fetch_add(total, Ordering::SeqCst);
    }
    fn advance(&self, units: u64) {
        self.done.fetch_add(units, Ordering::SeqCst);
    }
    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_directory_is_searched_recursively_and_its_files_are_used_in_place() {
    let tree = tempfile::tempdir().unwrap();
    let built = build_standard(tree.path());
    fs::write(tree.path().join("Packages/not-a-package.rpm"), b"this is no rpm").unwrap();
    fs::write(tree.path().join("Packages/readme.txt"), b"ignored: not .rpm").unwrap();
    let spec = tree.path().to_str().unwrap();
    let directory = source(spec);
    assert_eq!(directory, PackageSource::Directory(tree.path().to_path_buf()));
    assert_eq!(directory.to_string(), format!("directory {spec}"));
    let progress = Counting::default();
    let catalog = Catalog::load(&[directory], &options(), &progress).unwrap();
    assert_eq!((progress.total.load(Ordering::SeqCst), progress.done.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(catalog.len(), 3);
    assert_eq!(catalog.warnings().len(), 1, "{:?}", catalog.warnings());
    assert!(catalog.warnings()[0].contains("not-a-package.rpm"), "{:?}", catalog.warnings());
    for package in &built {
        let offers = catalog.offers(&package.nevra);
        assert_eq!(offers.len(), 1, "{}", package.nevra);
        assert_eq!(offers[0].location, Location::Local(package.path.clone()));
        assert_eq!(offers[0].header_sha256, Some(package.header_sha256));
        assert_eq!(offers[0].size, Some(package.bytes.len() as u64));
        assert_eq!(offers[0].file_sha256, None);
    }
    assert_eq!(built[1].nevra.to_string(), "beta-2:2.5-3.fc40.x86_64");
    let downloads = tempfile::tempdir().unwrap();
    let wanted: Vec<PackageBinding> = built.iter().map(Built::wanted).collect();
    let fetched = fetch_all(&catalog, &wanted, downloads.path());
    for (fetched, package) in fetched.iter().zip(&built) {
        assert_eq!(fetched.path, package.path);
        assert!(!fetched.temporary);
        assert_eq!(fetched.bytes_downloaded, 0);
        assert_eq!(fetched.size, package.bytes.len() as u64);
        assert_eq!(fetched.offer.source, 0);
    }
    assert_eq!(fs::read_dir(downloads.path()).unwrap().count(), 0, "nothing is copied");
}

#[test]
fn a_local_repository_is_read_by_path_and_by_file_url() {
    let (tree, built) = repo("gz");
    let by_path = source(tree.path().to_str().unwrap());
    assert_eq!(by_path, PackageSource::Repository(RepoLocation::Local(tree.path().to_path_buf())));
    let url = format!("file://{}", tree.path().display());
    let by_url = source(&url);
    assert_eq!(by_url, by_path);
    for catalog in [load(&[by_path]), load(&[by_url])] {
        assert_eq!(catalog.len(), 3);
        assert!(catalog.warnings().is_empty(), "{:?}", catalog.warnings());
        for package in &built {
            let offers = catalog.offers(&package.nevra);
            assert_eq!(offers.len(), 1);
            assert_eq!(offers[0].location, Location::Local(package.path.clone()));
            assert_eq!(offers[0].file_sha256, Some(package.file_sha256));
            assert_eq!(offers[0].size, Some(package.bytes.len() as u64));
            assert_eq!(offers[0].nevra, package.nevra);
        }
        let downloads = tempfile::tempdir().unwrap();
        let wanted: Vec<PackageBinding> = built.iter().map(Built::wanted).collect();
        for (fetched, package) in fetch_all(&catalog, &wanted, downloads.path()).iter().zip(&built) {
            assert_eq!((fetched.path.as_path(), fetched.temporary), (package.path.as_path(), false));
        }
    }
}

#[test]
fn an_http_repository_is_read_with_gz_xz_zstd_and_bz2_primary_metadata() {
    let formats: [(&str, &[u8]); 4] =
        [("gz", &[0x1f, 0x8b]), ("xz", b"\xfd7zXZ\0"), ("zstd", &[0x28, 0xb5, 0x2f, 0xfd]), ("bz2", b"BZh")];
    for (compression, magic) in formats {
        let (tree, built) = repo(compression);
        let primary = fs::read(support::primary_path(tree.path())).unwrap();
        assert!(primary.starts_with(magic), "createrepo_c did not write {compression}");
        let server = Server::start(tree.path());
        let catalog = load(&[source(&server.url())]);
        assert_eq!(catalog.len(), 3, "{compression}");
        let progress = Counting::default();
        let downloads = tempfile::tempdir().unwrap();
        let wanted: Vec<PackageBinding> = built.iter().map(Built::wanted).collect();
        let results = fetch(&catalog, &wanted, downloads.path(), &options(), &progress);
        assert_eq!(progress.done.load(Ordering::SeqCst), 3);
        assert_eq!(progress.finished.load(Ordering::SeqCst), 1);
        for (result, package) in results.iter().zip(&built) {
            let fetched = result.as_ref().unwrap();
            assert_downloaded(fetched, package, downloads.path());
            assert_eq!(fetched.bytes_downloaded, package.bytes.len() as u64);
            assert_eq!(fetched.offer.location, Location::Remote(format!("{}{}", server.url(), package.relative)));
        }
    }
}

#[test]
fn a_finished_download_is_reused_after_rehashing_and_a_bad_one_is_replaced() {
    let (tree, built) = repo("zstd");
    let server = Server::start(tree.path());
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let first = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options()).unwrap();
    assert_eq!(first.bytes_downloaded, built[0].bytes.len() as u64);
    let again = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options()).unwrap();
    assert_eq!((again.path.clone(), again.bytes_downloaded), (first.path.clone(), 0));
    assert_eq!(server.seen_for(&built[0].relative).len(), 1);
    fs::write(&first.path, b"damaged since").unwrap();
    let repaired = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&repaired, &built[0], downloads.path());
    assert_eq!(server.seen_for(&built[0].relative).len(), 2);
}

#[test]
fn mirrors_are_tried_in_order_and_wrong_bytes_move_on_to_the_next() {
    let (tree, built) = repo("xz");
    let broken = Server::start(tree.path());
    let good = Server::start(tree.path());
    broken.fault(&built[0].relative, Fault::WrongBytes, usize::MAX);
    let catalog = load(&[source(&broken.url()), source(&good.url())]);
    assert_eq!(catalog.offers(&built[0].nevra).iter().map(|o| o.source).collect::<Vec<_>>(), [0, 1]);
    let downloads = tempfile::tempdir().unwrap();
    let fetched = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options()).unwrap();
    assert_eq!(fetched.offer.source, 1);
    assert_downloaded(&fetched, &built[0], downloads.path());
    assert_eq!(broken.seen_for(&built[0].relative).len(), 1, "a wrong file is not retried on the same mirror");
    // Unharmed packages come from the first mirror.
    let other = fetch_one(&catalog, built[1].wanted(), downloads.path(), &options()).unwrap();
    assert_eq!(other.offer.source, 0);
    assert!(good.seen_for(&built[1].relative).is_empty());
    // Wrong bytes everywhere: the error names the URL and the mismatch.
    let lonely = load(&[source(&broken.url())]);
    let fresh = tempfile::tempdir().unwrap();
    let error = fetch_one(&lonely, built[0].wanted(), fresh.path(), &options()).unwrap_err().to_string();
    assert!(error.contains("SHA-256 mismatch"), "{error}");
    assert!(error.contains(&format!("{}{}", broken.url(), built[0].relative)), "{error}");
    assert!(error.starts_with("alpha-1.0-1.noarch"), "{error}");
}

#[test]
fn a_file_missing_from_one_mirror_comes_from_the_next_without_retries() {
    let (tree, built) = repo("gz");
    let stale = Server::start(tree.path());
    let good = Server::start(tree.path());
    stale.fault(&built[2].relative, Fault::Status(404), usize::MAX);
    let catalog = load(&[source(&stale.url()), source(&good.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let fetched = fetch_one(&catalog, built[2].wanted(), downloads.path(), &options()).unwrap();
    assert_eq!(fetched.offer.source, 1);
    assert_downloaded(&fetched, &built[2], downloads.path());
    assert_eq!(stale.seen_for(&built[2].relative).len(), 1, "404 is not retried");
    let lonely = load(&[source(&stale.url())]);
    let fresh = tempfile::tempdir().unwrap();
    let error = fetch_one(&lonely, built[2].wanted(), fresh.path(), &options()).unwrap_err().to_string();
    assert!(error.contains("404"), "{error}");
}

#[test]
fn offers_whose_digests_differ_from_the_wanted_package_are_skipped() {
    // Source 0: a directory with another build of alpha (same NEVRA, other content).
    let other_tree = tempfile::tempdir().unwrap();
    let mut spec = support::standard_specs().remove(0);
    spec.seed = 99;
    let other_alpha = build(other_tree.path(), &spec);
    // Source 1: a repository whose repodata has the right alpha.
    let (tree, built) = repo("zstd");
    let alpha = &built[0];
    assert_eq!(other_alpha.nevra, alpha.nevra);
    assert_ne!(other_alpha.header_sha256, alpha.header_sha256);
    let catalog = load(&[source(other_tree.path().to_str().unwrap()), source(tree.path().to_str().unwrap())]);
    assert_eq!(catalog.offers(&alpha.nevra).len(), 2);
    let downloads = tempfile::tempdir().unwrap();
    let fetched = fetch_one(&catalog, alpha.wanted(), downloads.path(), &options()).unwrap();
    assert_eq!((fetched.offer.source, fetched.path.clone()), (1, alpha.path.clone()));
    // Asking for the other build picks the directory's.
    let fetched = fetch_one(&catalog, other_alpha.wanted(), downloads.path(), &options()).unwrap();
    assert_eq!((fetched.offer.source, fetched.path.clone()), (0, other_alpha.path.clone()));
    // A build no source has: every offer is skipped, and the error says why.
    let mut unknown = alpha.wanted();
    unknown.header = HeaderSha256::from_bytes([7; 32]);
    unknown.file = Some(FileSha256::from_bytes([8; 32]));
    let error = fetch_one(&catalog, unknown, downloads.path(), &options()).unwrap_err().to_string();
    assert!(error.contains("header SHA-256"), "{error}");
    assert!(error.contains("file SHA-256"), "{error}");
    assert!(error.contains("another build"), "{error}");
}

#[test]
fn a_truncated_transfer_resumes_with_a_range_request() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    server.fault(&built[0].relative, Fault::Truncate { after: 100_000 }, 1);
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let fetched = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&fetched, &built[0], downloads.path());
    let seen = server.seen_for(&built[0].relative);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(fetched.bytes_downloaded, built[0].bytes.len() as u64);
}

#[test]
fn a_part_left_by_an_interrupted_run_is_resumed() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let alpha = &built[0];
    let part = downloads.path().join(format!("{}.rpm.part", hex::encode(alpha.file_sha256)));
    fs::write(&part, &alpha.bytes[..123_456]).unwrap();
    let fetched = fetch_one(&catalog, alpha.wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&fetched, alpha, downloads.path());
    assert_eq!(fetched.bytes_downloaded, alpha.bytes.len() as u64 - 123_456);
    let seen = server.seen_for(&alpha.relative);
    assert_eq!(seen.iter().map(|s| s.range.clone()).collect::<Vec<_>>(), [Some("bytes=123456-".to_owned())]);
}

#[test]
fn a_server_that_ignores_range_gets_the_download_restarted() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    server.fault(&built[1].relative, Fault::IgnoreRange, usize::MAX);
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let part = downloads.path().join(format!("{}.rpm.part", hex::encode(built[1].file_sha256)));
    fs::write(&part, &built[1].bytes[..5000]).unwrap();
    let fetched = fetch_one(&catalog, built[1].wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&fetched, &built[1], downloads.path());
    assert_eq!(fetched.bytes_downloaded, built[1].bytes.len() as u64);
    assert_eq!(server.seen_for(&built[1].relative)[0].range.as_deref(), Some("bytes=5000-"));
}

#[test]
fn a_corrupt_part_is_discarded_and_the_file_fetched_from_scratch() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let part = downloads.path().join(format!("{}.rpm.part", hex::encode(built[0].file_sha256)));
    fs::write(&part, vec![0x55; 70_000]).unwrap();
    let fetched = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&fetched, &built[0], downloads.path());
    let ranges: Vec<_> = server.seen_for(&built[0].relative).into_iter().map(|s| s.range).collect();
    assert_eq!(ranges, [Some("bytes=70000-".to_owned()), None]);
}

#[test]
fn a_complete_part_meets_416_when_no_size_is_known() {
    let tree = tempfile::tempdir().unwrap();
    let built = build_standard(tree.path());
    let xml = support::primary_xml(&built, false, |p| p.relative.clone());
    support::write_repo(tree.path(), &xml, support::gz, "");
    let server = Server::start(tree.path());
    let catalog = load(&[source(&server.url())]);
    assert_eq!(catalog.offers(&built[2].nevra)[0].size, None);
    let downloads = tempfile::tempdir().unwrap();
    let part = downloads.path().join(format!("{}.rpm.part", hex::encode(built[2].file_sha256)));
    fs::write(&part, &built[2].bytes).unwrap();
    let fetched = fetch_one(&catalog, built[2].wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&fetched, &built[2], downloads.path());
    assert_eq!(fetched.bytes_downloaded, 0);
    let seen = server.seen_for(&built[2].relative);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].range, Some(format!("bytes={}-", built[2].bytes.len())));
}

#[test]
fn a_stalled_server_fails_within_the_stall_timeout() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    server.fault(&built[0].relative, Fault::Stall { after: 10_000 }, usize::MAX);
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let options = FetchOptions { attempts: 2, stall_timeout: Duration::from_millis(500), ..options() };
    let began = Instant::now();
    let error = fetch_one(&catalog, built[0].wanted(), downloads.path(), &options).unwrap_err().to_string();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(15), "a stalled server held the fetch for {took:?}");
    assert!(error.contains("timeout") || error.contains("timed out"), "{error}");
    assert!(error.contains("after 2 attempts"), "{error}");
    let seen = server.seen_for(&built[0].relative);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=10000-"), "the second attempt resumes");
}

#[test]
fn server_errors_are_retried_and_give_up_after_the_attempts() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    server.fault(&built[1].relative, Fault::Status(500), 1);
    server.fault(&built[2].relative, Fault::Status(503), usize::MAX);
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let fetched = fetch_one(&catalog, built[1].wanted(), downloads.path(), &options()).unwrap();
    assert_downloaded(&fetched, &built[1], downloads.path());
    assert_eq!(server.seen_for(&built[1].relative).len(), 2);
    let error = fetch_one(&catalog, built[2].wanted(), downloads.path(), &options()).unwrap_err().to_string();
    assert!(error.contains("503") && error.contains("after 3 attempts"), "{error}");
    assert_eq!(server.seen_for(&built[2].relative).len(), 3);
}

#[test]
fn a_package_no_source_offers_says_what_to_do() {
    let (tree, built) = repo("gz");
    let catalog = load(&[source(tree.path().to_str().unwrap())]);
    let mut wanted = built[0].wanted();
    wanted.nevra.name = "nowhere".into();
    let downloads = tempfile::tempdir().unwrap();
    let error = fetch_one(&catalog, wanted, downloads.path(), &options()).unwrap_err();
    assert!(matches!(&error, Error::Fetch { package, .. } if package == "nowhere-1.0-1.noarch"), "{error:?}");
    assert!(error.to_string().contains("add a --packages source"), "{error}");
}

#[test]
fn a_package_wanted_twice_is_fetched_once() {
    let (tree, built) = repo("gz");
    let server = Server::start(tree.path());
    let catalog = load(&[source(&server.url())]);
    let downloads = tempfile::tempdir().unwrap();
    let wanted = [built[0].wanted(), built[1].wanted(), built[0].wanted()];
    let fetched = fetch_all(&catalog, &wanted, downloads.path());
    assert_eq!(fetched.len(), 3);
    assert_eq!(fetched[0].path, fetched[2].path);
    assert_downloaded(&fetched[2], &built[0], downloads.path());
    assert_eq!(server.seen_for(&built[0].relative).len(), 1);
}

#[test]
fn epoch_zero_in_repodata_matches_a_package_without_epoch() {
    let (tree, built) = repo("gz");
    let primary = support::primary_path(tree.path());
    let text = String::from_utf8(support_decompress(&fs::read(primary).unwrap())).unwrap();
    assert!(text.contains("<version epoch=\"0\" ver=\"1.0\" rel=\"1\"/>"), "createrepo_c writes epoch 0");
    let catalog = load(&[source(tree.path().to_str().unwrap())]);
    assert_eq!(built[0].nevra.epoch, None);
    assert_eq!(catalog.offers(&built[0].nevra).len(), 1);
    let mut with_zero = built[0].nevra.clone();
    with_zero.epoch = Some(0);
    assert_eq!(catalog.offers(&with_zero).len(), 1);
}

fn support_decompress(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

// Hostile and broken metadata: errors that name the source and the file, never panics.

#[test]
fn a_mirror_without_repodata_fails_to_load_and_says_so() {
    let empty = tempfile::tempdir().unwrap();
    let server = Server::start(empty.path());
    let error = load_err(&[source(&server.url())]);
    assert!(error.contains("repodata/repomd.xml") && error.contains("404"), "{error}");
    assert!(error.contains(&server.url()), "{error}");
}

#[test]
fn a_dead_mirror_is_skipped_with_a_warning_when_another_loads() {
    let (tree, built) = repo("gz");
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    let catalog = load(&[source(&dead), source(tree.path().to_str().unwrap())]);
    assert_eq!(catalog.len(), 3);
    assert_eq!(catalog.warnings().len(), 1);
    assert!(catalog.warnings()[0].contains(&dead), "{:?}", catalog.warnings());
    assert_eq!(catalog.offers(&built[0].nevra)[0].source, 1);
    assert!(matches!(catalog.source(0), Some(PackageSource::Repository(RepoLocation::Remote(_)))));
    let error = load_err(&[source(&dead)]);
    assert!(error.contains("no package source could be read"), "{error}");
}

#[test]
fn a_missing_primary_file_is_named() {
    let (tree, _) = repo("gz");
    let primary = support::primary_path(tree.path());
    fs::remove_file(&primary).unwrap();
    let error = load_err(&[source(tree.path().to_str().unwrap())]);
    assert!(error.contains("primary.xml.gz"), "{error}");
    let server = Server::start(tree.path());
    let error = load_err(&[source(&server.url())]);
    assert!(error.contains("primary.xml.gz") && error.contains("404"), "{error}");
}

#[test]
fn a_primary_file_that_fails_its_checksum_is_refused() {
    let (tree, _) = repo("zstd");
    let primary = support::primary_path(tree.path());
    let mut data = fs::read(&primary).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x01;
    fs::write(&primary, &data).unwrap();
    let error = load_err(&[source(tree.path().to_str().unwrap())]);
    assert!(error.contains("sha256 mismatch"), "{error}");
    assert!(error.contains("primary.xml.zst"), "{error}");
}

#[test]
fn locations_that_escape_the_repository_are_refused() {
    let tree = tempfile::tempdir().unwrap();
    let repo_dir = tree.path().join("repo");
    let built = build_standard(&repo_dir);
    for (href, expect) in [
        ("../../../../etc/passwd", "escapes"),
        ("/etc/passwd", "not a relative path"),
        ("Packages/../../outside.rpm", "escapes"),
    ] {
        let xml = support::primary_xml(&built, true, |p| {
            if p.nevra.name == "beta" {
                href.to_owned()
            } else {
                p.relative.clone()
            }
        });
        support::write_repo(&repo_dir, &xml, support::xz, "");
        let error = load_err(&[source(repo_dir.to_str().unwrap())]);
        assert!(error.contains(expect) && error.contains("beta-2.5-3.fc40.x86_64"), "{href}: {error}");
        let url = format!("file://{}", repo_dir.display());
        assert!(load_err(&[source(&url)]).contains(expect));
    }
    // xml:base may not send a client to local files either.
    let xml = support::primary_xml(&built, true, |p| p.relative.clone()).replacen(
        "<location href=",
        "<location xml:base=\"file:///etc\" href=",
        1,
    );
    support::write_repo(&repo_dir, &xml, support::plain, "");
    assert!(load_err(&[source(repo_dir.to_str().unwrap())]).contains("xml:base"));
}

#[test]
fn truncated_and_garbage_primary_metadata_give_errors() {
    let tree = tempfile::tempdir().unwrap();
    let built = build_standard(tree.path());
    let xml = support::primary_xml(&built, true, |p| p.relative.clone());
    let cut = |data: &[u8]| support::xz(data)[..60].to_vec();
    support::write_repo(tree.path(), &xml, cut, "");
    let error = load_err(&[source(tree.path().to_str().unwrap())]);
    assert!(error.contains("xz data"), "{error}");
    let garbage = |_: &[u8]| support::noise(5, 10_000);
    support::write_repo(tree.path(), &xml, garbage, "");
    let error = load_err(&[source(tree.path().to_str().unwrap())]);
    assert!(error.contains("primary.xml.bin") && error.contains("XML"), "{error}");
    let half = |data: &[u8]| data[..data.len() / 2].to_vec();
    support::write_repo(tree.path(), &xml, half, "");
    let error = load_err(&[source(tree.path().to_str().unwrap())]);
    assert!(error.contains("primary.xml.bin"), "{error}");
}

#[test]
fn huge_declared_sizes_are_refused_before_reading() {
    let (tree, _) = repo("xz");
    let path = tree.path().to_str().unwrap().to_owned();
    let repomd = tree.path().join("repodata/repomd.xml");
    let original = fs::read_to_string(&repomd).unwrap();
    support::edit_primary_entry(tree.path(), |b| {
        support::replace_element_text(b, "open-size", &(1u64 << 40).to_string())
    });
    assert!(load_err(&[source(&path)]).contains(&format!("more than the {MAX_PRIMARY_BYTES} allowed")));
    fs::write(&repomd, &original).unwrap();
    support::edit_primary_entry(tree.path(), |b| support::replace_element_text(b, "size", &(1u64 << 62).to_string()));
    assert!(load_err(&[source(&path)]).contains("more than the"));
    // An open-size smaller than the real data: the decompression stops at it.
    fs::write(&repomd, &original).unwrap();
    support::edit_primary_entry(tree.path(), |b| support::replace_element_text(b, "open-size", "100"));
    assert!(load_err(&[source(&path)]).contains("more than 100 bytes"));
    // A size that is not a number.
    fs::write(&repomd, &original).unwrap();
    support::edit_primary_entry(tree.path(), |b| support::replace_element_text(b, "size", "-1"));
    assert!(load_err(&[source(&path)]).contains("not a number"));
}

#[test]
fn an_oversized_or_malformed_repomd_is_refused() {
    let tree = tempfile::tempdir().unwrap();
    fs::create_dir_all(tree.path().join("repodata")).unwrap();
    let repomd = tree.path().join("repodata/repomd.xml");
    let mut huge = b"<repomd>".to_vec();
    huge.resize(usize::try_from(MAX_REPOMD_BYTES).unwrap() + 1, b' ');
    fs::write(&repomd, &huge).unwrap();
    let server = Server::start(tree.path());
    let local = load_err(&[source(tree.path().to_str().unwrap())]);
    assert!(local.contains("repomd.xml") && local.contains("more than"), "{local}");
    let remote = load_err(&[source(&server.url())]);
    assert!(remote.contains("repomd.xml") && remote.contains(&MAX_REPOMD_BYTES.to_string()), "{remote}");
    for bad in ["<repomd><data type=\"primary\">", "not xml at all <<<", "<repomd></repomd>", "\u{0}\u{1}"] {
        fs::write(&repomd, bad).unwrap();
        let error = load_err(&[source(tree.path().to_str().unwrap())]);
        assert!(error.contains("repodata/repomd.xml"), "{bad:?}: {error}");
    }
}

#[test]
fn sources_parse_by_kind() {
    let (tree, _) = repo("gz");
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(source(dir.path().to_str().unwrap()), PackageSource::Directory(_)));
    assert!(matches!(source(tree.path().to_str().unwrap()), PackageSource::Repository(RepoLocation::Local(_))));
    assert_eq!(
        source("https://mirror.example/fedora/40"),
        PackageSource::Repository(RepoLocation::Remote("https://mirror.example/fedora/40/".to_owned()))
    );
    assert_eq!(source("https://mirror.example/f").to_string(), "repository https://mirror.example/f/");
    for bad in ["/does/not/exist", "ftp://mirror.example/", "file://elsewhere/x", "http://", "http://h/r?q=1"] {
        let error = PackageSource::parse(bad).unwrap_err();
        assert!(matches!(error, Error::Source { .. }), "{bad}: {error:?}");
        assert!(error.to_string().starts_with(bad), "{bad}: {error}");
    }
}

#[test]
fn spec_helper_builds_distinct_packages() {
    // Guards the fixtures: the packages differ, so a test that confuses them fails.
    let tree = tempfile::tempdir().unwrap();
    let built = build_standard(tree.path());
    let spec =
        Spec { name: "x", epoch: None, version: "1", release: "1", arch: "noarch", dir: ".", content: 10, seed: 0 };
    let x = build(tree.path(), &spec);
    let mut digests: Vec<_> = built.iter().chain([&x]).map(|b| b.file_sha256).collect();
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), 4);
}
