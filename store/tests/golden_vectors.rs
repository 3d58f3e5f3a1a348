//! The golden vectors of `docs/ostree-format.md` §4, and the worked example of
//! `docs/FORMAT.md` §7, read out of the documents themselves, so that a document and the code
//! cannot drift.
//!
//! Each document holds its vectors in fenced blocks whose info string is `golden`. A line in
//! such a block is `NAME VALUE…`: the value is the rest of the line with all whitespace removed
//! (hex may be grouped for reading), a name that repeats continues its value, and lines that
//! start with `#` are comments. The test computes every name it knows with the store's own
//! encoders and requires the two sets of names to be equal and every value to match: a vector
//! added to a document without a computation here fails, and so does one that goes missing.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use rejig_format::gvariant::encode;
use rejig_format::object::dirmeta::encode_owner_mode_xattrs;
use rejig_format::object::header::length_prefix;
use rejig_format::object::{
    metadata_checksum, Commit, DirEntry, DirMeta, DirTree, FileEntry, FileHeader, FileMeta, FileName, VariantDict,
    XattrSet,
};
use rejig_format::{BlobId, ObjectId, ObjectKey, ObjectRecord, ObjectType, RepoMode};
use rejig_store::Store;
use sha2::{Digest, Sha256};

/// The repository's `docs/` folder: the nearest ancestor of this crate that has one, so the
/// test keeps working if the crate moves deeper into the tree.
fn docs_dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        if dir.join("docs/ostree-format.md").is_file() {
            return dir.join("docs");
        }
        assert!(dir.pop(), "no docs/ostree-format.md above {}", env!("CARGO_MANIFEST_DIR"));
    }
}

/// The `golden` blocks of a document, as name → value.
fn golden(doc: &str) -> BTreeMap<String, String> {
    let path = docs_dir().join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut vectors = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            inside = !inside && info.trim() == "golden";
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, value) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        vectors.entry(name.to_owned()).or_insert_with(String::new).push_str(&value);
    }
    assert!(!vectors.is_empty(), "{} has no ```golden block", path.display());
    vectors
}

/// Compares a document's vectors with the computed ones and reports every difference at once.
fn check(doc: &str, computed: &BTreeMap<String, String>) {
    let documented = golden(doc);
    let mut problems = Vec::new();
    for (name, value) in computed {
        match documented.get(name) {
            None => problems.push(format!("{name}: computed {value}, but {doc} does not list it")),
            Some(listed) if listed != value => {
                problems.push(format!("{name}: {doc} says {listed}, the code computes {value}"))
            }
            Some(_) => {}
        }
    }
    for name in documented.keys().filter(|name| !computed.contains_key(*name)) {
        problems.push(format!("{name}: listed in {doc}, but this test does not compute it"));
    }
    assert!(problems.is_empty(), "{} golden vector problem(s) in {doc}:\n{}", problems.len(), problems.join("\n"));
}

fn meta(uid: u32, gid: u32, permissions: u32, xattrs: XattrSet) -> FileMeta {
    FileMeta::new(uid, gid, permissions, xattrs).unwrap()
}

fn plain(uid: u32, gid: u32, permissions: u32) -> FileMeta {
    meta(uid, gid, permissions, XattrSet::new())
}

fn name(text: &str) -> FileName {
    FileName::new(text).unwrap()
}

/// Records vectors as lowercase hex or text.
#[derive(Default)]
struct Vectors(BTreeMap<String, String>);

impl Vectors {
    fn hex(&mut self, name: &str, bytes: &[u8]) {
        self.0.insert(name.to_owned(), hex::encode(bytes));
    }
    fn text(&mut self, name: &str, value: impl ToString) {
        self.0.insert(name.to_owned(), value.to_string());
    }
    /// A metadata object: its checksum, size and exact bytes.
    fn metadata(&mut self, name: &str, bytes: &[u8]) -> ObjectId {
        let id = metadata_checksum(bytes);
        self.text(&format!("{name}.checksum"), id);
        self.text(&format!("{name}.size"), bytes.len());
        self.hex(&format!("{name}.bytes"), bytes);
        id
    }
    /// A content object: its checksum, and the framed header that starts its hashed stream.
    fn content(&mut self, name: &str, header: &FileHeader, payload: &[u8]) -> ObjectId {
        let h = header.encode();
        let mut stream = length_prefix(h.len()).to_vec();
        stream.extend_from_slice(&h);
        let id = header.checksum(payload);
        // The checksum is the plain SHA-256 of the framed header and the payload.
        let mut sha = Sha256::new();
        sha.update(&stream);
        sha.update(payload);
        assert_eq!(ObjectId::from_bytes(sha.finalize().into()), id, "{name}: checksum is not SHA-256 of the stream");
        self.text(&format!("{name}.checksum"), id);
        self.hex(&format!("{name}.stream-header"), &stream);
        id
    }
}

