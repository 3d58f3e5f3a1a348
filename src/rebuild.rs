//! `rejig export JIGDO.rpm` and `rejig plan`: rebuild a jigdo's commit in the store from the
//! packages it names, fetching only those whose needed content the store lacks, then write
//! it into a repository with the ordinary exporter.
//!
//! Order: read the jigdo's head (downloading it first when given as a URL); fetch the parts
//! the store lacks, check each against the head and store them all or none; assemble the
//! description from the stored parts; plan; fetch the needed packages and import each in one
//! payload pass that also produces the objects the jigdo names from it (the imports overlap
//! the downloads, and are recorded together once all succeeded: [`fetch_and_import`]);
//! complete the commit (objects from stored content, symlinks, metadata, and the list of
//! parts kept with it), which checks that every object is present and verified; only then
//! export. A failure before the export leaves the repository untouched.
//!
//! Parts come from the same sources as packages, and first from the jigdo's own directory
//! when the jigdo is a local file (`build` writes them beside it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rejig_exporter::{check_target, ExportOptions};
use rejig_format::jigdo::{assemble, part_file_name, Jigdo, JigdoHead, PartRef};
use rejig_format::manifest::Nevra;
use rejig_format::{BlobId, ObjectId, PackageBinding, RepoMode};
use rejig_importer::jigdo::{
    complete_commit, delta_applies, missing_parts, obtain_parts_with, package_demand, part_blobs, plan_jigdo,
    read_jigdo, read_part, Expect, JigdoFile, JigdoPlan, PartsFetched,
};
use rejig_importer::package::{prepare_package_import, PackageDemand};
use rejig_importer::source::{
    fetch, fetch_and_work, fetch_each, fetch_url, Catalog, Deliver, Fetched, Location, PackageSource, RepoLocation,
};
use rejig_store::{Batch, Progress, Store, WarningsOnly};
use serde::Serialize;

use crate::export::{export_commit, ExportCommitOptions, ExportCommitReport};
use crate::sources::Sources;

/// What [`export_jigdo`] rebuilds, from where, and where it writes.
pub struct ExportJigdoOptions {
    /// The jigdo RPM: a file, or an `http(s)://` URL.
    pub jigdo: PathBuf,
    /// Where the packages are, in order like mirrors.
    pub sources: Sources,
    /// The repository, created if missing.
    pub repo: PathBuf,
    /// Mode, ref and canonicalisation.
    pub export: ExportOptions,
}

/// What [`export_jigdo`] did. The repository figures are those of [`RebuildReport::export`].
#[derive(Clone, Debug, Serialize)]
pub struct RebuildReport {
    /// The commit now in the repository.
    #[serde(serialize_with = "crate::report::display")]
    pub commit: ObjectId,
    /// The repository.
    pub repo: PathBuf,
    /// Its mode.
    #[serde(serialize_with = "crate::report::display")]
    pub mode: RepoMode,
    /// The jigdo's parts: how many, how many the store lacked and were fetched, and bytes.
    #[serde(flatten)]
    pub parts: PartsFetched,
    /// Packages in the jigdo's table.
    pub packages_total: usize,
    /// Packages whose content the store lacked.
    pub packages_needed: usize,
    /// Packages read from the sources.
    pub packages_fetched: usize,
    /// Bytes of the package files fetched (downloaded or read locally).
    pub bytes_fetched: u64,
    /// Of those, bytes that crossed the network.
    pub bytes_downloaded: u64,
    /// Objects the commit reaches.
    pub objects_total: u64,
    /// Content objects of the commit.
    pub content_objects: u64,
    /// Of those, already in the store before the rebuild.
    #[serde(rename = "content_objects_in_store")]
    pub objects_present: u64,
    /// Content objects the plan looked at: the others sit below a directory whose dirtree
    /// the store already held, so an update's work follows what changed.
    pub content_objects_checked: usize,
    /// Directories not entered because the store already held their dirtree.
    pub subtrees_reused: u64,
    /// Parts and packages fetched from beside the jigdo's URL (see [`Getter`]).
    pub files_fetched_beside_jigdo: usize,
    /// Whether the package sources (repodata, directories) were read: only when something
    /// was not found beside the jigdo, or the jigdo is a local file.
    pub sources_read: bool,
    /// Objects the export looked at in the repository ([`rejig_exporter::ExportReport::objects_visited`]).
    pub objects_visited: u64,
    /// Objects written into the repository.
    pub objects_written: u64,
    /// Of those, content objects the import wrote straight into the repository backing the
    /// store (FORMAT.md §3b, direct import).
    pub objects_written_at_import: u64,
    /// Objects the repository already had.
    pub objects_reused: u64,
    /// Wall time of the whole flow.
    pub seconds: f64,
    /// The commit as the jigdo names it and as rebuilt in the store (the repository's differs
    /// only when canonicalised).
    #[serde(skip)]
    pub jigdo_commit: ObjectId,
    /// The export into the repository.
    #[serde(skip)]
    pub export: ExportCommitReport,
}

