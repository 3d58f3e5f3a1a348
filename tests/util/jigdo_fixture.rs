//! A real jigdo to attack: real packages fetched from registries (`rejig_test_support::corpus`),
//! extracted with `rpm2cpio | cpio`,
//! committed with `ostree commit`, described by `rejig build`; and the means to re-wrap its
//! description into hostile variants: parts written with the exporter's part writer beside
//! the jigdo (content-addressed, so variants share what they do not change), and a head
//! wrapped with the rpm crate's builder the way `build` wraps it. Used by the `bad_input`
//! module and its `lying_jigdo` rows.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::collections::HashMap;

use rejig_format::jigdo::{commit_provide, cut_records, encode_records, Jigdo, JigdoHead, PartKind, JIGDO_PROVIDE};
use rejig_format::BlobId;
use tempfile::TempDir;

use super::{assert_stderr_mentions, num, ostree_commit, ostree_init, p, report, run, text, Rejig};

/// The packages the fixture's commit is composed from (keys of `rejig_test_support::corpus`):
/// two of rpm's test packages and two built with rpmbuild, with gzip, uncompressed, xz and
/// zstd payloads, hardlinks, symlinks, ghosts and directories under `/etc`. Each owns a
/// directory, and one is larger than 10 kB (for the network faults that cut transfers).
pub const PACKAGES: [&str; 4] = [
    "rpm/RPMS/hello-2.0-1.i686.rpm",
    "rpm/RPMS/hlinktest-1.0-1.noarch.rpm",
    "generated/rejig-linkfarm-20210617-1.noarch.rpm",
    "generated/rejig-manyfiles-1.0-1.noarch.rpm",
];
/// The jigdo's name.
pub const NAME: &str = "hostile";

