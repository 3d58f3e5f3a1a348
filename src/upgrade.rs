//! `rejig upgrade`: one command from a remote's newest signed jigdo to a moved ref (and a
//! deployment), the way `rpm-ostree upgrade` works from an OSTree remote.
//!
//! 1. Read the remote's rpm-md, baseurls in order like mirrors; among the packages named
//!    like the remote's jigdo that provide `rejig-jigdo(2)`, take the newest by rpm's version
//!    comparison ([`rpmvercmp`]).
//! 2. If its `rejig-commit()` provide is the commit the ref points at, there is nothing to do.
//! 3. Download the jigdo (into the store's download directory; nothing reaches the index),
//!    check its RPM signature and its commit's detached signatures ([`crate::trust`]), that
//!    it is the package and the commit rpm-md said, and that its commit is not older than the
//!    ref's (unless downgrades are allowed).
//! 4. With `check`, plan only; otherwise hand the verified file to the export flow
//!    ([`rebuild::export_jigdo`]) with the same remote as the package source, which moves the
//!    ref last; then, with a sysroot, `ostree admin deploy`.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use rejig_exporter::ExportOptions;
use rejig_format::jigdo::{parse_commit_provide, JIGDO_PROVIDE};
use rejig_format::manifest::Nevra;
use rejig_format::object::Commit;
use rejig_format::{HeaderSha256, ObjectId, PackageBinding, RepoMode};
use rejig_importer::jigdo::read_jigdo;
use rejig_importer::source::{fetch, FetchOptions, Offer, PackageSource};
use rejig_store::{Progress, Store};
use serde::Serialize;

use crate::rebuild::{self, ExportJigdoOptions, PlanOptions, PlanReport, RebuildReport};
use crate::remote::{Remote, RemoteKeys};
use crate::sources::Sources;
use crate::trust::{self, CommitVerification, RpmVerification};

/// rpm's version comparison (`rpmvercmp`): alternating runs of digits and letters compared
/// run by run, digits numerically and above letters; `~` sorts before anything, even the end;
/// `^` after the end but before anything else.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !(c.is_ascii_alphanumeric() || *c == b'~' || *c == b'^');
    loop {
        while a.first().is_some_and(separator) {
            a = a.get(1..).unwrap_or_default();
        }
        while b.first().is_some_and(separator) {
            b = b.get(1..).unwrap_or_default();
        }
        let (fa, fb) = (a.first().copied(), b.first().copied());
        if fa == Some(b'~') || fb == Some(b'~') {
            if fa != Some(b'~') {
                return Ordering::Greater;
            }
            if fb != Some(b'~') {
                return Ordering::Less;
            }
            (a, b) = (a.get(1..).unwrap_or_default(), b.get(1..).unwrap_or_default());
            continue;
        }
        if fa == Some(b'^') || fb == Some(b'^') {
            if a.is_empty() {
                return Ordering::Less;
            }
            if b.is_empty() {
                return Ordering::Greater;
            }
            if fa != Some(b'^') {
                return Ordering::Greater;
            }
            if fb != Some(b'^') {
                return Ordering::Less;
            }
            (a, b) = (a.get(1..).unwrap_or_default(), b.get(1..).unwrap_or_default());
            continue;
        }
        let (Some(first), Some(_)) = (fa, fb) else { break };
        let numeric = first.is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter().take_while(|c| if numeric { c.is_ascii_digit() } else { c.is_ascii_alphabetic() }).count()
        };
        let (la, lb) = (run(a), run(b));
        if lb == 0 {
            // Different kinds of run: numbers are newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (ra, rest_a) = a.split_at(la);
        let (rb, rest_b) = b.split_at(lb);
        let order = if numeric {
            let trim = |s: &[u8]| -> Vec<u8> { s.iter().copied().skip_while(|&c| c == b'0').collect() };
            let (ta, tb) = (trim(ra), trim(rb));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb))
        } else {
            ra.cmp(rb)
        };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (rest_a, rest_b);
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, _) => Ordering::Greater,
    }
}

/// Compares two packages' epoch, version and release as rpm does (no epoch is epoch 0).
pub fn evr_cmp(a: &Nevra, b: &Nevra) -> Ordering {
    a.epoch
        .unwrap_or(0)
        .cmp(&b.epoch.unwrap_or(0))
        .then_with(|| rpmvercmp(&a.version, &b.version))
        .then_with(|| rpmvercmp(&a.release, &b.release))
}

