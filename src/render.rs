//! Renders the core's reports: text for people, one function per report, and JSON for
//! scripts, serialised from the report itself.

use anyhow::{Context, Result};
use rejig::build::BuildReport;
use rejig::demo::{DemoReport, REF, REMODED};
use rejig::export::ExportCommitReport;
use rejig::fsck::FsckReport;
use rejig::gc::GcReport;
use rejig::import::{ImportCommitReport, ImportPackagesReport};
use rejig::init::InitReport;
use rejig::inspect::{InspectReport, JigdoSummary, PackageSummary};
use rejig::rebuild::{PlanReport, RebuildReport};
use rejig::remote::{Remote, RemoteList};
use rejig::upgrade::{UpgradeReport, UpgradeStatus};
use serde::Serialize;
use serde_json::Value;

/// A rendered report: text for a terminal, JSON for `--json`.
pub struct Rendered {
    /// Human-readable lines.
    pub text: String,
    /// The machine-readable object.
    pub json: Value,
}

impl Rendered {
    /// Renders `report` as text with `text`, and as JSON. The JSON goes through a
    /// [`serde_json::Value`], whose objects keep their keys sorted: the order scripts and
    /// tests have always seen.
    pub fn of<T: Serialize>(report: &T, text: fn(&T) -> String) -> Result<Self> {
        let json = serde_json::to_value(report).context("rendering the report as JSON")?;
        Ok(Self { text: text(report), json })
    }
}

/// Bytes as a short human figure.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
    }
}

/// `rejig import --repo`.
pub fn import_commit(report: &ImportCommitReport) -> String {
    let commit = report.commit.map(|c| c.to_hex()).unwrap_or_default();
    format!(
        "imported commit {commit}\n  objects: {} total, {} new, {} already in the store\n  stored: {} blobs, {} raw in {} of packs, {:.2}s",
        report.objects_total,
        report.objects_imported,
        report.objects_skipped,
        report.blobs_written,
        human_bytes(report.raw_bytes_written),
        human_bytes(report.bytes_stored),
        report.seconds
    )
}

/// `rejig export COMMIT`.
pub fn export(report: &ExportCommitReport) -> String {
    let rewritten = if report.commit != report.source_commit {
        format!(" (canonicalised from {})", report.source_commit)
    } else {
        String::new()
    };
    format!(
        "exported commit {}{rewritten} into {} ({} mode)\n  objects: {} total, {} written, {} already there; {} of content written in {:.2}s",
        report.commit,
        report.repo.display(),
        report.mode,
        report.objects_total,
        report.objects_written,
        report.objects_reused,
        human_bytes(report.bytes_written),
        report.seconds
    )
}

/// `rejig fsck [--repair]`.
pub fn fsck(report: &FsckReport) -> String {
    let check = &report.check;
    let mut text = String::new();
    if let Some(repair) = &report.repaired {
        text.push_str(&format!(
            "rebuilt the index from {} packs: {} objects, {} blobs, {} roots\n",
            repair.packs_indexed, repair.stats.objects, repair.stats.blobs, repair.stats.roots
        ));
        for skipped in &repair.packs_skipped {
            text.push_str(&format!("  skipped unreadable pack: {skipped}\n"));
        }
        for damaged in repair.blobs_damaged.iter().chain(&repair.objects_damaged) {
            text.push_str(&format!(
                "  dropped damaged {damaged} (the next import or export that supplies it stores it again)\n"
            ));
        }
        if let Some(aside) = &repair.damaged_index_moved_to {
            text.push_str(&format!("  the untrusted index was kept as {}\n", aside.display()));
        }
    }
    text.push_str(&format!(
        "checked {} packs, {} blobs, {} objects, {} package manifests ({})",
        check.packs,
        check.blobs,
        check.objects,
        check.packages,
        human_bytes(check.bytes)
    ));
    if !check.unreferenced_packs.is_empty() {
        text.push_str(&format!(
            "\n  {} pack(s) not in the index (left by an interrupted write; `rejig fsck --repair` indexes them)",
            check.unreferenced_packs.len()
        ));
    }
    if check.problems.is_empty() {
        text.push_str("\n  no problems found");
    } else {
        text.push_str(&format!("\n  {} problem(s):", check.problems.len()));
        for problem in &check.problems {
            text.push_str(&format!("\n  - {problem}"));
        }
    }
    text
}

