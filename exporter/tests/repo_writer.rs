//! The repository writer on its own (`OstreeRepo`), with the real `ostree` CLI as the oracle:
//! a small tree written object by object must be a repository `ostree` reads, checks and
//! checks out in every mode; refused writes must leave nothing behind.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use rejig_exporter::ostree::repo::{validate_ref, OstreeRepo};
use rejig_format::object::{
    metadata_checksum, Commit, DirEntry, DirMeta, DirTree, FileEntry, FileHeader, FileMeta, FileName, VariantDict,
    XattrSet,
};
use rejig_format::{ObjectId, ObjectKey, ObjectType, RepoMode};

const MODES: [RepoMode; 4] = [RepoMode::Archive, RepoMode::BareUser, RepoMode::BareUserOnly, RepoMode::Bare];

/// Runs `ostree ARGS`, failing the test with its output unless it succeeds.
fn ostree(args: &[&str]) -> String {
    let out = Command::new("ostree").args(args).output().expect("run ostree (apt-get install ostree)");
    assert!(
        out.status.success(),
        "ostree {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn repo_arg(repo: &Path) -> String {
    format!("--repo={}", repo.display())
}

/// Metadata every mode can hold: root-owned, no xattrs.
fn root_meta(permissions: u32) -> FileMeta {
    FileMeta::new(0, 0, permissions, XattrSet::new()).unwrap()
}

fn write_file(repo: &OstreeRepo, header: &FileHeader, bytes: &[u8]) -> ObjectId {
    let expected = header.checksum(bytes);
    let written = repo.write_content(Some(expected), header, Some((&mut Cursor::new(bytes), bytes.len() as u64)));
    let written = written.unwrap();
    assert_eq!(written.id, expected, "the writer hashes what it writes");
    expected
}

fn write_metadata(repo: &OstreeRepo, kind: ObjectType, bytes: &[u8]) -> ObjectId {
    let id = metadata_checksum(bytes);
    repo.write_metadata(&ObjectKey::new(id, kind), bytes).unwrap();
    id
}

/// Writes `/hello` (0644), `/usr/bin/tool` (0755), `/link -> hello` and a commit; returns it.
fn write_small_tree(repo: &OstreeRepo) -> ObjectId {
    let hello = write_file(repo, &FileHeader::regular(root_meta(0o644)), b"hello, ostree\n");
    let tool = write_file(repo, &FileHeader::regular(root_meta(0o755)), b"#!/bin/sh\necho tool\n");
    let link_header = FileHeader::symlink("hello", root_meta(0o777)).unwrap();
    let link = link_header.checksum(b"");
    let written = repo.write_content(Some(link), &link_header, None).unwrap();
    assert_eq!(written.id, link);

    let dir_meta = write_metadata(repo, ObjectType::DirMeta, &DirMeta(root_meta(0o755)).encode());
    let file = |name: &str, content| FileEntry { name: FileName::new(name).unwrap(), content };
    let dir = |name: &str, tree| DirEntry { name: FileName::new(name).unwrap(), tree, meta: dir_meta };
    let bin =
        write_metadata(repo, ObjectType::DirTree, &DirTree::new(vec![file("tool", tool)], vec![]).unwrap().encode());
    let usr = write_metadata(repo, ObjectType::DirTree, &DirTree::new(vec![], vec![dir("bin", bin)]).unwrap().encode());
    let root = DirTree::new(vec![file("hello", hello), file("link", link)], vec![dir("usr", usr)]).unwrap();
    let root = write_metadata(repo, ObjectType::DirTree, &root.encode());
    let commit = Commit {
        metadata: VariantDict::new(),
        parent: None,
        related: vec![],
        subject: "written by the repo_writer test".into(),
        body: String::new(),
        timestamp: 1_700_000_000,
        root_tree: root,
        root_meta: dir_meta,
    };
    write_metadata(repo, ObjectType::Commit, &commit.encode())
}

#[test]
fn a_tree_written_object_by_object_is_a_repository_ostree_reads_in_every_mode() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let repo = OstreeRepo::open_or_create(&path, Some(mode)).unwrap();
        let commit = write_small_tree(&repo);
        repo.sync().unwrap();
        repo.set_ref("test/writer", &commit).unwrap();

        let r = repo_arg(&path);
        assert_eq!(ostree(&["config", &r, "get", "core.mode"]).trim(), mode.config_name(), "{mode}");
        assert_eq!(ostree(&["rev-parse", &r, "test/writer"]).trim(), commit.to_hex(), "{mode}");
        ostree(&["fsck", &r]);
        assert_eq!(ostree(&["cat", &r, "test/writer", "/hello"]), "hello, ostree\n", "{mode}");
        assert_eq!(ostree(&["cat", &r, "test/writer", "/usr/bin/tool"]), "#!/bin/sh\necho tool\n", "{mode}");
        let listing = ostree(&["ls", &r, "-R", "test/writer"]);
        assert!(listing.contains("-00755 0 0") && listing.contains("/usr/bin/tool"), "{mode}: {listing}");
        assert!(listing.contains("/link -> hello"), "{mode}: {listing}");

        let out = dir.path().join("checkout");
        let user_mode = if mode == RepoMode::Bare { vec![] } else { vec!["--user-mode"] };
        let mut args = vec!["checkout", &r];
        args.extend(user_mode.iter().copied());
        let out_arg = out.display().to_string();
        args.extend(["test/writer", &out_arg]);
        ostree(&args);
        assert_eq!(std::fs::read(out.join("hello")).unwrap(), b"hello, ostree\n", "{mode}");
        assert_eq!(std::fs::read_link(out.join("link")).unwrap(), Path::new("hello"), "{mode}");
    }
}

