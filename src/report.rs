//! Renders library reports for people (text) and scripts (one JSON object).

use rejig_exporter::ExportReport;
use rejig_format::jigdo::ContentSource;
use rejig_format::object::Commit;
use rejig_importer::jigdo::JigdoFile;

use crate::build::BuildReport;
use crate::rebuild::{PlanReport, RebuildReport};
use rejig_importer::package::{PackageInfo, PackagesReport};
use rejig_importer::ImportReport;
use rejig_store::fsck::{FsckReport, RepairReport};
use rejig_store::gc::GcReport;
use serde_json::{json, Value};

/// A rendered result: text for a terminal, JSON for `--json`.
pub struct Rendered {
    /// Human-readable lines.
    pub text: String,
    /// The machine-readable object.
    pub json: Value,
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
pub fn import(report: &ImportReport) -> Rendered {
    let commit = report.commit.map(|c| c.to_hex()).unwrap_or_default();
    Rendered {
        text: format!(
            "imported commit {commit}\n  objects: {} total, {} new, {} already in the store\n  stored: {} blobs, {} raw in {} of packs, {:.2}s",
            report.objects_total,
            report.objects_imported,
            report.objects_skipped,
            report.blobs_written,
            human_bytes(report.raw_bytes_written),
            human_bytes(report.bytes_stored),
            report.seconds
        ),
        json: json!({
            "commit": commit,
            "objects_total": report.objects_total,
            "objects_imported": report.objects_imported,
            "objects_skipped": report.objects_skipped,
            "blobs_written": report.blobs_written,
            "raw_bytes_written": report.raw_bytes_written,
            "bytes_stored": report.bytes_stored,
            "seconds": report.seconds,
        }),
    }
}

/// `rejig export`.
pub fn export(report: &ExportReport) -> Rendered {
    let rewritten = if report.commit != report.source_commit {
        format!(" (canonicalised from {})", report.source_commit)
    } else {
        String::new()
    };
    Rendered {
        text: format!(
            "exported commit {}{rewritten} into {} ({} mode)\n  objects: {} total, {} written, {} already there; {} of content written in {:.2}s",
            report.commit,
            report.repo.display(),
            report.mode,
            report.objects_total,
            report.objects_written,
            report.objects_reused,
            human_bytes(report.bytes_written),
            report.seconds
        ),
        json: json!({
            "commit": report.commit.to_hex(),
            "source_commit": report.source_commit.to_hex(),
            "mode": report.mode.name(),
            "objects_total": report.objects_total,
            "objects_written": report.objects_written,
            "objects_reused": report.objects_reused,
            "bytes_written": report.bytes_written,
            "seconds": report.seconds,
        }),
    }
}

/// `rejig fsck [--repair]`.
pub fn fsck(report: &FsckReport, repair: Option<&RepairReport>) -> Rendered {
    let mut text = String::new();
    if let Some(repair) = repair {
        text.push_str(&format!(
            "rebuilt the index from {} packs: {} objects, {} blobs, {} roots\n",
            repair.packs_indexed, repair.stats.objects, repair.stats.blobs, repair.stats.roots
        ));
        for skipped in &repair.packs_skipped {
            text.push_str(&format!("  skipped unreadable pack: {skipped}\n"));
        }
    }
    text.push_str(&format!(
        "checked {} packs, {} blobs, {} objects, {} package manifests ({})",
        report.packs,
        report.blobs,
        report.objects,
        report.packages,
        human_bytes(report.bytes)
    ));
    if !report.unreferenced_packs.is_empty() {
        text.push_str(&format!(
            "\n  {} pack(s) not in the index (left by an interrupted write; `rejig fsck --repair` indexes them)",
            report.unreferenced_packs.len()
        ));
    }
    if report.problems.is_empty() {
        text.push_str("\n  no problems found");
    } else {
        text.push_str(&format!("\n  {} problem(s):", report.problems.len()));
        for problem in &report.problems {
            text.push_str(&format!("\n  - {problem}"));
        }
    }
    Rendered {
        text,
        json: json!({
            "packs": report.packs,
            "blobs": report.blobs,
            "objects": report.objects,
            "packages": report.packages,
            "bytes": report.bytes,
            "unreferenced_packs": report.unreferenced_packs.iter().map(|p| p.to_hex()).collect::<Vec<_>>(),
            "problems": report.problems,
            "repaired": repair.map(|r| json!({
                "packs_indexed": r.packs_indexed,
                "packs_skipped": r.packs_skipped,
            })),
        }),
    }
}

/// `rejig import PKG...`.
pub fn packages(report: &PackagesReport) -> Rendered {
    let imported: Vec<_> = report.packages.iter().filter(|p| !p.skipped).collect();
    let raw: u64 = imported.iter().map(|p| p.raw_bytes).sum();
    let stored: u64 = imported.iter().map(|p| p.pack_bytes).sum();
    let mut text = format!(
        "imported {} packages ({} already in the store): {} of new content in {} of packs, {:.2}s",
        imported.len(),
        report.packages.len() - imported.len(),
        human_bytes(raw),
        human_bytes(stored),
        report.seconds
    );
    for (_, error) in &report.failures {
        text.push_str(&format!("\n  failed: {error}"));
    }
    Rendered {
        text,
        json: json!({
            "packages_imported": imported.len(),
            "packages_skipped": report.packages.len() - imported.len(),
            "raw_bytes_written": raw,
            "bytes_stored": stored,
            "seconds": report.seconds,
            "packages": report.packages.iter().map(|p| json!({
                "path": p.path,
                "nevra": p.nevra.to_string(),
                "header_sha256": p.header_sha256,
                "skipped": p.skipped,
                "files": p.files,
                "raw_bytes_written": p.raw_bytes,
                "bytes_stored": p.pack_bytes,
            })).collect::<Vec<_>>(),
            "failures": report.failures.iter().map(|(path, error)| json!({"path": path, "error": error})).collect::<Vec<_>>(),
        }),
    }
}

/// `rejig inspect PKG`.
pub fn inspect(info: &PackageInfo) -> Rendered {
    let status = |ok: bool, absent: &str| if ok { "verified".to_owned() } else { absent.to_owned() };
    Rendered {
        text: format!(
            "{}\n  header sha256 {} ({})\n  payload: {}, {} in the file, {} unpacked; payload digest {}\n  files: {} regular, {} directories, {} symlinks, {} ghosts, {} special, {} hardlink sets; {} installed\n  file digests: {} {} verified",
            info.nevra,
            info.header_sha256,
            status(info.header_digest_verified, "computed; the package records none"),
            info.compression,
            human_bytes(info.file_bytes),
            human_bytes(info.archive_bytes),
            status(info.payload_digest_verified, "absent"),
            info.regular,
            info.directories,
            info.symlinks,
            info.ghosts,
            info.special,
            info.hardlink_sets,
            human_bytes(info.installed_bytes),
            info.file_digests_verified,
            info.digest_algo,
        ),
        json: json!({
            "kind": "package",
            "nevra": info.nevra.to_string(),
            "name": info.nevra.name,
            "epoch": info.nevra.epoch,
            "version": info.nevra.version,
            "release": info.nevra.release,
            "arch": info.nevra.arch,
            "header_sha256": info.header_sha256,
            "file_sha256": info.file_sha256,
            "header_digest": if info.header_digest_verified { "verified" } else { "computed" },
            "payload_digest": if info.payload_digest_verified { "verified" } else { "absent" },
            "digest_algo": info.digest_algo,
            "file_digests_verified": info.file_digests_verified,
            "compression": info.compression,
            "files": {
                "regular": info.regular,
                "directories": info.directories,
                "symlinks": info.symlinks,
                "ghosts": info.ghosts,
                "special": info.special,
                "hardlink_sets": info.hardlink_sets,
            },
            "installed_bytes": info.installed_bytes,
            "file_bytes": info.file_bytes,
            "archive_bytes": info.archive_bytes,
        }),
    }
}

/// `rejig build`.
pub fn build(report: &BuildReport) -> Rendered {
    let s = &report.stats;
    let nevras = |list: &[rejig_format::manifest::Nevra]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
    Rendered {
        text: format!(
            "wrote {} ({}) for commit {}\n  objects: {} total, {} from packages, {} new, {} symlinks\n  content: {} from packages, {} new (carried in the jigdo)\n  packages: {} used, {} unused of {} offered; {:.2}s",
            report.rpm.path.display(),
            human_bytes(report.rpm.bytes),
            report.commit,
            s.objects_total,
            s.objects_from_packages,
            s.objects_new,
            s.objects_symlink,
            human_bytes(s.bytes_from_packages),
            human_bytes(s.bytes_new),
            s.packages_used.len(),
            s.packages_unused.len(),
            report.packages_offered,
            report.seconds
        ),
        json: json!({
            "commit": report.commit.to_hex(),
            "output": report.rpm.path,
            "nevra": format!("{}-{}-{}.noarch", report.rpm.name, report.rpm.version, report.rpm.release),
            "objects_total": s.objects_total,
            "objects_from_packages": s.objects_from_packages,
            "objects_new": s.objects_new,
            "objects_symlink": s.objects_symlink,
            "bytes_from_packages": s.bytes_from_packages,
            "bytes_new": s.bytes_new,
            "packages_used": s.packages_used.len(),
            "packages_unused": s.packages_unused.len(),
            "unused": nevras(&s.packages_unused),
            "jigdo_bytes": report.rpm.bytes,
            "seconds": report.seconds,
        }),
    }
}

/// `rejig export JIGDO.rpm`.
pub fn rebuild(report: &RebuildReport) -> Rendered {
    let export = &report.export;
    Rendered {
        text: format!(
            "rebuilt commit {} from its jigdo into {} ({} mode)\n  packages: {} needed of {}, {} fetched ({}, {} downloaded)\n  content objects: {}, {} already in the store\n  repository: {} objects, {} written, {} already there; {:.2}s",
            report.commit,
            export.repo.display(),
            export.mode,
            report.packages_needed,
            report.packages_total,
            report.packages_fetched,
            human_bytes(report.bytes_fetched),
            human_bytes(report.bytes_downloaded),
            report.content_objects,
            report.objects_present,
            export.objects_total,
            export.objects_written,
            export.objects_reused,
            report.seconds
        ),
        json: json!({
            "commit": export.commit.to_hex(),
            "repo": export.repo,
            "mode": export.mode.to_string(),
            "packages_total": report.packages_total,
            "packages_needed": report.packages_needed,
            "packages_fetched": report.packages_fetched,
            "bytes_fetched": report.bytes_fetched,
            "bytes_downloaded": report.bytes_downloaded,
            "objects_total": export.objects_total,
            "content_objects": report.content_objects,
            "content_objects_in_store": report.objects_present,
            "objects_written": export.objects_written,
            "objects_reused": export.objects_reused,
            "seconds": report.seconds,
        }),
    }
}

/// `rejig plan`.
pub fn plan(report: &PlanReport) -> Rendered {
    let mut text = format!(
        "commit {}: {} of {} packages needed, {} to fetch; {} of {} objects already in the store",
        report.commit,
        report.needed.len(),
        report.packages_total,
        human_bytes(report.bytes_to_fetch()),
        report.objects_present,
        report.objects_total
    );
    for package in &report.needed {
        let location = package.location.as_deref().unwrap_or("NOT OFFERED by any source");
        text.push_str(&format!("\n  {} ({}) {location}", package.nevra, human_bytes(package.size.unwrap_or(0))));
    }
    Rendered {
        text,
        json: json!({
            "commit": report.commit.to_hex(),
            "packages_total": report.packages_total,
            "packages_needed": report.needed.len(),
            "bytes_to_fetch": report.bytes_to_fetch(),
            "content_objects": report.objects_total,
            "content_objects_in_store": report.objects_present,
            "packages": report.needed.iter().map(|p| json!({
                "nevra": p.nevra.to_string(),
                "size": p.size,
                "location": p.location,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// `rejig inspect JIGDO.rpm`.
pub fn inspect_jigdo(file: &JigdoFile) -> Rendered {
    let jigdo = &file.jigdo;
    let count = |f: &dyn Fn(&ContentSource) -> bool| jigdo.content.iter().filter(|e| f(&e.source)).count();
    let from_packages = count(&|s| matches!(s, ContentSource::Package { .. }));
    let new = count(&|s| matches!(s, ContentSource::New));
    let symlinks = count(&|s| matches!(s, ContentSource::Symlink(_)));
    let new_bytes: u64 = file.new_content.values().sum();
    let commit = Commit::decode(&jigdo.commit_bytes).ok();
    let version = commit.as_ref().and_then(|c| c.metadata.get("version")).and_then(|v| v.as_str()).map(str::to_owned);
    let mut text = format!(
        "jigdo {} ({})\n  commit {}{}\n  objects: {} content ({} from packages, {} new, {} symlinks), {} dirtrees, {} dirmetas\n  new content: {} in {} blobs\n  packages: {}",
        file.nevra,
        human_bytes(file.file_bytes),
        jigdo.commit,
        version.as_ref().map(|v| format!(" (version {v})")).unwrap_or_default(),
        jigdo.content.len(),
        from_packages,
        new,
        symlinks,
        jigdo.dirtrees.len(),
        jigdo.dirmetas.len(),
        human_bytes(new_bytes),
        file.new_content.len(),
        jigdo.packages.len()
    );
    for package in &jigdo.packages {
        text.push_str(&format!("\n    {}", package.nevra));
    }
    Rendered {
        text,
        json: json!({
            "kind": "jigdo",
            "nevra": file.nevra.to_string(),
            "name": file.nevra.name,
            "commit": jigdo.commit.to_hex(),
            "version": version,
            "subject": commit.as_ref().map(|c| c.subject.clone()),
            "timestamp": commit.as_ref().map(|c| c.timestamp),
            "file_bytes": file.file_bytes,
            "packages": jigdo.packages.iter().map(|p| p.nevra.to_string()).collect::<Vec<_>>(),
            "objects_total": jigdo.content.len(),
            "objects_from_packages": from_packages,
            "objects_new": new,
            "objects_symlink": symlinks,
            "new_bytes": new_bytes,
            "new_blobs": file.new_content.len(),
            "dirtrees": jigdo.dirtrees.len(),
            "dirmetas": jigdo.dirmetas.len(),
        }),
    }
}

/// `rejig gc`.
pub fn gc(report: &GcReport, seconds: f64) -> Rendered {
    let roots = |list: &[(rejig_format::ObjectKey, u64)]| list.iter().map(|(k, _)| k.id.to_hex()).collect::<Vec<_>>();
    let mut text = format!(
        "freed {} ({} of packs left): kept {} roots, dropped {}\n  removed {} objects, {} blobs, {} packages; {} packs rewritten, {} deleted; {:.2}s",
        human_bytes(report.bytes_freed()),
        human_bytes(report.bytes_after),
        report.roots_kept.len(),
        report.roots_dropped.len() + report.roots_broken.len(),
        report.objects_removed,
        report.blobs_removed,
        report.packages_removed,
        report.packs_rewritten,
        report.packs_deleted,
        seconds
    );
    for (root, why) in &report.roots_broken {
        text.push_str(&format!("\n  dropped incomplete root {}: {why}", root.id));
    }
    if report.over_budget {
        text.push_str("\n  the newest root alone needs more than --max-size; it was kept");
    }
    Rendered {
        text,
        json: json!({
            "bytes_before": report.bytes_before,
            "bytes_after": report.bytes_after,
            "bytes_freed": report.bytes_freed(),
            "roots_kept": roots(&report.roots_kept),
            "roots_dropped": roots(&report.roots_dropped),
            "roots_broken": report.roots_broken.iter().map(|(k, why)| json!({"root": k.id.to_hex(), "error": why})).collect::<Vec<_>>(),
            "objects_removed": report.objects_removed,
            "blobs_removed": report.blobs_removed,
            "packages_removed": report.packages_removed,
            "packs_rewritten": report.packs_rewritten,
            "packs_deleted": report.packs_deleted,
            "over_budget": report.over_budget,
            "downloads_removed": report.downloads_removed,
            "seconds": seconds,
        }),
    }
}