/// `rejig import PKG...`.
pub fn import_packages(report: &ImportPackagesReport) -> String {
    let mut text = format!(
        "imported {} packages ({} already in the store): {} of new content in {} of packs, {:.2}s",
        report.packages_imported,
        report.packages_skipped,
        human_bytes(report.raw_bytes_written),
        human_bytes(report.bytes_stored),
        report.imported.seconds
    );
    for (_, error) in &report.imported.failures {
        text.push_str(&format!("\n  failed: {error}"));
    }
    text
}

/// `rejig inspect FILE`.
pub fn inspect(report: &InspectReport) -> String {
    match report {
        InspectReport::Package(summary) => inspect_package(summary),
        InspectReport::Jigdo(summary) => inspect_jigdo(summary),
    }
}

fn inspect_package(summary: &PackageSummary) -> String {
    let info = &summary.info;
    let status = |verified: bool, otherwise: &str| match verified {
        true => "verified".to_owned(),
        false => otherwise.to_owned(),
    };
    let files = &info.files;
    format!(
        "{}\n  header sha256 {} ({})\n  payload: {}, {} in the file, {} unpacked; payload digest {}\n  files: {} regular, {} directories, {} symlinks, {} ghosts, {} special, {} hardlink sets; {} installed\n  file digests: {} {} verified",
        info.nevra,
        info.header_sha256,
        status(info.header_digest_verified, "computed; the package records none"),
        info.compression,
        human_bytes(info.file_bytes),
        human_bytes(info.archive_bytes),
        status(info.payload_digest_verified, "absent"),
        files.regular,
        files.directories,
        files.symlinks,
        files.ghosts,
        files.special,
        files.hardlink_sets,
        human_bytes(info.installed_bytes),
        info.file_digests_verified,
        info.digest_algo,
    )
}

fn inspect_jigdo(jigdo: &JigdoSummary) -> String {
    let n = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_else(|| "?".to_owned());
    let mut text = format!(
        "jigdo {} ({})\n  commit {}{}\n  objects: {} content ({} from packages, {} new, {} symlinks), {} dirtrees, {} dirmetas\n  new content: {} in {} blobs\n  parts: {} ({}), {} beside the jigdo\n  packages: {}",
        jigdo.nevra,
        human_bytes(jigdo.file_bytes),
        jigdo.commit,
        jigdo.version.as_ref().map(|v| format!(" (version {v})")).unwrap_or_default(),
        n(jigdo.objects_total),
        n(jigdo.objects_from_packages),
        n(jigdo.objects_new),
        n(jigdo.objects_symlink),
        n(jigdo.dirtrees),
        n(jigdo.dirmetas),
        jigdo.new_bytes.map(human_bytes).unwrap_or_else(|| "?".to_owned()),
        n(jigdo.new_blobs),
        jigdo.parts.len(),
        human_bytes(jigdo.parts_bytes),
        jigdo.parts.iter().filter(|p| p.present).count(),
        jigdo.packages.len()
    );
    if jigdo.objects_total.is_none() {
        text.push_str("\n  (object counts need every records part beside the jigdo)");
    }
    if let Some(from) = &jigdo.delta_from {
        text.push_str(&format!("\n  delta parts: the package files new since commit {from}"));
    }
    for part in &jigdo.parts {
        let missing = if part.present { "" } else { " (not beside the jigdo)" };
        text.push_str(&format!("\n    part {} {} {}{missing}", part.nevra, part.kind, human_bytes(part.file_bytes)));
    }
    for package in &jigdo.packages {
        text.push_str(&format!("\n    {package}"));
    }
    text
}

/// `rejig build`.
pub fn build(report: &BuildReport) -> String {
    let delta = match report.stats.bytes_delta {
        0 => String::new(),
        bytes => format!(", {} changed since --delta-from (in delta parts)", human_bytes(bytes)),
    };
    format!(
        "wrote {} ({}) for commit {}\n  objects: {} total, {} from packages, {} new, {} symlinks\n  content: {} from packages, {} new (carried in parts){}\n  packages: {} used, {} unused of {} offered\n  parts: {} total ({}), {} new written ({}); {:.2}s",
        report.output.display(),
        human_bytes(report.jigdo_bytes),
        report.commit,
        report.stats.objects_total,
        report.stats.objects_from_packages,
        report.stats.objects_new,
        report.stats.objects_symlink,
        human_bytes(report.stats.bytes_from_packages),
        human_bytes(report.stats.bytes_new),
        delta,
        report.stats.packages_used.len(),
        report.stats.packages_unused.len(),
        report.packages_offered,
        report.parts_total,
        human_bytes(report.parts_bytes),
        report.parts_new,
        human_bytes(report.parts_new_bytes),
        report.seconds
    )
}