#[test]
fn a_repository_made_by_ostree_init_takes_objects_from_rejig() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        ostree(&["init", &repo_arg(&path), &format!("--mode={}", mode.config_name())]);
        let repo = OstreeRepo::open_or_create(&path, None).unwrap();
        assert_eq!(repo.mode(), mode, "the mode comes from ostree's own config");
        let commit = write_small_tree(&repo);
        repo.sync().unwrap();
        repo.set_ref("from-init", &commit).unwrap();
        ostree(&["fsck", &repo_arg(&path)]);
        assert_eq!(ostree(&["rev-parse", &repo_arg(&path), "from-init"]).trim(), commit.to_hex());
    }
}

#[test]
fn writing_an_object_twice_reports_it_as_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let repo = OstreeRepo::open_or_create(&dir.path().join("repo"), Some(RepoMode::BareUser)).unwrap();
    let header = FileHeader::regular(root_meta(0o644));
    let bytes = b"twice\n";
    let first = repo.write_content(None, &header, Some((&mut Cursor::new(bytes), 6))).unwrap();
    let again = repo.write_content(None, &header, Some((&mut Cursor::new(bytes), 6))).unwrap();
    assert!(first.new && !again.new, "{first:?} then {again:?}");
    assert_eq!(first.id, again.id);
    let by_id = repo.write_content(Some(first.id), &header, Some((&mut Cursor::new(bytes), 6))).unwrap();
    assert!(!by_id.new, "a known checksum is not written again");
}

#[test]
fn content_that_does_not_hash_to_the_expected_checksum_is_never_published() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let repo = OstreeRepo::open_or_create(&path, Some(mode)).unwrap();
        let header = FileHeader::regular(root_meta(0o644));
        let expected = header.checksum(b"the bytes the caller promised\n");
        let lying = b"other bytes\n";
        let result = repo.write_content(Some(expected), &header, Some((&mut Cursor::new(lying), lying.len() as u64)));
        assert!(result.is_err(), "{mode}: a mismatch must be refused");
        let actual = header.checksum(lying);
        for id in [expected, actual] {
            let key = ObjectKey::new(id, ObjectType::File);
            assert!(!repo.has_object(&key), "{mode}: {id} must not be in objects/");
        }
        let left: Vec<_> = std::fs::read_dir(path.join("tmp")).unwrap().collect();
        assert!(left.is_empty(), "{mode}: tmp/ keeps nothing of a refused object: {left:?}");
        ostree(&["fsck", &repo_arg(&path)]);
    }
}

