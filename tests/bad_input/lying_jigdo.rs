//! Jigdos and package sources that lie: each must fail with a clear error that names what is
//! wrong, and leave the target repository as it was (here: not created, or without the ref).
//!
//! The fixture is real (`util::jigdo_fixture`, shared with the rest of `bad_input`): packages
//! fetched from registries, extracted with `rpm2cpio | cpio`, committed with `ostree commit`, described
//! by `rejig build`. Hostile variants are re-wrapped with the rpm crate's builder from the
//! real jigdo's extracted payload.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::fs;

use rejig_format::jigdo::{commit_provide, ContentSource, PartKind, JIGDO_PROVIDE};
use util::jigdo_fixture::{new_files, Fixture};
use util::{assert_stderr_mentions, p, text, Rejig};

#[test]
fn the_honest_rewrap_exports_so_the_variants_test_what_they_change() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let rewrapped = fixture.wrap("honest", &fixture.tables(&jigdo, &new), &new_files(&new), &fixture.provides());
    let repo = fixture.dir.path().join("honest-repo");
    let report = Rejig::new().json(&[
        "export",
        p(&rewrapped),
        "--packages",
        p(&fixture.packages),
        "--repo",
        p(&repo),
        "--ref",
        "os",
    ]);
    assert_eq!(text(&report, "commit"), fixture.commit);
    util::verify_exported_repo(&repo, &fixture.commit);
}

#[test]
fn hostile_jigdos_are_refused_before_the_repository_is_touched() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let tables = fixture.tables(&jigdo, &new);
    let files = new_files(&new);

    // A commit that does not match its Provides.
    let other = "ab".repeat(32);
    let wrong_provide =
        fixture.wrap("wrong-provide", &tables, &files, &[JIGDO_PROVIDE.to_owned(), format!("rejig-commit({other})")]);
    fixture.export_fails(&wrong_provide, &["rejig-commit", &other]);

    // Not a jigdo at all: no rejig-jigdo(2).
    let not_jigdo = fixture.wrap("not-jigdo", &tables, &files, &[commit_provide(&jigdo.commit)]);
    fixture.export_fails(&not_jigdo, &[JIGDO_PROVIDE]);

    // A file the format does not define.
    let extra = vec![("payload-extra".to_owned(), b"x".to_vec())];
    let extra_file = fixture.wrap("extra-file", &tables, &extra, &fixture.provides());
    fixture.export_fails(&extra_file, &["unexpected file"]);

    // Tables that are not tables.
    let garbage = fixture.wrap("garbage", b"\x10\0\0\0\0\0\0\0not zstd", &files, &fixture.provides());
    fixture.export_fails(&garbage, &["jigdo tables"]);
}

/// The fixture's jigdo and parts copied into a directory of their own, with `edit` applied
/// to the copies (by file name); returns the copied jigdo.
/// The copies live outside the fixture's directory, which a client searches for parts.
fn copied(
    fixture: &Fixture,
    label: &str,
    edit: impl Fn(&str, &std::path::Path),
) -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::Builder::new().prefix(&format!("rejig-{label}-")).tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let head = fixture.head();
    let jigdo = dir.join("hostile.rpm");
    fs::copy(&fixture.jigdo, &jigdo).unwrap();
    for part in head.unique_parts() {
        let name = rejig_format::jigdo::part_file_name(&part.content);
        let to = dir.join(&name);
        fs::copy(fixture.jigdo.parent().unwrap().join(&name), &to).unwrap();
        edit(&name, &to);
    }
    (temp, jigdo)
}