/// One needed package, for `plan`.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedPackage {
    /// Its identity.
    #[serde(serialize_with = "crate::report::display")]
    pub nevra: Nevra,
    /// Its size when the source says.
    pub size: Option<u64>,
    /// Where the first matching source has it; None when no source offers it.
    pub location: Option<String>,
}

/// One part the store lacks, for `plan`.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedPart {
    /// Its identity.
    #[serde(serialize_with = "crate::report::display")]
    pub nevra: Nevra,
    /// `records` or `object`.
    pub kind: &'static str,
    /// Size of the part file, as the jigdo binds it.
    pub size: u64,
    /// Where the first matching source has it; None when no source offers it.
    pub location: Option<String>,
}

/// What [`plan`] reads and where it looks.
pub struct PlanOptions {
    /// The jigdo RPM: a file, or an `http(s)://` URL.
    pub jigdo: PathBuf,
    /// Where the packages are.
    pub sources: Sources,
}

/// What [`plan`] found.
#[derive(Clone, Debug, Serialize)]
pub struct PlanReport {
    /// The jigdo's commit.
    #[serde(serialize_with = "crate::report::display")]
    pub commit: ObjectId,
    /// Distinct parts the jigdo needs.
    pub parts_total: usize,
    /// Parts the store lacks.
    pub parts_needed: usize,
    /// Bytes of the part files to fetch.
    pub part_bytes_to_fetch: u64,
    /// Parts the store lacks, in the jigdo's order.
    pub parts: Vec<PlannedPart>,
    /// Packages in the jigdo's table.
    pub packages_total: usize,
    /// Packages whose content the store lacks.
    pub packages_needed: usize,
    /// Bytes an export would fetch (of the packages whose size is known).
    pub bytes_to_fetch: u64,
    /// Content objects of the commit.
    #[serde(rename = "content_objects")]
    pub objects_total: u64,
    /// Content objects already in the store.
    #[serde(rename = "content_objects_in_store")]
    pub objects_present: u64,
    /// Needed packages, in table order.
    #[serde(rename = "packages")]
    pub needed: Vec<PlannedPackage>,
}

fn wanted(jigdo: &Jigdo, plan: &JigdoPlan) -> Vec<(u32, PackageBinding)> {
    plan.needed.keys().filter_map(|&index| Some((index, jigdo.packages.get(index as usize)?.clone()))).collect()
}

/// The jigdo as a local file: a URL is downloaded into the store's download directory.
fn local_jigdo(store: &Store, jigdo: &Path, sources: &Sources, progress: &dyn Progress) -> Result<(PathBuf, bool)> {
    let text = jigdo.to_string_lossy();
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Ok((jigdo.to_path_buf(), true));
    }
    let got = fetch_url(&text, &store.downloads_dir()?, &sources.options, progress)
        .with_context(|| format!("downloading the jigdo {text}"))?;
    Ok((got.path, false))
}

/// The sources parts are looked for in: the jigdo's own directory when it is a local file
/// (and exists), then the `--packages` sources.
fn part_sources(jigdo: &Path, local: bool, sources: &Sources) -> Vec<PackageSource> {
    let mut list = Vec::new();
    if local {
        let dir = match jigdo.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let Ok(source) = PackageSource::parse(&dir.to_string_lossy()) {
            list.push(source);
        }
    }
    list.extend(sources.list.iter().cloned());
    list
}