/// `rejig export JIGDO.rpm`.
pub fn rebuild(report: &RebuildReport) -> String {
    let export = &report.export;
    let delta = if report.parts.delta_used {
        format!(" ({} delta parts instead of changed packages)", report.parts.delta_parts_fetched)
    } else {
        String::new()
    };
    format!(
        "rebuilt commit {} from its jigdo into {} ({} mode)\n  parts: {} needed of {}, {} fetched ({}, {} downloaded){}\n  packages: {} needed of {}, {} fetched ({}, {} downloaded)\n  content objects: {}, {} already in the store\n  repository: {} objects, {} written, {} already there; {:.2}s",
        report.jigdo_commit,
        export.repo.display(),
        export.mode,
        report.parts.parts_fetched,
        report.parts.parts_total,
        report.parts.parts_fetched,
        human_bytes(report.parts.part_bytes_fetched),
        human_bytes(report.parts.part_bytes_downloaded),
        delta,
        report.packages_needed,
        report.packages_total,
        report.packages_fetched,
        human_bytes(report.bytes_fetched),
        human_bytes(report.bytes_downloaded),
        report.content_objects,
        report.objects_present,
        export.objects_total,
        match report.objects_written_at_import {
            0 => report.objects_written.to_string(),
            at_import => format!("{} ({at_import} straight from the packages)", report.objects_written),
        },
        report.objects_reused,
        report.seconds
    )
}

/// `rejig plan`.
pub fn plan(report: &PlanReport) -> String {
    let mut text = format!(
        "commit {}: {} of {} packages needed, {} to fetch; {} of {} objects already in the store",
        report.commit,
        report.packages_needed,
        report.packages_total,
        human_bytes(report.bytes_to_fetch),
        report.objects_present,
        report.objects_total
    );
    text.push_str(&format!(
        "\n  parts: {} of {} to fetch, {}",
        report.parts_needed,
        report.parts_total,
        human_bytes(report.part_bytes_to_fetch)
    ));
    for part in &report.parts {
        let location = part.location.as_deref().unwrap_or("NOT OFFERED by any source");
        text.push_str(&format!("\n  part {} {} ({}) {location}", part.nevra, part.kind, human_bytes(part.size)));
    }
    for package in &report.needed {
        let location = package.location.as_deref().unwrap_or("NOT OFFERED by any source");
        text.push_str(&format!("\n  {} ({}) {location}", package.nevra, human_bytes(package.size.unwrap_or(0))));
    }
    text
}

/// `rejig mirror prune`.
pub fn mirror_prune(report: &rejig::mirror::PruneReport) -> String {
    let verb = if report.dry_run { "would delete" } else { "deleted" };
    let mut text = format!(
        "{}: kept {} jigdos and {} parts; {verb} {} jigdos and {} parts ({})",
        report.dir.display(),
        report.jigdos_kept.len(),
        report.parts_kept,
        report.jigdos_deleted.len(),
        report.parts_deleted,
        human_bytes(report.bytes_deleted)
    );
    for jigdo in &report.jigdos_deleted {
        text.push_str(&format!("\n  {verb} {jigdo}"));
    }
    if report.parts_missing > 0 {
        text.push_str(&format!(
            "\n  {} parts the kept jigdos need are missing from the directory",
            report.parts_missing
        ));
    }
    if !report.next.is_empty() {
        text.push_str(&format!("\nnext: {}", report.next));
    }
    text
}

/// `rejig gc`.
pub fn init(report: &InitReport) -> String {
    match &report.backed_by {
        Some(repo) => format!(
            "store {} is backed by {}: what is exported there is read back from it, not kept twice",
            report.store.display(),
            repo.display()
        ),
        None => format!("store {} is ready", report.store.display()),
    }
}