/// The compose, its commit and its jigdo, in a temp dir.
pub struct Fixture {
    pub dir: TempDir,
    /// A directory holding exactly the four packages.
    pub packages: PathBuf,
    pub commit: String,
    /// The jigdo `rejig build` wrote.
    pub jigdo: PathBuf,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("rejig-jigdo-fixture-").tempdir().unwrap();
        let packages = dir.path().join("packages");
        let root = dir.path().join("root");
        fs::create_dir_all(&packages).unwrap();
        fs::create_dir_all(&root).unwrap();
        for package in PACKAGES {
            // Named by NEVRA, as a repository names them and as the tests look them up.
            let from = rejig_test_support::corpus::package(package);
            let nevra = super::rpmbuild::rpm_query(&from, &["--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"]);
            let to = packages.join(format!("{nevra}.rpm"));
            fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
            let out = run(Command::new("sh")
                .current_dir(&root)
                .arg("-c")
                .arg(format!("rpm2cpio {} | cpio -idm --quiet --no-absolute-filenames", p(&to))));
            assert!(out.status.success(), "{}", report("rpm2cpio | cpio", &out));
        }
        if root.join("etc").exists() {
            fs::create_dir_all(root.join("usr")).unwrap();
            fs::rename(root.join("etc"), root.join("usr/etc")).unwrap();
        }
        fs::write(root.join("usr/os-release"), "NAME=hostile\n").unwrap();
        let repo = dir.path().join("compose");
        ostree_init(&repo, "archive");
        let commit = ostree_commit(&repo, "os", &root, "v1");
        let jigdo = dir.path().join("hostile.rpm");
        let build = Rejig::new().build(&repo, "os", &packages, NAME, &jigdo);
        assert_eq!(text(&build, "commit"), commit, "{build}");
        assert!(num(&build, "objects_new") >= 1, "os-release is new content: {build}");
        Fixture { dir, packages, commit, jigdo }
    }

    /// The real jigdo's head.
    pub fn head(&self) -> JigdoHead {
        rejig_importer::jigdo::read_jigdo(&self.jigdo).unwrap().head
    }

    /// The real jigdo's description, assembled from its parts beside it, and the small new
    /// content its records carry (BLAKE3 hex, bytes).
    pub fn parts(&self) -> (Jigdo, Vec<(String, Vec<u8>)>) {
        assembled(&self.jigdo)
    }

    /// The head of `jigdo` (whatever it claims) as a jigdo's tables file, its parts written
    /// beside the fixture's jigdo the way `build` writes them. `new` is the small new content
    /// its records carry (from [`Fixture::parts`]); new content not in it has to be an object
    /// part already there.
    pub fn tables(&self, jigdo: &Jigdo, new: &[(String, Vec<u8>)]) -> Vec<u8> {
        self.head_of(jigdo, new).encode().unwrap()
    }

    /// The head [`Fixture::tables`] encodes.
    pub fn head_of(&self, jigdo: &Jigdo, new: &[(String, Vec<u8>)]) -> JigdoHead {
        let dir = self.jigdo.parent().unwrap();
        let small: HashMap<BlobId, Vec<u8>> = new.iter().map(|(_, bytes)| (BlobId::of(bytes), bytes.clone())).collect();
        // The honest description in path order, as `build` cuts it; a hostile one (whatever
        // its lists hold, in their order) with the test's own encoder.
        let records = match jigdo.validate() {
            Ok(()) => encode_records(jigdo, &small).unwrap_or_else(|_| raw_records(jigdo, &small)),
            Err(_) => raw_records(jigdo, &small),
        };
        let mut parts = Vec::new();
        for piece in cut_records(&records) {
            let written = rejig_exporter::jigdo::write_part_rpm(PartKind::Records, piece.to_vec(), dir).unwrap();
            let file = rejig_importer::jigdo::read_part(
                &written.path,
                rejig_importer::jigdo::Expect::Kind(PartKind::Records),
                None,
            )
            .unwrap();
            parts.push(file.part);
        }
        // Object parts of the real jigdo that this description still uses.
        let used: std::collections::HashSet<BlobId> = jigdo.content.iter().map(|e| e.content).collect();
        parts.extend(self.head().parts.into_iter().filter(|p| p.kind == PartKind::Object && used.contains(&p.content)));
        JigdoHead {
            commit: jigdo.commit,
            commit_bytes: jigdo.commit_bytes.clone(),
            commitmeta: jigdo.commitmeta.clone(),
            packages: jigdo.packages.clone(),
            parts,
            delta_from: None,
        }
    }

    /// The blobs an export of a jigdo with `head` and small new content `new` stores before
    /// it can fail on a package: every part and every small new content.
    pub fn stored_blobs(head: &JigdoHead, new: &[(String, Vec<u8>)]) -> u64 {
        (head.unique_parts().len() + new.len()) as u64
    }

    /// Wraps tables and files into a jigdo RPM the way `build` does, with chosen provides.
    pub fn wrap(&self, label: &str, tables: &[u8], new: &[(String, Vec<u8>)], provides: &[String]) -> PathBuf {
        let mut builder = rpm::PackageBuilder::new(NAME, "0", "Distributable", "noarch", "hostile jigdo");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
        for provide in provides {
            builder.provides(rpm::Dependency::any(provide.clone()));
        }
        let dir = format!("/usr/lib/rejig/{NAME}");
        builder.with_file_contents(tables.to_vec(), rpm::FileOptions::new(format!("{dir}/tables"))).unwrap();
        for (name, bytes) in new {
            builder.with_file_contents(bytes.clone(), rpm::FileOptions::new(format!("{dir}/{name}"))).unwrap();
        }
        let path = self.dir.path().join(format!("{label}.rpm"));
        builder.build().unwrap().write_file(&path).unwrap();
        path
    }

    /// The provides `build` gives the fixture's jigdo.
    pub fn provides(&self) -> Vec<String> {
        vec![JIGDO_PROVIDE.to_owned(), commit_provide(&self.commit.parse().unwrap())]
    }

    /// Exports `jigdo` into a fresh repository with a fresh store; requires a clean failure
    /// that mentions every `needles`, and no repository left behind.
    pub fn export_fails(&self, jigdo: &Path, needles: &[&str]) {
        let repo = self.dir.path().join(format!("repo-{}", rand_suffix()));
        let out = Rejig::new().fails(&["export", p(jigdo), "--packages", p(&self.packages), "--repo", p(&repo)]);
        for needle in needles {
            assert_stderr_mentions(&out, needle, "the error must say what is wrong and where");
        }
        assert!(!repo.exists(), "a refused export created {}", repo.display());
    }
}