/// Loads the catalog of `list`, passing on its warnings.
fn load_catalog(list: &[PackageSource], sources: &Sources, progress: &dyn Progress) -> Result<Catalog> {
    let catalog = Catalog::load(list, &sources.options, progress).context("reading the package sources")?;
    for warning in catalog.warnings() {
        progress.warn(warning);
    }
    Ok(catalog)
}

fn offer_location(location: &Location) -> String {
    match location {
        Location::Local(path) => path.display().to_string(),
        Location::Remote(url) => url.clone(),
    }
}

/// Reads the jigdo and the records parts it needs (from the store, or fetched and checked
/// without storing them), and matches its needs to the sources' offers by the rule a fetch
/// uses ([`Catalog::first_match`]). Nothing is stored; downloads stay in the download
/// directory for the export to reuse.
pub fn plan(store: &Store, options: &PlanOptions, progress: &dyn Progress) -> Result<PlanReport> {
    let (path, local) = local_jigdo(store, &options.jigdo, &options.sources, progress)?;
    let file = read_jigdo(&path)?;
    let head = &file.head;
    let missing = missing_parts(store, head)?;
    let part_list = part_sources(&path, local, &options.sources);
    let mut catalog = None;
    if !missing.is_empty() {
        catalog = Some(load_catalog(&part_list, &options.sources, progress)?);
    }
    let parts: Vec<PlannedPart> = missing
        .iter()
        .map(|part| PlannedPart {
            nevra: part.nevra(),
            kind: part.kind.name(),
            size: part.file_size,
            location: catalog
                .as_ref()
                .and_then(|c| c.first_match(&part.binding()))
                .map(|offer| offer_location(&offer.location)),
        })
        .collect();
    let (records, coming) = plan_records(store, head, catalog.as_ref(), &options.sources, progress)?;
    let assembled = assemble(head, &records).with_context(|| format!("assembling the parts of {}", path.display()))?;
    let jigdo = &assembled.jigdo;
    let mut plan = plan_jigdo(store, jigdo)?;
    plan.assume_blobs(jigdo, &coming);
    let packages = if plan.needed.is_empty() {
        Catalog::default()
    } else {
        load_catalog(&options.sources.list, &options.sources, progress)?
    };
    let needed: Vec<PlannedPackage> = wanted(jigdo, &plan)
        .into_iter()
        .map(|(_, want)| {
            let offer = packages.first_match(&want);
            PlannedPackage {
                location: offer.map(|o| offer_location(&o.location)),
                size: offer.and_then(|o| o.size),
                nevra: want.nevra,
            }
        })
        .collect();
    Ok(PlanReport {
        commit: head.commit,
        parts_total: head.unique_parts().len(),
        parts_needed: parts.len(),
        part_bytes_to_fetch: parts.iter().map(|p| p.size).sum(),
        parts,
        packages_total: jigdo.packages.len(),
        packages_needed: needed.len(),
        bytes_to_fetch: needed.iter().filter_map(|p| p.size).sum(),
        objects_total: plan.objects_total,
        objects_present: plan.objects_present,
        needed,
    })
}