/// Text for `gc`.
pub fn gc(report: &GcReport) -> String {
    let gc = &report.collected;
    let mut text = format!(
        "freed {} ({} of packs left): kept {} roots, dropped {}\n  removed {} objects, {} blobs, {} packages; {} packs rewritten, {} deleted; {:.2}s",
        human_bytes(report.bytes_freed),
        human_bytes(gc.bytes_after),
        gc.roots_kept.len(),
        gc.roots_dropped.len() + gc.roots_broken.len(),
        gc.objects_removed,
        gc.blobs_removed,
        gc.packages_removed,
        gc.packs_rewritten,
        gc.packs_deleted,
        report.seconds
    );
    if gc.packs_folded > 0 {
        text.push_str(&format!("\n  folded {} small packs; {} packs written", gc.packs_folded, gc.packs_written));
    }
    for (root, error) in &gc.roots_broken {
        text.push_str(&format!("\n  dropped incomplete root {}: {error}", root.id));
    }
    if gc.over_budget {
        text.push_str("\n  the newest root alone needs more than --max-size; it was kept");
    }
    text
}

/// A jigdo as the demo describes it.
fn describe(build: &BuildReport) -> String {
    format!(
        "jigdo {} ({}): {} content objects, {} from {} packages, {} carried new, {} symlinks",
        build.output.display(),
        human_bytes(build.jigdo_bytes),
        build.stats.objects_total,
        build.stats.objects_from_packages,
        build.stats.packages_used.len(),
        build.stats.objects_new,
        build.stats.objects_symlink
    )
}

/// `rejig demo`: the story, step by step, then the summary.
pub fn demo(report: &DemoReport) -> String {
    let steps = &report.steps;
    let (jigdo1, jigdo2, got1, got2) = (&steps.jigdo1, &steps.jigdo2, &steps.got1, &steps.got2);
    let repo = report.repo.display();
    let total = report.packages_total;
    let changed = &report.packages_changed;
    let kept_packages = got2.packages_total - got2.packages_fetched;
    let place =
        if steps.kept { report.dir.display().to_string() } else { "a temporary directory (--dir keeps it)".to_owned() };
    let lines = [
        format!(
            "1. built a distro of {total} packages ({} files, {} of content) with the rpm crate:\n   {} of RPMs in {}",
            report.files,
            human_bytes(steps.content_bytes),
            human_bytes(steps.rpm_bytes),
            steps.v1_packages.display()
        ),
        format!(
            "2. composed it into a tree (/etc moved to /usr/etc, a generated /usr/lib/os-release no package holds,\n   \
             {REMODED} re-moded 4755 -> 0755) and committed it into a build store:\n   \
             commit {} (version 1), {} objects",
            report.v1, steps.v1_objects
        ),
        format!("3. described the commit by its packages as a jigdo RPM:\n   {}", describe(jigdo1)),
        format!(
            "4. a separate client store rebuilt the commit from the jigdo and the packages into {repo} (bare-user):\n   \
             fetched {} of {} packages ({}), wrote {} objects;\n   commit {} is the build's, bit for bit",
            got1.packages_fetched,
            got1.packages_total,
            human_bytes(got1.bytes_fetched),
            got1.export.objects_written,
            got1.jigdo_commit
        ),
        format!(
            "5. v2 rebuilt {} with new content;\n   the other {} packages are byte-identical rebuilds;\n   \
             v2 is commit {} (parent v1)\n   {}",
            changed.join(" and "),
            total - changed.len(),
            report.v2,
            describe(jigdo2)
        ),
        format!(
            "6. the same client updated {repo} to v2: fetched {} of {} packages ({});\n   \
             {} of the {} content objects were already in its store; wrote {} objects ({}) and moved {REF}",
            got2.packages_fetched,
            got2.packages_total,
            human_bytes(got2.bytes_fetched),
            got2.objects_present,
            jigdo2.stats.objects_total,
            got2.export.objects_written,
            human_bytes(got2.export.bytes_written)
        ),
        format!(
            "demo complete in {place}, {:.1}s:\n  \
             v1: fetched {} of {} packages ({}), wrote {} objects; jigdo {}\n  \
             v2: fetched {} of {} packages ({}), wrote {} objects — {kept_packages} packages' content was already \
             in the store; jigdo {}",
            report.seconds,
            got1.packages_fetched,
            got1.packages_total,
            human_bytes(got1.bytes_fetched),
            got1.export.objects_written,
            human_bytes(jigdo1.jigdo_bytes),
            got2.packages_fetched,
            got2.packages_total,
            human_bytes(got2.bytes_fetched),
            got2.export.objects_written,
            human_bytes(jigdo2.jigdo_bytes),
        ),
    ];
    lines.join("\n")
}