/// The fixture of ostree-format.md §4, built with the store's encoders.
fn ostree_vectors() -> BTreeMap<String, String> {
    let mut v = Vectors::default();

    // Content objects.
    let xattrs = XattrSet::from_filesystem([("user.foo", "bar"), ("user.abc", "xyz")]).unwrap();
    let hello = FileHeader::regular(plain(1000, 1001, 0o644));
    let empty = FileHeader::regular(plain(0, 0, 0o644));
    let link = FileHeader::symlink("hello.txt", plain(0, 0, 0o777)).unwrap();
    let xattr_file = FileHeader::regular(meta(0, 0, 0o644, xattrs.clone()));
    let run_sh = FileHeader::regular(plain(0, 0, 0o755));
    let secret = FileHeader::regular(plain(0, 0, 0o600));
    let hello_id = v.content("file.hello", &hello, b"hello world\n");
    let empty_id = v.content("file.empty", &empty, b"");
    let link_id = v.content("file.link", &link, b"");
    let xattr_id = v.content("file.xattr", &xattr_file, b"xattr file\n");
    let run_id = v.content("file.run-sh", &run_sh, b"#!/bin/sh\necho hi\n");
    let secret_id = v.content("file.secret", &secret, b"s3cret\n");
    v.hex("xattrs.xattr", &xattrs.encode());

    // Directory metadata.
    let dir_755 = v.metadata("dirmeta.0755", &DirMeta(plain(0, 0, 0o755)).encode());
    let dir_700 = v.metadata("dirmeta.0700", &DirMeta(plain(0, 0, 0o700)).encode());
    let labelled = XattrSet::from_filesystem([("user.z", "1"), ("user.a", "2")]).unwrap();
    v.metadata("dirmeta.labelled", &DirMeta(meta(0, 0, 0o755, labelled)).encode());

    // Directory trees.
    let file = |n: &str, content: ObjectId| FileEntry { name: name(n), content };
    let empty_tree = v.metadata("dirtree.empty", &DirTree::default().encode());
    let _ = empty_tree;
    let bin = v.metadata("dirtree.bin", &DirTree::new(vec![file("run.sh", run_id)], vec![]).unwrap().encode());
    let private =
        v.metadata("dirtree.private", &DirTree::new(vec![file("secret", secret_id)], vec![]).unwrap().encode());
    let root_files = |hello: ObjectId, xattr: ObjectId| {
        vec![file("hello.txt", hello), file("empty", empty_id), file("link", link_id), file("xattr.txt", xattr)]
    };
    let root_dirs = || {
        vec![
            DirEntry { name: name("bin"), tree: bin, meta: dir_755 },
            DirEntry { name: name("private"), tree: private, meta: dir_700 },
        ]
    };
    let root = v.metadata("dirtree.root", &DirTree::new(root_files(hello_id, xattr_id), root_dirs()).unwrap().encode());

    // Commits.
    let commit = Commit {
        metadata: VariantDict::new(),
        parent: None,
        related: vec![],
        subject: "fixture".into(),
        body: String::new(),
        timestamp: 1_704_067_200,
        root_tree: root,
        root_meta: dir_755,
    };
    let commit_id = v.metadata("commit.fixture", &commit.encode());
    let mut content_checksum = Sha256::new();
    content_checksum.update(root.as_bytes());
    content_checksum.update(dir_755.as_bytes());
    v.hex("commit.fixture.content-checksum", &content_checksum.finalize());

    // The second commit: metadata with a string and a string array, a parent and a body.
    let entry = |key: &str, value: &[u8], type_string: &str| {
        let mut variant = value.to_vec();
        variant.push(0);
        variant.extend_from_slice(type_string.as_bytes());
        encode::TupleWriter::new().variable(1, &encode::string(key)).last(8, &variant).finish()
    };
    let bindings = encode::variable_array([encode::string("test/fixture")], 1);
    let metadata_bytes = encode::variable_array(
        [entry("version", &encode::string("1.0"), "s"), entry("ostree.ref-binding", &bindings, "as")],
        8,
    );
    v.hex("commit.second.metadata", &metadata_bytes);
    let second = Commit {
        metadata: VariantDict::decode(&metadata_bytes).unwrap(),
        parent: Some(commit_id),
        subject: "second".into(),
        body: "body text".into(),
        timestamp: 1_704_153_600,
        ..commit.clone()
    };
    v.metadata("commit.second", &second.encode());

    // The same tree committed into bare-user-only: canonical owners, no xattrs, mode & 0755.
    let canonical = |header: &FileHeader| header.canonicalized_for_bare_user_only();
    let hello_root = v.content("file.hello-canonical", &canonical(&hello), b"hello world\n");
    let xattr_bare = v.content("file.xattr-canonical", &canonical(&xattr_file), b"xattr file\n");
    assert_eq!(canonical(&run_sh), run_sh);
    assert_eq!(canonical(&secret), secret);
    assert_eq!(canonical(&link), link);
    let canonical_root = v.metadata(
        "dirtree.root-canonical",
        &DirTree::new(root_files(hello_root, xattr_bare), root_dirs()).unwrap().encode(),
    );
    v.metadata("commit.canonical", &Commit { root_tree: canonical_root, ..commit.clone() }.encode());

    // Detached metadata.
    let mut commitmeta = VariantDict::new();
    commitmeta.push_string("foo", "bar").unwrap();
    v.hex("commitmeta.foo", &commitmeta.encode());

    // Per-mode storage: archive headers, bare-user's user.ostreemeta, loose paths.
    let framed_archive = |header: &FileHeader, size: u64| {
        let z = header.encode_archive(size);
        let mut out = length_prefix(z.len()).to_vec();
        out.extend_from_slice(&z);
        out
    };
    v.hex("archive.hello.header", &framed_archive(&hello, 12));
    v.hex("archive.empty.header", &framed_archive(&empty, 0));
    v.hex("archive.link.header", &framed_archive(&link, 0));
    v.hex("archive.xattr.header", &framed_archive(&xattr_file, 11));
    v.hex("archive.run-sh.header", &framed_archive(&run_sh, 18));
    let ostreemeta = |header: &FileHeader| {
        let m = header.meta();
        encode_owner_mode_xattrs(m.uid(), m.gid(), header.mode(), m.xattrs())
    };
    v.hex("bare-user.hello.ostreemeta", &ostreemeta(&hello));
    v.hex("bare-user.link.ostreemeta", &ostreemeta(&link));
    v.hex("bare-user.xattr.ostreemeta", &ostreemeta(&xattr_file));
    let file_key = ObjectKey::new(hello_id, ObjectType::File);
    v.text("path.hello.archive", RepoMode::Archive.loose_path(&file_key));
    v.text("path.hello.bare-user", RepoMode::BareUser.loose_path(&file_key));
    v.text("path.commit", RepoMode::Archive.loose_path(&ObjectKey::new(commit_id, ObjectType::Commit)));
    v.text("path.commitmeta", RepoMode::BareUser.loose_path(&ObjectKey::new(commit_id, ObjectType::CommitMeta)));

    // GVariant framing widths: one element of 254 bytes fits 1-byte offsets, 255 needs 2.
    v.hex("gvariant.width1.tail", tail(&encode::variable_array([vec![1u8; 254]], 1), 1));
    v.text("gvariant.width1.size", encode::variable_array([vec![1u8; 254]], 1).len());
    v.hex("gvariant.width2.tail", tail(&encode::variable_array([vec![1u8; 255]], 1), 2));
    v.text("gvariant.width2.size", encode::variable_array([vec![1u8; 255]], 1).len());
    v.0
}