/// What [`upgrade`] does.
pub struct UpgradeOptions {
    /// The remote.
    pub remote: Remote,
    /// The repository to write.
    pub repo: PathBuf,
    /// The ref to move.
    pub ref_name: String,
    /// Mode for a new repository.
    pub mode: Option<RepoMode>,
    /// Say what would be fetched, fetch nothing but the jigdo.
    pub check: bool,
    /// Take a commit older than the ref's.
    pub allow_downgrade: bool,
    /// After the export, `ostree admin deploy --sysroot DIR --os OS REF`.
    pub deploy: Option<Deploy>,
    /// How to fetch.
    pub fetch: FetchOptions,
}

/// Where to deploy.
#[derive(Clone, Debug)]
pub struct Deploy {
    /// The sysroot (its repository is `DIR/ostree/repo`).
    pub sysroot: PathBuf,
    /// The stateroot (`ostree admin os-init OS`).
    pub os: String,
}

/// Where an upgrade ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeStatus {
    /// The ref already points at the newest jigdo's commit.
    UpToDate,
    /// `--check`: a newer commit is available.
    Available,
    /// The ref moved.
    Upgraded,
}

/// What [`upgrade`] found and did.
#[derive(Clone, Debug, Serialize)]
pub struct UpgradeReport {
    /// Where it ended.
    pub status: UpgradeStatus,
    /// The remote.
    pub remote: String,
    /// The ref.
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// The jigdo package taken (the newest).
    #[serde(serialize_with = "crate::report::display")]
    pub jigdo: Nevra,
    /// Its version (the commit's version).
    pub version: String,
    /// The jigdo's commit.
    #[serde(serialize_with = "crate::report::display")]
    pub commit: ObjectId,
    /// The commit the ref pointed at before, if any.
    #[serde(serialize_with = "crate::report::display_or_empty")]
    pub previous_commit: Option<ObjectId>,
    /// The jigdo's RPM signature, when the remote verifies.
    pub signature: Option<RpmVerification>,
    /// The commit's detached signatures, when the remote verifies.
    pub commit_signatures: Option<CommitVerification>,
    /// `--check`: what an upgrade would fetch.
    pub plan: Option<PlanReport>,
    /// The export, when the ref moved.
    pub export: Option<RebuildReport>,
    /// Whether `ostree admin deploy` ran.
    pub deployed: bool,
}

/// The commit the ref points at in the repository, if the ref exists.
fn current_commit(repo: &Path, ref_name: &str) -> Result<Option<ObjectId>> {
    let path = repo.join("refs/heads").join(ref_name);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let commit =
                text.trim().parse().with_context(|| format!("ref file {} holds no checksum", path.display()))?;
            Ok(Some(commit))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A commit object of the repository (the same file in every mode), decoded.
fn repo_commit(repo: &Path, commit: ObjectId) -> Result<Commit> {
    let hex = commit.to_hex();
    let path = repo.join("objects").join(&hex[..2]).join(format!("{}.commit", &hex[2..]));
    let bytes = std::fs::read(&path).with_context(|| format!("reading the ref's commit {}", path.display()))?;
    Commit::decode(&bytes).with_context(|| format!("decoding {}", path.display()))
}

/// The newest jigdo of the remote: an offer named like it, providing `rejig-jigdo(2)`.
fn newest_jigdo<'a>(remote: &Remote, offers: impl Iterator<Item = &'a Offer>) -> Result<(Offer, ObjectId)> {
    let mut best: Option<&Offer> = None;
    for offer in offers {
        if offer.nevra.name != remote.jigdo || !offer.provides.iter().any(|p| p == JIGDO_PROVIDE) {
            continue;
        }
        // Newer wins; on a tie the first source's (mirror order).
        let newer = match best {
            None => true,
            Some(b) => evr_cmp(&offer.nevra, &b.nevra).then(b.source.cmp(&offer.source)) == Ordering::Greater,
        };
        if newer {
            best = Some(offer);
        }
    }
    let Some(best) = best else {
        bail!(
            "remote {} offers no jigdo {} (no package of that name provides {JIGDO_PROVIDE} in {})",
            remote.name,
            remote.jigdo,
            remote.baseurls.join(", ")
        );
    };
    let commits: Vec<ObjectId> = best.provides.iter().filter_map(|p| parse_commit_provide(p)).collect();
    let [commit] = commits.as_slice() else {
        bail!(
            "remote {}: rpm-md lists {} with {} rejig-commit(...) provides, not one",
            remote.name,
            best.nevra,
            commits.len()
        );
    };
    Ok((best.clone(), *commit))
}