/// The files a jigdo's payload carries besides its tables: none since format 2, where new
/// content travels in parts. Kept so that the rows can add hostile extra files.
pub fn new_files(_new: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    Vec::new()
}

/// The description of the jigdo at `path`, assembled from the parts beside it, and the small
/// new content its records carry (BLAKE3 hex, bytes).
pub fn assembled(path: &Path) -> (Jigdo, Vec<(String, Vec<u8>)>) {
    let head = rejig_importer::jigdo::read_jigdo(path).unwrap().head;
    let dir = path.parent().unwrap();
    let mut records = Vec::new();
    for part in head.parts.iter().filter(|p| p.kind == PartKind::Records) {
        let file = dir.join(rejig_format::jigdo::part_file_name(&part.content));
        let read = rejig_importer::jigdo::read_part(&file, rejig_importer::jigdo::Expect::Bound(part), None).unwrap();
        records.extend(read.records);
    }
    let assembled = rejig_format::jigdo::assemble(&head, &records).unwrap();
    let small = assembled.small.iter().map(|(id, bytes)| (id.to_hex(), bytes.clone())).collect();
    (assembled.jigdo, small)
}

/// A suffix unique within the process, for file names.
pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Records for a description as its lists stand (FORMAT.md "jigdo records"): every dirmeta,
/// every dirtree, every metadata, every small new content, then every entry, each in list
/// order. Lets a hostile description say what the path-ordered encoder refuses to (a dirtree
/// listed twice, one nothing reaches, one missing).
pub fn raw_records(jigdo: &Jigdo, small: &HashMap<BlobId, Vec<u8>>) -> Vec<u8> {
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    let mut out = Vec::new();
    for meta in &jigdo.dirmetas {
        out.push(1);
        bytes(&mut out, meta);
    }
    for tree in &jigdo.dirtrees {
        out.push(2);
        bytes(&mut out, tree);
    }
    let mut keys = Vec::new();
    for meta in &jigdo.metadata {
        let mut body = Vec::new();
        body.extend_from_slice(&meta.uid().to_le_bytes());
        body.extend_from_slice(&meta.gid().to_le_bytes());
        body.extend_from_slice(&meta.permissions().to_le_bytes());
        bytes(&mut body, &meta.xattrs().encode());
        keys.push(blake3::hash(&body).as_bytes()[..16].to_vec());
        out.push(3);
        out.extend_from_slice(&body);
    }
    let mut sorted: Vec<_> = small.values().collect();
    sorted.sort();
    for blob in sorted {
        out.push(5);
        bytes(&mut out, blob);
    }
    for entry in &jigdo.content {
        out.push(4);
        out.extend_from_slice(entry.object.as_bytes());
        out.extend_from_slice(keys.get(entry.meta as usize).map(Vec::as_slice).unwrap_or(&[0xee; 16]));
        out.extend_from_slice(entry.content.as_bytes());
        match &entry.source {
            rejig_format::jigdo::ContentSource::Package { package, file } => {
                out.push(1);
                let header = jigdo.packages.get(*package as usize).map(|p| *p.header.as_bytes()).unwrap_or([0xee; 32]);
                out.extend_from_slice(&header);
                out.extend_from_slice(&file.to_le_bytes());
            }
            rejig_format::jigdo::ContentSource::New => out.push(2),
            rejig_format::jigdo::ContentSource::Symlink(target) => {
                out.push(3);
                bytes(&mut out, target.as_bytes());
            }
        }
    }
    out
}