#[test]
fn a_short_read_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = OstreeRepo::open_or_create(&path, Some(RepoMode::Archive)).unwrap();
    let header = FileHeader::regular(root_meta(0o644));
    let bytes = b"only 17 bytes....";
    let result = repo.write_content(None, &header, Some((&mut Cursor::new(bytes), 100)));
    let error = result.expect_err("a source shorter than its declared size is refused").to_string();
    assert!(error.contains("100"), "the error says what size was expected: {error}");
    assert!(std::fs::read_dir(path.join("objects")).unwrap().next().is_none(), "no object directory was filled");
}

#[test]
fn ref_names_follow_ostree_rules_and_a_bad_one_moves_nothing() {
    for good in ["a", "os/stable", "fedora/x86_64/coreos.1", "_under-score"] {
        assert!(validate_ref(good).is_ok(), "{good}");
    }
    for bad in ["", "/lead", "trail/", "a//b", "-dash", "has space", "dot/.start", "a/../b"] {
        assert!(validate_ref(bad).is_err(), "{bad:?} must be refused");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = OstreeRepo::open_or_create(&path, Some(RepoMode::Archive)).unwrap();
    let commit = write_small_tree(&repo);
    repo.set_ref("good", &commit).unwrap();
    assert!(repo.set_ref("../escape", &commit).is_err());
    assert_eq!(ostree(&["refs", &repo_arg(&path)]).trim(), "good", "only the valid ref exists");
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn a_ref_moves_to_a_new_commit_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = OstreeRepo::open_or_create(&path, Some(RepoMode::BareUser)).unwrap();
    let first = write_small_tree(&repo);
    repo.set_ref("os/stable", &first).unwrap();
    // A second commit of the same tree, a second later.
    let commit = Commit::decode(
        &std::fs::read(path.join(repo.mode().loose_path(&ObjectKey::new(first, ObjectType::Commit)))).unwrap(),
    )
    .unwrap();
    let second = Commit { parent: Some(first), timestamp: commit.timestamp + 1, ..commit };
    let second = write_metadata(&repo, ObjectType::Commit, &second.encode());
    repo.sync().unwrap();
    repo.set_ref("os/stable", &second).unwrap();
    let r = repo_arg(&path);
    assert_eq!(ostree(&["rev-parse", &r, "os/stable"]).trim(), second.to_hex());
    assert_eq!(ostree(&["rev-parse", &r, "os/stable^"]).trim(), first.to_hex(), "ostree sees the parent");
    ostree(&["fsck", &r]);
}

#[test]
fn a_requested_mode_must_match_an_existing_repository() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    ostree(&["init", &repo_arg(&path), "--mode=archive-z2"]);
    let error = OstreeRepo::open_or_create(&path, Some(RepoMode::BareUser)).err().expect("mode mismatch").to_string();
    assert!(error.contains("archive") && error.contains("--mode"), "{error}");
    assert_eq!(OstreeRepo::planned_mode(&path, None).unwrap(), RepoMode::Archive);
    assert_eq!(OstreeRepo::planned_mode(&dir.path().join("absent"), None).unwrap(), RepoMode::Archive);
    assert!(!dir.path().join("absent").exists(), "planning creates nothing");
}

#[test]
fn a_non_empty_folder_that_is_not_a_repository_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("precious.txt"), b"keep me").unwrap();
    let error = OstreeRepo::open_or_create(&path, None).err().expect("refused").to_string();
    assert!(error.contains("not an OSTree repository"), "{error}");
    let names: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["precious.txt"], "nothing was created beside the user's file");
}

#[test]
fn a_partial_marker_lives_in_state_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = OstreeRepo::open_or_create(&path, Some(RepoMode::Archive)).unwrap();
    let commit = write_small_tree(&repo);
    repo.mark_partial(&commit).unwrap();
    assert!(path.join("state").join(format!("{commit}.commitpartial")).is_file());
    assert!(repo.is_partial(&commit));
    repo.clear_partial(&commit).unwrap();
    assert!(!repo.is_partial(&commit));
    repo.clear_partial(&commit).unwrap();
}