#[test]
fn hostile_parts_are_refused_naming_the_part_with_nothing_stored_or_written() {
    let fixture = Fixture::new();
    let head = fixture.head();
    let victim = head.parts.iter().find(|p| p.kind == PartKind::Records).unwrap().clone();
    let victim_name = rejig_format::jigdo::part_file_name(&victim.content);
    let nevra = victim.nevra();
    let label = format!("{}-{}", nevra.name, nevra.version);

    // Missing: no source has it.
    let (_missing_dir, missing) = copied(&fixture, "part-missing", |name, path| {
        if name == victim_name {
            fs::remove_file(path).unwrap();
        }
    });
    export_fails_cleanly(&fixture, &missing, &[&nevra.name, "no source offers it"]);

    // Wrong file digest: one byte of the file changed (the reader sees a damaged RPM or a
    // file that does not hash to the bound SHA-256).
    let (_flipped_dir, flipped) = copied(&fixture, "part-flipped", |name, path| {
        if name == victim_name {
            let mut bytes = fs::read(path).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            fs::write(path, bytes).unwrap();
        }
    });
    export_fails_cleanly(&fixture, &flipped, &[&nevra.name]);

    // Right name, other contents: a well-formed part RPM whose payload does not hash to the
    // name, and one whose size differs from the binding.
    for (case, contents) in [("part-lying", vec![b'x'; victim.size as usize]), ("part-short", b"short".to_vec())] {
        let (_lying_dir, lying) = copied(&fixture, case, |name, path| {
            if name == victim_name {
                let mut builder =
                    rpm::PackageBuilder::new(&nevra.name, &nevra.version, "Distributable", "noarch", "lying");
                builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
                builder.release("0");
                builder
                    .with_file_contents(
                        contents.clone(),
                        rpm::FileOptions::new(format!("/usr/lib/rejig/parts/{}", victim.content)),
                    )
                    .unwrap();
                fs::remove_file(path).unwrap();
                builder.build().unwrap().write_file(path).unwrap();
            }
        });
        export_fails_cleanly(&fixture, &lying, &[&label]);
    }

    // Undecodable: parts whose records are garbage, re-bound by an honest-looking head.
    let (jigdo, new) = fixture.parts();
    let mut garbage_head = fixture.head_of(&jigdo, &new);
    let written = rejig_exporter::jigdo::write_part_rpm(
        PartKind::Records,
        b"\x09garbage records".to_vec(),
        fixture.jigdo.parent().unwrap(),
    )
    .unwrap();
    let read =
        rejig_importer::jigdo::read_part(&written.path, rejig_importer::jigdo::Expect::Kind(PartKind::Records), None)
            .unwrap();
    garbage_head.parts.insert(0, read.part.clone());
    let undecodable = fixture.wrap("part-undecodable", &garbage_head.encode().unwrap(), &[], &fixture.provides());
    export_fails_cleanly(&fixture, &undecodable, &["jigdo records", "unknown record 9"]);
}

/// A delta part may stand in for packages only: one that carries content no package entry
/// names is refused, naming the content, by a client that holds the commit the delta is
/// from (the only client that fetches it), with nothing stored and no repository written.
#[test]
fn a_delta_part_carrying_other_content_is_refused_with_nothing_stored() {
    let fixture = Fixture::new();
    let client = Rejig::new();
    // The commit the hostile delta is "from": any commit the client holds as a root.
    let earlier = fixture.dir.path().join("earlier");
    let tree = fixture.dir.path().join("earlier-tree");
    fs::create_dir_all(tree.join("usr")).unwrap();
    fs::write(tree.join("usr/hello"), "hello\n").unwrap();
    util::ostree_init(&earlier, "archive");
    let from = util::ostree_commit(&earlier, "earlier", &tree, "earlier");
    client.json(&["import", "--repo", p(&earlier), "--rev", "earlier"]);

    let (jigdo, new) = fixture.parts();
    let mut head = fixture.head_of(&jigdo, &new);
    let stray = b"not the content of any package file".to_vec();
    let pieces = rejig_format::jigdo::encode_delta_records([stray.as_slice()]);
    let written = rejig_exporter::jigdo::write_part_rpm(
        PartKind::DeltaRecords,
        pieces[0].clone(),
        fixture.jigdo.parent().unwrap(),
    )
    .unwrap();
    let read = rejig_importer::jigdo::read_part(
        &written.path,
        rejig_importer::jigdo::Expect::Kind(PartKind::DeltaRecords),
        None,
    )
    .unwrap();
    head.parts.push(read.part);
    head.delta_from = Some(from.parse().unwrap());
    let hostile = fixture.wrap("delta-stray", &head.encode().unwrap(), &[], &fixture.provides());

    let before = client.fsck_clean();
    let repo = fixture.dir.path().join("repo-delta-stray");
    let out = client.fails(&["export", p(&hostile), "--packages", p(&fixture.packages), "--repo", p(&repo)]);
    let stray_id = rejig_format::BlobId::of(&stray).to_string();
    assert_stderr_mentions(&out, "a delta part carries content", "the refusal");
    assert_stderr_mentions(&out, &stray_id, "the content no package entry names");
    assert!(!repo.exists(), "a refused export created {}", repo.display());
    let after = client.fsck_clean();
    assert_eq!(before["blobs"], after["blobs"], "a refused delta left blobs in the store: {after}");
    assert_eq!(before["objects"], after["objects"], "a refused delta left objects in the store: {after}");

    // Without the delta's commit the client never fetches the part: the same jigdo exports.
    let fresh = Rejig::new();
    let fresh_repo = fixture.dir.path().join("repo-delta-ignored");
    let v = fresh.json(&["export", p(&hostile), "--packages", p(&fixture.packages), "--repo", p(&fresh_repo)]);
    assert_eq!(text(&v, "commit"), fixture.commit);
    assert_eq!(v["delta_used"], serde_json::Value::Bool(false), "{v}");
}

