//! `rejig demo`: the foundation's story on generated data, with no system tools needed.
//! It commits a generated tree into a store, exports it into archive and bare-user
//! repositories, re-imports it into a fresh store and exports it again bit-identically, then
//! commits an update and shows that only the changed objects are written.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use anyhow::{ensure, Context, Result};
use rejig_exporter::{export_commit, ExportOptions, ExportReport};
use rejig_importer::import_commit;
use rejig_importer::tree::{commit_directory, CommitOptions};
use rejig_store::object::VariantDict;
use rejig_store::{ObjectId, Progress, RepoMode};
use serde_json::json;

use crate::cli::DemoArgs;
use crate::report::{human_bytes, Rendered};

/// A small deterministic generator (splitmix64), so every run builds the same tree.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize, text: bool) -> Vec<u8> {
        const WORDS: [&str; 8] = ["ostree ", "commit ", "package ", "object ", "rejig ", "store ", "content ", "\n"];
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            let r = self.next();
            if text {
                out.extend_from_slice(WORDS.get((r % 8) as usize).copied().unwrap_or("x").as_bytes());
            } else {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
        out.truncate(len);
        out
    }
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", path.display()))
}

/// Lays out a small OS-like tree: binaries, libraries with symlinks, configuration,
/// documentation, a setuid helper, a private directory, an empty directory and a 3 MiB file.
fn generate_tree(root: &Path, seed: u64) -> Result<u64> {
    let mut mix = Mix(seed);
    let mut files = 0u64;
    for i in 0..40 {
        let size = 2_000 + (mix.next() % 60_000) as usize;
        write(&root.join(format!("usr/bin/tool{i}")), &mix.bytes(size, false), 0o755)?;
        files += 1;
    }
    for i in 0..30 {
        let size = 10_000 + (mix.next() % 200_000) as usize;
        let lib = format!("libdemo{i}.so.1.0");
        write(&root.join("usr/lib64").join(&lib), &mix.bytes(size, false), 0o755)?;
        symlink(&lib, root.join(format!("usr/lib64/libdemo{i}.so.1"))).context("symlink")?;
        files += 2;
    }
    for i in 0..120 {
        let size = (mix.next() % 8_000) as usize;
        write(&root.join(format!("usr/share/doc/demo/{}/README{i}", i % 12)), &mix.bytes(size, true), 0o644)?;
        files += 1;
    }
    for i in 0..25 {
        write(&root.join(format!("usr/etc/demo.d/{i:02}-setting.conf")), &mix.bytes(300, true), 0o644)?;
        files += 1;
    }
    write(&root.join("usr/libexec/demo-helper"), &mix.bytes(20_000, false), 0o4755)?;
    write(&root.join("usr/share/demo/large.bin"), &mix.bytes(3 << 20, false), 0o644)?;
    write(&root.join("usr/share/demo/empty"), b"", 0o644)?;
    write(&root.join("var/lib/demo/private/secret"), b"s3cret\n", 0o600)?;
    fs::set_permissions(root.join("var/lib/demo/private"), fs::Permissions::from_mode(0o700))?;
    fs::create_dir_all(root.join("var/empty"))?;
    symlink("usr/lib64", root.join("lib64")).context("symlink")?;
    Ok(files + 4)
}

fn options(subject: &str, version: &str, parent: Option<ObjectId>) -> Result<CommitOptions> {
    let mut metadata = VariantDict::new();
    metadata.push_string("version", version)?;
    Ok(CommitOptions { subject: subject.into(), body: String::new(), timestamp: 1_735_689_600, metadata, parent })
}

fn export(
    store: &rejig_store::Store,
    commit: ObjectId,
    repo: &Path,
    mode: RepoMode,
    progress: &dyn Progress,
) -> Result<ExportReport> {
    let options = ExportOptions { mode: Some(mode), ref_name: Some("demo/stable".into()), canonicalize: false };
    Ok(export_commit(store, commit, repo, &options, progress)?)
}

/// Runs the demo and returns its story.
pub fn run(args: &DemoArgs, quiet: bool, progress: &dyn Progress) -> Result<Rendered> {
    let temp;
    let dir = match &args.dir {
        Some(dir) => {
            fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let say = |line: String| {
        if !quiet {
            println!("{line}");
        }
    };
    let tree = dir.join("tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    let files = generate_tree(&tree, 2024)?;
    say(format!("1. generated a tree of {files} files and symlinks in {}", tree.display()));

    let build = crate::open_store(&dir.join("build-store"), quiet)?;
    let v1 = commit_directory(&build, &tree, &options("demo os", "1.0", None)?, progress)?;
    let v1_id = v1.commit.context("the commit has no id")?;
    say(format!(
        "2. committed it into a build store: commit {v1_id}, {} objects, {} raw in {} of packs",
        v1.objects_imported,
        human_bytes(v1.raw_bytes_written),
        human_bytes(v1.bytes_stored)
    ));

    let archive = dir.join("repo-archive");
    let bare_user = dir.join("repo-bare-user");
    let a = export(&build, v1_id, &archive, RepoMode::Archive, progress)?;
    let b = export(&build, v1_id, &bare_user, RepoMode::BareUser, progress)?;
    say(format!(
        "3. exported it into an archive repository ({} objects, {:.2}s) and a bare-user one ({:.2}s)",
        a.objects_written, a.seconds, b.seconds
    ));

    let edge = crate::open_store(&dir.join("edge-store"), quiet)?;
    let imported = import_commit(&edge, &archive, "demo/stable", progress)?;
    let again = export(&edge, v1_id, &dir.join("repo-edge"), RepoMode::BareUser, progress)?;
    ensure!(again.commit == v1_id, "re-exported commit {} differs from {v1_id}", again.commit);
    say(format!(
        "4. a fresh edge store imported {} objects from the archive repository (every checksum verified)\n   and exported the bit-identical commit {} into a new bare-user repository",
        imported.objects_imported, again.commit
    ));

    let mut mix = Mix(7);
    write(&tree.join("usr/bin/tool3"), &mix.bytes(30_000, false), 0o755)?;
    write(&tree.join("usr/etc/demo.d/00-setting.conf"), b"updated = true\n", 0o644)?;
    let v2 = commit_directory(&build, &tree, &options("demo os", "2.0", Some(v1_id))?, progress)?;
    let v2_id = v2.commit.context("the commit has no id")?;
    let update = export(&build, v2_id, &archive, RepoMode::Archive, progress)?;
    say(format!(
        "5. an update changing 2 files (commit {v2_id}) wrote {} of its {} objects ({}) into the archive repository",
        update.objects_written,
        update.objects_total,
        human_bytes(update.bytes_written)
    ));

    Ok(Rendered {
        text: format!(
            "demo complete in {}: v1 {v1_id} reproduced bit-identically; the v2 update wrote {} of {} objects",
            dir.display(),
            update.objects_written,
            update.objects_total
        ),
        json: json!({
            "dir": dir,
            "files": files,
            "v1": v1_id.to_hex(),
            "v2": v2_id.to_hex(),
            "v1_objects": a.objects_total,
            "reexported_commit": again.commit.to_hex(),
            "update_objects_written": update.objects_written,
            "update_objects_total": update.objects_total,
            "update_bytes_written": update.bytes_written,
        }),
    })
}
