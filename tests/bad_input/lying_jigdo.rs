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

use rejig_format::jigdo::{commit_provide, ContentSource, JIGDO_PROVIDE};
use util::jigdo_fixture::{new_files, Fixture};
use util::{assert_stderr_mentions, p, text, Rejig};

#[test]
fn the_honest_rewrap_exports_so_the_variants_test_what_they_change() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let rewrapped = fixture.wrap("honest", &jigdo.encode().unwrap(), &new_files(&new), &fixture.provides());
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
    let tables = jigdo.encode().unwrap();
    let files = new_files(&new);

    // A commit that does not match its Provides.
    let other = "ab".repeat(32);
    let wrong_provide =
        fixture.wrap("wrong-provide", &tables, &files, &[JIGDO_PROVIDE.to_owned(), format!("rejig-commit({other})")]);
    fixture.export_fails(&wrong_provide, &["rejig-commit", &other]);

    // Not a jigdo at all: no rejig-jigdo(1).
    let not_jigdo = fixture.wrap("not-jigdo", &tables, &files, &[commit_provide(&jigdo.commit)]);
    fixture.export_fails(&not_jigdo, &[JIGDO_PROVIDE]);

    // New content that does not hash to its name.
    let mut lying = files.clone();
    lying[0].1.push(b'!');
    let lying_new = fixture.wrap("lying-new", &tables, &lying, &fixture.provides());
    fixture.export_fails(&lying_new, &["hashes to", &lying[0].0]);

    // A file the format does not define.
    let mut extra = files.clone();
    extra.push(("payload-extra".to_owned(), b"x".to_vec()));
    let extra_file = fixture.wrap("extra-file", &tables, &extra, &fixture.provides());
    fixture.export_fails(&extra_file, &["unexpected file"]);

    // New content the tables need but the payload lacks.
    let missing_new = fixture.wrap("missing-new", &tables, &[], &fixture.provides());
    fixture.export_fails(&missing_new, &["lacks"]);

    // Tables that are not tables.
    let garbage = fixture.wrap("garbage", b"\x10\0\0\0\0\0\0\0not zstd", &files, &fixture.provides());
    fixture.export_fails(&garbage, &["jigdo tables"]);
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
    let path = fixture.wrap("wrong-meta", &wrong_meta.encode().unwrap(), &files, &fixture.provides());
    fixture.export_fails(&path, &[&object, &nevra]);

    // A binding to a package nobody has: the header digest of one package is changed.
    let mut wrong_binding = jigdo.clone();
    let mut header = *wrong_binding.packages[0].header.as_bytes();
    header[0] ^= 0xff;
    wrong_binding.packages[0].header = rejig_format::HeaderSha256::from_bytes(header);
    let nevra = wrong_binding.packages[0].nevra.to_string();
    let path = fixture.wrap("wrong-binding", &wrong_binding.encode().unwrap(), &files, &fixture.provides());
    fixture.export_fails(&path, &[&nevra]);

    // A binding by file digest that the package file does not have.
    let mut wrong_file = jigdo.clone();
    let bound = wrong_file.packages.iter_mut().find(|p| p.file.is_some()).expect("build binds file digests");
    bound.file = Some(rejig_format::FileSha256::from_bytes([7; 32]));
    let nevra = bound.nevra.to_string();
    let path = fixture.wrap("wrong-file-digest", &wrong_file.encode().unwrap(), &files, &fixture.provides());
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