/// `export` of `jigdo` into a fresh repository with a store holding one unrelated package
/// fails naming `needles`, and leaves no repository and an unchanged store behind.
fn export_fails_cleanly(fixture: &Fixture, jigdo: &std::path::Path, needles: &[&str]) {
    let rejig = super::seeded_store();
    let before = rejig.fsck_clean();
    let repo = fixture.dir.path().join(format!("repo-{}", util::jigdo_fixture::rand_suffix()));
    let out = rejig.fails(&["export", p(jigdo), "--packages", p(&fixture.packages), "--repo", p(&repo)]);
    for needle in needles {
        assert_stderr_mentions(&out, needle, "the error must name the part and what is wrong");
    }
    assert!(!repo.exists(), "a refused export created {}", repo.display());
    let after = rejig.fsck_clean();
    assert_eq!(before["blobs"], after["blobs"], "a refused part left blobs in the store: {after}");
    assert_eq!(before["objects"], after["objects"], "a refused part left objects in the store: {after}");
}

#[test]
fn lying_tables_name_the_object_and_the_package() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);

    // An entry whose metadata does not give its checksum: the package content is right but
    // the object cannot be rebuilt. The error names the object and the package.
    let mut wrong_meta = jigdo.clone();
    let victim = wrong_meta
        .content
        .iter()
        .position(|e| matches!(e.source, ContentSource::Package { .. }))
        .expect("some content comes from a package");
    let entry = &mut wrong_meta.content[victim];
    let object = entry.object.to_hex();
    let ContentSource::Package { package, .. } = entry.source else { unreachable!() };
    let nevra = wrong_meta.packages[package as usize].nevra.to_string();
    let other_meta = (0..wrong_meta.metadata.len() as u32).find(|&m| m != entry.meta);
    match other_meta {
        Some(meta) => entry.meta = meta,
        None => {
            let mut meta = wrong_meta.metadata[entry.meta as usize].clone();
            meta = rejig_format::object::FileMeta::new(
                meta.uid() + 1,
                meta.gid(),
                meta.permissions(),
                meta.xattrs().clone(),
            )
            .unwrap();
            wrong_meta.metadata.push(meta);
            entry.meta = wrong_meta.metadata.len() as u32 - 1;
        }
    }
    let path = fixture.wrap("wrong-meta", &fixture.tables(&wrong_meta, &new), &files, &fixture.provides());
    fixture.export_fails(&path, &[&object, &nevra]);

    // A binding to a package nobody has: the header digest of one package is changed.
    let mut wrong_binding = jigdo.clone();
    let mut header = *wrong_binding.packages[0].header.as_bytes();
    header[0] ^= 0xff;
    wrong_binding.packages[0].header = rejig_format::HeaderSha256::from_bytes(header);
    let nevra = wrong_binding.packages[0].nevra.to_string();
    let path = fixture.wrap("wrong-binding", &fixture.tables(&wrong_binding, &new), &files, &fixture.provides());
    fixture.export_fails(&path, &[&nevra]);

    // A binding by file digest that the package file does not have.
    let mut wrong_file = jigdo.clone();
    let bound = wrong_file.packages.iter_mut().find(|p| p.file.is_some()).expect("build binds file digests");
    bound.file = Some(rejig_format::FileSha256::from_bytes([7; 32]));
    let nevra = bound.nevra.to_string();
    let path = fixture.wrap("wrong-file-digest", &fixture.tables(&wrong_file, &new), &files, &fixture.provides());
    fixture.export_fails(&path, &[&nevra, "SHA-256"]);
}

#[test]
fn a_missing_package_is_named_and_nothing_is_written() {
    let fixture = Fixture::new();
    let partial = fixture.dir.path().join("partial");
    fs::create_dir_all(&partial).unwrap();
    for entry in fs::read_dir(&fixture.packages).unwrap().skip(1) {
        let entry = entry.unwrap();
        fs::copy(entry.path(), partial.join(entry.file_name())).unwrap();
    }
    let missing = fs::read_dir(&fixture.packages).unwrap().next().unwrap().unwrap().file_name();
    let name = missing.to_string_lossy().split('-').next().unwrap().to_owned();
    let repo = fixture.dir.path().join("repo-missing");
    let out = Rejig::new().fails(&["export", p(&fixture.jigdo), "--packages", p(&partial), "--repo", p(&repo)]);
    assert_stderr_mentions(&out, &name, "the error names the package no source offers");
    assert!(!repo.exists(), "a failed export created the repository");
}