/// The records of `head` for `plan`, and the content its delta parts will bring when the
/// delta applies: stored parts from the store, the others fetched and checked against the
/// head.
fn plan_records(
    store: &Store,
    head: &JigdoHead,
    catalog: Option<&Catalog>,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<(Vec<u8>, std::collections::HashSet<BlobId>)> {
    use rejig_format::jigdo::PartKind;
    let delta = delta_applies(store, head)?;
    let reader = store.reader()?;
    let mut pieces = std::collections::HashMap::new();
    let mut wanted = Vec::new();
    let read = |kind: PartKind| kind == PartKind::Records || (delta && kind == PartKind::DeltaRecords);
    let mut seen = std::collections::HashSet::new();
    for part in head.parts.iter().filter(|p| read(p.kind)) {
        if !seen.insert(part.content) {
            continue;
        }
        if reader.has_blob(&part.content)? {
            pieces.insert(part.content, store.read_blob(&reader, part.content)?);
        } else {
            wanted.push(part);
        }
    }
    if !wanted.is_empty() {
        let catalog = catalog.context("internal error: parts are missing but no catalog was read")?;
        let bindings: Vec<PackageBinding> = wanted.iter().map(|p| p.binding()).collect();
        let fetched = fetch(catalog, &bindings, &store.downloads_dir()?, &sources.options, progress);
        for (part, result) in wanted.iter().zip(fetched) {
            let got = result.with_context(|| format!("fetching part {}", part.nevra()))?;
            let file = read_part(&got.path, Expect::Bound(part), None)?;
            pieces.insert(part.content, file.records);
        }
    }
    let mut records = Vec::new();
    let mut coming = std::collections::HashSet::new();
    for part in head.parts.iter().filter(|p| read(p.kind)) {
        let piece = pieces.get(&part.content).map(Vec::as_slice).unwrap_or_default();
        match part.kind {
            PartKind::DeltaRecords => {
                coming.extend(rejig_format::jigdo::decode_delta_records(piece)?.into_iter().map(|(id, _)| id))
            }
            _ => records.extend_from_slice(piece),
        }
    }
    if delta {
        coming.extend(head.parts.iter().filter(|p| p.kind == PartKind::DeltaObject).map(|p| p.content));
    }
    Ok((records, coming))
}

/// Where a rebuild gets parts and packages. When the jigdo came by `http(s)://` URL (and every
/// source is remote too), first beside it, under the names `build --output-dir` gives parts and a publisher gives packages
/// (verified by the digests the jigdo binds, like any download); what is not found there comes
/// from the sources' catalog, read once, on first need, for parts and packages alike. So an
/// update whose files are all beside the jigdo reads no repodata.
struct Getter<'a> {
    store: &'a Store,
    /// The jigdo's URL, when it came by one.
    url: Option<String>,
    /// The sources parts are looked for in ([`part_sources`]).
    list: Vec<PackageSource>,
    /// True when `list[0]` is the jigdo's own directory, which packages are not looked for in.
    jigdo_dir: bool,
    sources: &'a Sources,
    /// It runs beside a phase whose bar counts checked parts or imported packages, so it
    /// passes on only warnings.
    progress: WarningsOnly<'a>,
    catalog: Option<Catalog>,
    /// Files fetched beside the jigdo's URL.
    beside: usize,
    /// Set once beside the URL turned out not to have what was asked: later calls go
    /// straight to the sources.
    beside_missing: bool,
}

impl<'a> Getter<'a> {
    fn new(
        store: &'a Store,
        jigdo: &Path,
        given: &Path,
        local: bool,
        sources: &'a Sources,
        progress: &'a dyn Progress,
    ) -> Self {
        let list = part_sources(jigdo, local, sources);
        let jigdo_dir = list.len() > sources.list.len();
        // Only when every source is remote too: files on this machine are not downloaded
        // again from beside the jigdo.
        let remote = |source: &PackageSource| matches!(source, PackageSource::Repository(RepoLocation::Remote(_)));
        let url = (!local && sources.list.iter().all(remote)).then(|| given.to_string_lossy().into_owned());
        let progress = WarningsOnly(progress);
        Getter { store, url, list, jigdo_dir, sources, progress, catalog: None, beside: 0, beside_missing: false }
    }

    fn catalog(&mut self) -> Result<&Catalog> {
        if self.catalog.is_none() {
            self.catalog = Some(load_catalog(&self.list, self.sources, &self.progress)?);
        }
        self.catalog.as_ref().context("internal error: no catalog")
    }