fn sources_of(remote: &Remote, fetch: &FetchOptions) -> Result<Sources> {
    let list = remote
        .baseurls
        .iter()
        .map(|url| PackageSource::parse(url).with_context(|| format!("remote {}: baseurl {url:?}", remote.name)))
        .collect::<Result<_>>()?;
    Ok(Sources { list, options: fetch.clone() })
}

/// Upgrades `repo`'s ref to the remote's newest jigdo (see the module's documentation).
pub fn upgrade(store: &Store, options: &UpgradeOptions, progress: &dyn Progress) -> Result<UpgradeReport> {
    let remote = &options.remote;
    upgrade_inner(store, options, progress)
        .with_context(|| format!("upgrading {} from remote {}", options.ref_name, remote.name))
}

fn upgrade_inner(store: &Store, options: &UpgradeOptions, progress: &dyn Progress) -> Result<UpgradeReport> {
    let UpgradeOptions { remote, repo, ref_name, .. } = options;
    if let Some(deploy) = &options.deploy {
        let sysroot_repo = deploy.sysroot.join("ostree/repo");
        let same = std::fs::canonicalize(&sysroot_repo)
            .ok()
            .zip(std::fs::canonicalize(repo).ok())
            .is_some_and(|(a, b)| a == b);
        if !same {
            bail!("--deploy deploys from the sysroot's repository: --repo must be {}", sysroot_repo.display());
        }
    }
    // Keys first: a key file that does not parse stops everything.
    let keys = remote.keys()?;
    let sources = sources_of(remote, &options.fetch)?;
    let catalog = sources.catalog(progress)?;
    let (offer, claimed) = newest_jigdo(remote, catalog.all())?;
    let previous = current_commit(repo, ref_name)?;
    let mut report = UpgradeReport {
        status: UpgradeStatus::UpToDate,
        remote: remote.name.clone(),
        ref_name: ref_name.clone(),
        version: offer.nevra.version.clone(),
        jigdo: offer.nevra.clone(),
        commit: claimed,
        previous_commit: previous,
        signature: None,
        commit_signatures: None,
        plan: None,
        export: None,
        deployed: false,
    };
    if previous == Some(claimed) {
        return Ok(report);
    }

    // The jigdo: downloaded, then checked before anything reads it for the store.
    let binding = PackageBinding {
        nevra: offer.nevra.clone(),
        header: HeaderSha256::from_bytes([0; 32]),
        file: offer.file_sha256,
    };
    let download_dir = store.downloads_dir()?;
    let fetched = fetch(&catalog, std::slice::from_ref(&binding), &download_dir, &sources.options, progress)
        .into_iter()
        .next()
        .context("the fetch returned nothing")?
        .with_context(|| format!("downloading the jigdo {}", offer.nevra))?;
    let path = fetched.path.clone();
    let checked = check_jigdo(&path, &offer, claimed, keys.as_ref(), previous, options)
        .with_context(|| format!("the jigdo {} from {}", offer.nevra, offer.location));
    let (signature, commit_signatures) = match checked {
        Ok(found) => found,
        Err(error) => {
            // A refused jigdo is not kept: nothing of it stays on the host.
            if fetched.temporary {
                let _ = std::fs::remove_file(&path);
            }
            return Err(error);
        }
    };
    report.signature = signature;
    report.commit_signatures = commit_signatures;

    if options.check {
        let plan = rebuild::plan(store, &PlanOptions { jigdo: path.clone(), sources }, progress)?;
        report.plan = Some(plan);
        report.status = UpgradeStatus::Available;
        return Ok(report);
    }
    let export = ExportOptions { mode: options.mode, ref_name: Some(ref_name.clone()), canonicalize: false };
    let export_options = ExportJigdoOptions { jigdo: path.clone(), sources, repo: repo.clone(), export };
    let rebuilt = rebuild::export_jigdo(store, &export_options, progress)?;
    if fetched.temporary {
        // The store has what it needs from it; an edge host's disk is not a package cache.
        let _ = std::fs::remove_file(&path);
    }
    report.export = Some(rebuilt);
    report.status = UpgradeStatus::Upgraded;
    if let Some(deploy) = &options.deploy {
        deploy_ref(deploy, ref_name)?;
        report.deployed = true;
    }
    Ok(report)
}