fn tail(bytes: &[u8], n: usize) -> &[u8] {
    &bytes[bytes.len() - n..]
}

#[test]
fn ostree_format_vectors_match_the_code() {
    check("ostree-format.md", &ostree_vectors());
}

/// The worked example of FORMAT.md §7: a store that holds one content object, written through
/// the store's own batch: `hello.txt` of the golden fixture (ostree-format.md §4).
#[test]
fn format_worked_example_matches_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &|holder| panic!("unexpected wait for {holder}")).unwrap();
    let header = FileHeader::regular(plain(1000, 1001, 0o644));
    let content = b"hello world\n";
    let key = ObjectKey::new(header.checksum(content), ObjectType::File);
    let batch = store.batch().unwrap();
    let blob = batch.add_blob(content).unwrap();
    batch.add_object(key, &ObjectRecord::Regular { header: header.clone(), blob }).unwrap();
    let summary = batch.commit().unwrap();
    let pack_id = summary.pack.unwrap();
    let pack = std::fs::read(store.packs_dir().join(format!("{pack_id}.pack"))).unwrap();

    let mut v = Vectors::default();
    v.hex("example.content", content);
    v.text("example.blob", BlobId::of(content));
    v.hex("example.header", &header.encode());
    v.text("example.object", key.id);
    v.hex("example.record", &ObjectRecord::Regular { header, blob }.encode());
    v.text("example.pack.name", pack_id);
    v.text("example.pack.size", pack.len());
    v.hex("example.pack", &pack);
    // The pack's name is the BLAKE3 of its trailer body, which the file states just before it.
    let trailer_len = u64::from_le_bytes(pack[pack.len() - 16..pack.len() - 8].try_into().unwrap()) as usize;
    let trailer = &pack[pack.len() - 16 - trailer_len..pack.len() - 16];
    let body = &trailer[32..];
    assert_eq!(blake3::hash(body).as_bytes(), pack_id.as_bytes());
    assert_eq!(&trailer[..32], pack_id.as_bytes());
    v.text("example.trailer.offset", pack.len() - 16 - trailer_len);
    v.text("example.trailer.size", trailer_len);
    v.hex("example.trailer.body", body);
    check("FORMAT.md", &v.0);
}