fn remote_lines(remote: &Remote) -> String {
    let keys = if remote.gpgcheck {
        let mut keys: Vec<String> = remote.gpgkeys.iter().map(|k| format!("gpgkey {}", k.display())).collect();
        keys.extend(remote.ed25519_keys.iter().map(|k| format!("ed25519 key {}", k.display())));
        keys.join(", ")
    } else {
        "not verified (--no-verify)".to_owned()
    };
    format!("{}: jigdo {} from {}\n  {keys}", remote.name, remote.jigdo, remote.baseurls.join(" "))
}

/// `rejig remote add`.
pub fn remote_added(remote: &Remote) -> String {
    format!("added remote {}\n  written to {}", remote_lines(remote), remote.file.display())
}

/// `rejig remote delete`.
pub fn remote_deleted(remote: &Remote) -> String {
    format!("deleted remote {} ({})", remote.name, remote.file.display())
}

/// `rejig remote list`.
pub fn remote_list(list: &RemoteList) -> String {
    if list.remotes.is_empty() {
        return format!("no remotes in {}", list.dir.join("remotes.d").display());
    }
    list.remotes.iter().map(remote_lines).collect::<Vec<_>>().join("\n")
}

/// `rejig upgrade`.
pub fn upgrade(report: &UpgradeReport) -> String {
    let mut out = match report.status {
        UpgradeStatus::UpToDate => {
            format!(
                "{} is up to date: {} ({}) from remote {}",
                report.ref_name, report.commit, report.jigdo, report.remote
            )
        }
        UpgradeStatus::Available => format!(
            "update available for {}: {} → {} (version {}, {})",
            report.ref_name,
            report.previous_commit.map(|c| c.to_hex()).unwrap_or_else(|| "nothing".into()),
            report.commit,
            report.version,
            report.jigdo
        ),
        UpgradeStatus::Upgraded => format!(
            "upgraded {}: {} → {} (version {}, {})",
            report.ref_name,
            report.previous_commit.map(|c| c.to_hex()).unwrap_or_else(|| "nothing".into()),
            report.commit,
            report.version,
            report.jigdo
        ),
    };
    match &report.signature {
        Some(signature) => {
            out += &format!(
                "\n  signed by key {} ({}), {}",
                signature.signer.fingerprint,
                signature.signer.key_file.display(),
                signature.tags.join(" + ")
            )
        }
        None if report.status != UpgradeStatus::UpToDate => {
            out += "\n  not verified: the remote was added with --no-verify"
        }
        None => {}
    }
    if let Some(commit) = &report.commit_signatures {
        if let Some(gpg) = &commit.gpg {
            out += &format!("\n  commit signed (ostree.gpgsigs) by key {}", gpg.fingerprint);
        }
        if let Some(file) = &commit.ed25519_key_file {
            out += &format!("\n  commit signed (ostree.sign.ed25519) by a key of {}", file.display());
        }
    }
    if let Some(plan) = &report.plan {
        out += &format!(
            "\n  would fetch {} of {} parts, {}, and {} of {} packages, {}",
            plan.parts_needed,
            plan.parts_total,
            human_bytes(plan.part_bytes_to_fetch),
            plan.packages_needed,
            plan.packages_total,
            human_bytes(plan.bytes_to_fetch)
        );
        for part in &plan.parts {
            out += &format!("\n    {} {} ({})", part.nevra, part.kind, human_bytes(part.size));
        }
        for package in &plan.needed {
            let size = package.size.map(human_bytes).unwrap_or_else(|| "size unknown".into());
            out += &format!("\n    {} ({size})", package.nevra);
        }
    }
    if let Some(export) = &report.export {
        out += &format!("\n{}", rebuild(export));
    }
    if report.deployed {
        out += "\n  deployed: the new tree boots on restart";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_as_short_figures() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