/// Checks a downloaded jigdo before anything reads it for the store: its RPM signature, that
/// it is the package and commit rpm-md said, its commit's signatures, and that its commit is
/// not older than the ref's.
fn check_jigdo(
    path: &Path,
    offer: &Offer,
    claimed: ObjectId,
    keys: Option<&RemoteKeys>,
    previous: Option<ObjectId>,
    options: &UpgradeOptions,
) -> Result<(Option<RpmVerification>, Option<CommitVerification>)> {
    let (mut signature, mut commit_signatures) = (None, None);
    if let Some(keys) = &keys {
        signature = Some(trust::verify_rpm(path, &keys.openpgp)?);
    }
    let file = read_jigdo(path).with_context(|| format!("reading the jigdo {}", path.display()))?;
    if file.nevra != offer.nevra && !(file.nevra.epoch == Some(0) && offer.nevra.epoch.is_none()) {
        bail!("{}: rpm-md lists it as {}, but the package is {}", path.display(), offer.nevra, file.nevra);
    }
    if file.head.commit != claimed {
        bail!(
            "{}: rpm-md says {} provides rejig-commit({claimed}), but it describes commit {}; the repository metadata lies",
            path.display(),
            offer.nevra,
            file.head.commit
        );
    }
    if let Some(keys) = &keys {
        commit_signatures = Some(trust::verify_commit(
            file.head.commit,
            &file.head.commit_bytes,
            file.head.commitmeta.as_deref(),
            &keys.openpgp,
            &keys.ed25519,
        )?);
    }
    if let Some(previous) = previous {
        let new = Commit::decode(&file.head.commit_bytes).context("decoding the jigdo's commit")?;
        let old = repo_commit(&options.repo, previous)?;
        if new.timestamp < old.timestamp && !options.allow_downgrade {
            bail!(
                "refusing a downgrade: {} describes commit {} of {} (timestamp {}), older than {}'s {previous} (timestamp {}); give --allow-downgrade to take it",
                offer.nevra,
                file.head.commit,
                offer.nevra.version,
                new.timestamp,
                options.ref_name,
                old.timestamp
            );
        }
    }

    Ok((signature, commit_signatures))
}

/// `ostree admin deploy --sysroot DIR --os OS REF`.
fn deploy_ref(deploy: &Deploy, ref_name: &str) -> Result<()> {
    let output = Command::new("ostree")
        .arg("admin")
        .arg("deploy")
        .arg(format!("--sysroot={}", deploy.sysroot.display()))
        .arg(format!("--os={}", deploy.os))
        .arg(ref_name)
        .output()
        .context("running ostree admin deploy (is ostree installed?)")?;
    if !output.status.success() {
        bail!(
            "ostree admin deploy --sysroot={} --os={} {ref_name} failed ({}): {}",
            deploy.sysroot.display(),
            deploy.os,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpmvercmp_orders_as_rpm_does() {
        use Ordering::*;
        // Cases from rpm's own test suite (rpmvercmp.at), written out here.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0", "2.0.1", Less),
            ("10", "9", Greater),
            ("1.0010", "1.9", Greater),
            ("1.05", "1.5", Equal),
            ("1.0a", "1.0", Greater),
            ("5.5p1", "5.5p10", Less),
            ("a", "1", Less),
            ("1", "a", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^git1", "1.0~rc1", Greater),
            ("2_0", "2.0", Equal),
            ("xyz10", "xyz10.1", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn epoch_beats_version() {
        let n = |e: Option<u32>, v: &str, r: &str| Nevra {
            name: "j".into(),
            epoch: e,
            version: v.into(),
            release: r.into(),
            arch: "noarch".into(),
        };
        assert_eq!(evr_cmp(&n(Some(1), "1.0", "1"), &n(None, "9.0", "1")), Ordering::Greater);
        assert_eq!(evr_cmp(&n(Some(0), "2.0", "1"), &n(None, "10.0", "1")), Ordering::Less);
        assert_eq!(evr_cmp(&n(None, "2.0", "10"), &n(None, "2.0", "9")), Ordering::Greater);
    }
}