    /// Fetches every file of `wanted` (binding, file name beside the jigdo, size when known),
    /// handing each result to `deliver` with its position in `wanted` as soon as it is known.
    /// Beside the URL, one file is tried first; only when it is there are the others tried, so
    /// a jigdo published apart from its packages costs one failed request, not one per file.
    /// What is not beside the URL comes from the catalog.
    fn get(
        &mut self,
        wanted: &[(PackageBinding, String, Option<u64>)],
        packages: bool,
        deliver: &Deliver<'_>,
    ) -> Result<()> {
        let download_dir = self.store.downloads_dir()?;
        let options = &self.sources.options;
        // Positions in `wanted` still to come from the catalog.
        let mut rest: Vec<usize> = (0..wanted.len()).collect();
        if let (Some(url), false, Some(first)) = (&self.url, self.beside_missing, wanted.first()) {
            let probe = Catalog::beside(url, std::slice::from_ref(first))?;
            let got = fetch(&probe, std::slice::from_ref(&first.0), &download_dir, options, &self.progress).pop();
            match got {
                Some(Ok(got)) => {
                    self.beside += 1;
                    if !deliver(0, Ok(got)) {
                        return Ok(());
                    }
                    let others = wanted.get(1..).unwrap_or_default();
                    let beside = Catalog::beside(url, others)?;
                    let bindings: Vec<PackageBinding> = others.iter().map(|w| w.0.clone()).collect();
                    let missing = Mutex::new(Vec::new());
                    let stopped = AtomicBool::new(false);
                    fetch_each(
                        &beside,
                        &bindings,
                        &download_dir,
                        options,
                        &self.progress,
                        &|index, result| match result {
                            Ok(got) => {
                                let going = deliver(index + 1, Ok(got));
                                stopped.fetch_or(!going, Ordering::Relaxed);
                                going
                            }
                            Err(_) => {
                                missing.lock().unwrap_or_else(PoisonError::into_inner).push(index + 1);
                                true
                            }
                        },
                    );
                    if stopped.into_inner() {
                        return Ok(());
                    }
                    rest = missing.into_inner().unwrap_or_else(PoisonError::into_inner);
                    rest.sort_unstable();
                    self.beside += others.len() - rest.len();
                }
                _ => self.beside_missing = true,
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        let bindings: Vec<PackageBinding> = rest.iter().filter_map(|&i| wanted.get(i)).map(|w| w.0.clone()).collect();
        let jigdo_dir = self.jigdo_dir;
        let progress = self.progress;
        let catalog = self.catalog()?;
        let deliver_rest = |index: usize, result| rest.get(index).is_some_and(|&position| deliver(position, result));
        if packages && jigdo_dir {
            fetch_each(&catalog.without_source(0), &bindings, &download_dir, options, &progress, &deliver_rest);
        } else {
            fetch_each(catalog, &bindings, &download_dir, options, &progress, &deliver_rest);
        }
        Ok(())
    }
}

/// The file name a publisher gives a package: `<name>-<version>-<release>.<arch>.rpm`.
fn package_file_name(nevra: &Nevra) -> String {
    format!("{}-{}-{}.{}.rpm", nevra.name, nevra.version, nevra.release, nevra.arch)
}

/// Fetches the parts the store lacks and assembles the description; see [`obtain_parts_with`].
fn obtain(
    store: &Store,
    file: &JigdoFile,
    getter: &mut Getter<'_>,
    progress: &dyn Progress,
) -> Result<(rejig_format::jigdo::Assembled, PartsFetched)> {
    let head = &file.head;
    let mut get = |missing: &[&PartRef], deliver: &Deliver<'_>| -> rejig_importer::Result<()> {
        let wanted: Vec<(PackageBinding, String, Option<u64>)> =
            missing.iter().map(|p| (p.binding(), part_file_name(&p.content), Some(p.file_size))).collect();
        getter
            .get(&wanted, false, deliver)
            .map_err(|e| rejig_importer::Error::Fetch { package: "parts".to_owned(), detail: format!("{e:#}") })
    };
    obtain_parts_with(store, head, &mut get, progress)
        .with_context(|| format!("getting the parts of {}", file.path.display()))
}

/// Fetches the needed packages and imports them, the imports overlapping the downloads
/// ([`fetch_and_work`]). Each package's pack is made durable as soon as it is imported, but
/// all are recorded in the index at the end, together ([`Store::commit_finished`]), so a
/// package that cannot be fetched or is refused leaves the store as it was (the packs
/// already written are deleted; objects written `into_backing` stay in the repository,
/// unreferenced).
fn fetch_and_import(
    store: &Store,
    jigdo: &Jigdo,
    plan: &JigdoPlan,
    needed: &[(u32, &PackageBinding)],
    into_backing: bool,
    getter: &mut Getter<'_>,
    progress: &dyn Progress,
) -> Result<Imported> {
    let files: Vec<(PackageBinding, String, Option<u64>)> =
        needed.iter().map(|(_, w)| ((*w).clone(), package_file_name(&w.nevra), None)).collect();
    progress.start("fetching and importing packages", files.len() as u64);
    // Each package is imported as soon as it is fetched, by whichever worker is free: more
    // workers than cores, so that the cores keep importing while some wait for the disk.
    let workers = rejig_store::threads::io_worker_count();
    let outcome = fetch_and_work(
        &files,
        workers,
        |files, deliver| getter.get(files, true, deliver),
        |position, _, result| {
            let &(index, want) = needed.get(position).context("internal error: no such package")?;
            let got = result.with_context(|| format!("fetching {}", want.nevra))?;
            let demand = PackageDemand { into_backing, ..package_demand(jigdo, plan, index)? };
            let import = prepare_package_import(store, &got.path, &demand)
                .with_context(|| format!("package {} (from {})", want.nevra, got.path.display()))?;
            // Its pack is made durable now, while other packages are imported; only recording
            // it in the index waits for the others.
            let finished = import.batch.map(Batch::finish_pack).transpose()?;
            progress.advance(1);
            Ok(((finished, import.import.objects_into_repo), got))
        },
    );
    let (finished, downloads): (Vec<_>, Vec<Fetched>) = outcome?.into_iter().unzip();
    let (finished, into_repo): (Vec<_>, Vec<u64>) = finished.into_iter().unzip();
    store.commit_finished(finished.into_iter().flatten().collect()).context("storing the imported packages")?;
    let imported = Imported {
        bytes_fetched: downloads.iter().map(|got| got.size).sum(),
        bytes_downloaded: downloads.iter().map(|got| got.bytes_downloaded).sum(),
        objects_into_repo: into_repo.iter().sum(),
    };
    for got in downloads.iter().filter(|got| got.temporary) {
        // The store has its content now; an edge host's disk is not a package cache.
        let _ = std::fs::remove_file(&got.path);
    }
    progress.finish();
    Ok(imported)
}

/// What [`fetch_and_import`] did.
#[derive(Default)]
struct Imported {
    /// Bytes of the package files fetched.
    bytes_fetched: u64,
    /// Of those, bytes that crossed the network.
    bytes_downloaded: u64,
    /// Content objects written straight into the repository backing the store.
    objects_into_repo: u64,
}

/// Rebuilds the commit a jigdo describes in the store, fetching only the parts and packages
/// whose content the store lacks, and exports it into the repository. The jigdo may be a file
/// or an `http(s)://` URL. This is the whole client flow, callable by other commands.
pub fn export_jigdo(store: &Store, options: &ExportJigdoOptions, progress: &dyn Progress) -> Result<RebuildReport> {
    rebuild(store, options, progress).with_context(|| format!("rebuilding the commit of {}", options.jigdo.display()))
}

fn rebuild(store: &Store, options: &ExportJigdoOptions, progress: &dyn Progress) -> Result<RebuildReport> {
    let started = Instant::now();
    let ExportJigdoOptions { jigdo: jigdo_path, sources, repo, export: options } = options;
    // A repository the export would refuse is refused before anything is fetched.
    check_target(repo, options).with_context(|| format!("exporting into {}", repo.display()))?;
    let (path, local) = local_jigdo(store, jigdo_path, sources, progress)?;
    let file = read_jigdo(&path)?;
    let mut getter = Getter::new(store, &path, jigdo_path, local, sources, progress);
    let (assembled, parts) = obtain(store, &file, &mut getter, progress)?;
    let jigdo = &assembled.jigdo;
    let plan = plan_jigdo(store, jigdo)?;
    let (indexes, wanted): (Vec<u32>, Vec<PackageBinding>) = wanted(jigdo, &plan).into_iter().unzip();
    let mut imported = Imported::default();
    if !wanted.is_empty() {
        if sources.is_empty() {
            bail!(
                "{} packages are needed and no --packages source was given, e.g. {}",
                wanted.len(),
                wanted.first().map(|w| w.nevra.to_string()).unwrap_or_default()
            );
        }
        let needed: Vec<(u32, &PackageBinding)> = indexes.iter().copied().zip(&wanted).collect();
        // An edge host's store backed by this repository imports the content straight into it.
        let into_backing = rejig_exporter::backing::prepare_direct_import(store, repo, options)
            .with_context(|| format!("exporting into {}", repo.display()))?;
        imported = fetch_and_import(store, jigdo, &plan, &needed, into_backing, &mut getter, progress)?;
    }
    complete_commit(store, jigdo, &plan, &part_blobs(&file.head), progress)
        .context("completing the commit in the store")?;
    let export_options = ExportCommitOptions { commit: jigdo.commit, repo: repo.clone(), export: options.clone() };
    let export = export_commit(store, &export_options, progress)?;
    Ok(RebuildReport {
        commit: export.commit,
        repo: export.repo.clone(),
        mode: export.mode,
        objects_total: export.objects_total,
        objects_written: export.objects_written + imported.objects_into_repo,
        objects_written_at_import: imported.objects_into_repo,
        // What the import wrote, the export found there.
        objects_reused: export.objects_reused.saturating_sub(imported.objects_into_repo),
        objects_visited: export.objects_visited,
        jigdo_commit: jigdo.commit,
        parts,
        packages_total: jigdo.packages.len(),
        packages_needed: wanted.len(),
        packages_fetched: wanted.len(),
        bytes_fetched: imported.bytes_fetched,
        bytes_downloaded: imported.bytes_downloaded,
        content_objects: plan.objects_total,
        objects_present: plan.objects_present,
        content_objects_checked: plan.visited.len(),
        files_fetched_beside_jigdo: getter.beside,
        sources_read: getter.catalog.is_some(),
        subtrees_reused: plan.subtrees_reused,
        export,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether a path given to `export` or `inspect` is a file (a jigdo or package) rather than
/// a commit checksum.
pub fn is_file_argument(arg: &str) -> Option<PathBuf> {
    let path = PathBuf::from(arg);
    (arg.ends_with(".rpm") || path.is_file()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_importer::source::{FetchOptions, PackageSource};
    use rejig_store::NoProgress;

    fn sources(dirs: &[&Path]) -> Sources {
        let list = dirs.iter().map(|d| PackageSource::parse(d.to_str().unwrap()).unwrap()).collect();
        Sources { list, options: FetchOptions::default() }
    }

    /// The demo's jigdo built in `dir`, its packages' directory, a new client store, and that
    /// client's plan for the jigdo.
    fn demo_client(dir: &Path) -> (crate::build::BuildReport, PathBuf, Store, PlanReport) {
        let built = testing::build_demo_jigdo(dir);
        let packages = dir.join("packages");
        let client = testing::store(&dir.join("client"));
        let planned =
            plan(&client, &PlanOptions { jigdo: built.output.clone(), sources: sources(&[&packages]) }, &NoProgress)
                .unwrap();
        (built, packages, client, planned)
    }

    #[test]
    fn plan_then_export_then_nothing_left_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let (built, packages, client, planned) = demo_client(dir.path());
        assert_eq!(planned.commit, built.commit);
        assert_eq!((planned.packages_needed, planned.packages_total), (12, 12));
        assert_eq!(planned.objects_present, 0);
        assert!(planned.needed.iter().all(|p| p.location.is_some() && p.size.is_some()));
        let sizes: u64 = planned.needed.iter().filter_map(|p| p.size).sum();
        assert_eq!(planned.bytes_to_fetch, sizes);
        let json = serde_json::to_value(&planned).unwrap();
        assert_eq!(json["packages"].as_array().unwrap().len(), 12);
        assert_eq!(json["content_objects"], planned.objects_total);

        let export = ExportOptions { mode: Some(RepoMode::BareUser), ref_name: None, canonicalize: false };
        let options = ExportJigdoOptions {
            jigdo: built.output.clone(),
            sources: sources(&[&packages]),
            repo: dir.path().join("repo"),
            export,
        };
        let rebuilt = export_jigdo(&client, &options, &NoProgress).unwrap();
        assert_eq!((rebuilt.commit, rebuilt.jigdo_commit), (built.commit, built.commit));
        assert_eq!((rebuilt.packages_needed, rebuilt.packages_fetched), (12, 12));
        assert_eq!(rebuilt.bytes_downloaded, 0);
        assert_eq!(rebuilt.objects_written, rebuilt.objects_total);
        assert_eq!(rebuilt.content_objects, built.stats.objects_total);
        let json = serde_json::to_value(&rebuilt).unwrap();
        assert_eq!(json["mode"], "bare-user");
        assert_eq!(json["content_objects_in_store"], 0);
        assert!(json.get("export").is_none() && json.get("jigdo_commit").is_none());

        let after =
            plan(&client, &PlanOptions { jigdo: built.output.clone(), sources: sources(&[]) }, &NoProgress).unwrap();
        assert_eq!(after.packages_needed, 0);
        assert_eq!(after.objects_present, after.objects_total);
        let again =
            export_jigdo(&client, &ExportJigdoOptions { sources: sources(&[]), ..options }, &NoProgress).unwrap();
        assert_eq!((again.packages_needed, again.objects_written), (0, 0));
    }

    #[test]
    fn plan_names_packages_no_source_offers_and_export_wants_sources() {
        let dir = tempfile::tempdir().unwrap();
        let built = testing::build_demo_jigdo(dir.path());
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let client = testing::store(&dir.path().join("client"));
        let planned =
            plan(&client, &PlanOptions { jigdo: built.output.clone(), sources: sources(&[&empty]) }, &NoProgress)
                .unwrap();
        assert!(planned.needed.iter().all(|p| p.location.is_none() && p.size.is_none()));
        assert_eq!(planned.bytes_to_fetch, 0);

        let options = ExportJigdoOptions {
            jigdo: built.output.clone(),
            sources: sources(&[]),
            repo: dir.path().join("repo"),
            export: ExportOptions::default(),
        };
        let error = format!("{:#}", export_jigdo(&client, &options, &NoProgress).unwrap_err());
        assert!(error.starts_with(&format!("rebuilding the commit of {}", built.output.display())), "{error}");
        assert!(error.contains("12 packages are needed and no --packages source was given"), "{error}");
        assert!(!dir.path().join("repo/objects").exists(), "nothing is exported");
    }

    /// The imports overlap the downloads: the last package, when it cannot be fetched or is
    /// refused, must still leave the store without any package (and without a pack nothing
    /// refers to), though packages before it were imported, their packs made durable, by then.
    #[test]
    fn a_failure_in_the_last_package_stores_none_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let (built, packages, client, planned) = demo_client(dir.path());
        assert!(planned.needed.len() > 4, "more packages than import workers: {}", planned.needed.len());
        let last = PathBuf::from(planned.needed.last().and_then(|p| p.location.clone()).unwrap());
        let original = std::fs::read(&last).unwrap();
        let options = ExportJigdoOptions {
            jigdo: built.output.clone(),
            sources: sources(&[&packages]),
            repo: dir.path().join("repo"),
            export: ExportOptions { mode: Some(RepoMode::BareUser), ref_name: None, canonicalize: false },
        };
        let no_package_stored = |what: &str| {
            let reader = client.reader().unwrap();
            assert!(reader.packages().unwrap().is_empty(), "{what}: a package was stored");
            let files = std::fs::read_dir(client.packs_dir()).unwrap().count();
            assert_eq!(files, reader.packs().unwrap().len(), "{what}: a pack nothing refers to was left");
            drop(reader);
            assert!(!dir.path().join("repo").exists(), "{what}: the repository was created");
            let left: Vec<_> = std::fs::read_dir(client.root().join("tmp")).unwrap().collect();
            assert!(left.is_empty(), "{what}: scratch files left: {left:?}");
        };

        std::fs::remove_file(&last).unwrap();
        let error = format!("{:#}", export_jigdo(&client, &options, &NoProgress).unwrap_err());
        assert!(error.contains("fetching"), "{error}");
        no_package_stored("a package missing from the source");

        // The same file with one byte of its payload changed: fetched, then refused.
        let mut damaged = original.clone();
        let at = damaged.len() - 100;
        damaged[at] ^= 0xff;
        std::fs::write(&last, &damaged).unwrap();
        let error = format!("{:#}", export_jigdo(&client, &options, &NoProgress).unwrap_err());
        assert!(error.contains(&last.display().to_string()), "the refused package is named: {error}");
        no_package_stored("a damaged package");

        std::fs::write(&last, &original).unwrap();
        let rebuilt = export_jigdo(&client, &options, &NoProgress).unwrap();
        assert_eq!(rebuilt.commit, built.commit);
        assert_eq!(rebuilt.packages_fetched, planned.needed.len());
        assert_eq!(client.reader().unwrap().packages().unwrap().len(), planned.needed.len());
    }

    #[test]
    fn file_arguments_are_told_from_checksums() {
        assert!(is_file_argument("a.rpm").is_some());
        assert!(is_file_argument(&"ab".repeat(32)).is_none());
    }
}
