//! Getting a jigdo's parts into the store and putting the description back together.
//!
//! The store keeps parts as blobs named by their contents' BLAKE3, so a part an earlier
//! version brought is not fetched again. Missing parts are fetched like packages (same
//! sources, mirrors, retries and resume), each checked against every digest the head binds,
//! and stored in one batch committed only when all of them checked out: a bad part leaves
//! the store as it was. The description is then assembled from the stored records.
//!
//! Delta parts are wanted only when the store holds, as a root, the commit the delta is from:
//! then the package content they carry is all the update lacks, and the packages that
//! changed are not fetched. Their content is checked to be package content the description
//! names before anything is stored; a delta records part itself is not kept.

use std::collections::HashMap;

use rejig_format::jigdo::{
    assemble, check_delta_content, decode_delta_records, Assembled, JigdoHead, PartKind, PartRef,
};
use rejig_format::{BlobId, ObjectId, ObjectKey, ObjectType, PackageBinding};
use rejig_store::{Progress, Store, WarningsOnly};

use crate::error::{Error, Result};
use crate::jigdo::part::{read_part, Expect};
use crate::source::{fetch_and_work, fetch_each, Catalog, Deliver, FetchOptions};

/// What fetching parts did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PartsFetched {
    /// Distinct parts the jigdo lists.
    pub parts_total: usize,
    /// Of those, parts the store lacked and that were fetched.
    pub parts_fetched: usize,
    /// Bytes of the part files fetched (downloaded or read locally).
    pub part_bytes_fetched: u64,
    /// Of those, bytes that crossed the network.
    pub part_bytes_downloaded: u64,
    /// True when the store held the commit the jigdo's delta is from, so its delta parts
    /// were wanted instead of the packages that changed.
    pub delta_used: bool,
    /// Delta parts fetched (counted in `parts_fetched` too).
    pub delta_parts_fetched: usize,
}

/// True when `head` has delta parts and the store holds the commit they are from as a root
/// (a commit whose content is all present), but not the jigdo's own commit (whose content
/// is then all present too: a second export of it needs no delta).
pub fn delta_applies(store: &Store, head: &JigdoHead) -> Result<bool> {
    let Some(from) = head.delta_from else { return Ok(false) };
    let roots = store.reader()?.roots()?;
    let holds = |id: ObjectId| roots.iter().any(|(root, _)| *root == ObjectKey::new(id, ObjectType::Commit));
    Ok(holds(from) && !holds(head.commit))
}

/// The parts of `head` the store lacks, each once, in list order: delta parts only when
/// [`delta_applies`].
pub fn missing_parts<'h>(store: &Store, head: &'h JigdoHead) -> Result<Vec<&'h PartRef>> {
    missing_wanted_parts(store, head, delta_applies(store, head)?)
}

/// The parts of `head` the store lacks, each once, in list order: delta parts only with
/// `delta`.
fn missing_wanted_parts<'h>(store: &Store, head: &'h JigdoHead, delta: bool) -> Result<Vec<&'h PartRef>> {
    let reader = store.reader()?;
    let mut missing = Vec::new();
    for part in head.wanted_parts(delta) {
        if !reader.has_blob(&part.content)? {
            missing.push(part);
        }
    }
    Ok(missing)
}

fn part_error(part: &PartRef, detail: String) -> Error {
    Error::Fetch { package: format!("part {}", part.nevra()), detail }
}

/// Gets the parts of `head` the store lacks from `catalog`'s offers (which must be given
/// when some are missing), checks each against the head, assembles the description from
/// them and the stored parts, and only then stores the new parts and the small new content
/// the records carry, in one batch. A part that does not check out, or a description that
/// does not assemble, leaves the store as it was.
pub fn obtain_parts(
    store: &Store,
    head: &JigdoHead,
    catalog: Option<&Catalog>,
    download_dir: &std::path::Path,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<(Assembled, PartsFetched)> {
    let mut get = |missing: &[&PartRef], deliver: &Deliver<'_>| -> Result<()> {
        let Some(catalog) = catalog else {
            let first = missing.first().map(|p| p.nevra().to_string()).unwrap_or_default();
            return Err(Error::Fetch {
                package: format!("part {first}"),
                detail: format!("{} parts are needed and no source was given", missing.len()),
            });
        };
        let wanted: Vec<PackageBinding> = missing.iter().map(|p| p.binding()).collect();
        fetch_each(catalog, &wanted, download_dir, options, &WarningsOnly(progress), deliver);
        Ok(())
    };
    obtain_parts_with(store, head, &mut get, progress)
}

/// Fetches the given parts, handing each part's result to the [`Deliver`] given, with its
/// position in the list, as soon as it is known. It runs on a thread of its own
/// ([`fetch_and_work`]) and should report only warnings: the progress counts checked parts.
pub type GetParts<'a> = dyn FnMut(&[&PartRef], &Deliver<'_>) -> Result<()> + Send + 'a;

/// [`obtain_parts`] with the fetching left to `get`, which is given the missing parts (only
/// when some are).
pub fn obtain_parts_with(
    store: &Store,
    head: &JigdoHead,
    get: &mut GetParts<'_>,
    progress: &dyn Progress,
) -> Result<(Assembled, PartsFetched)> {
    let delta_used = delta_applies(store, head)?;
    let missing = missing_wanted_parts(store, head, delta_used)?;
    let mut report =
        PartsFetched { parts_total: head.wanted_parts(delta_used).len(), delta_used, ..Default::default() };
    let batch = store.batch()?;
    let mut pieces: HashMap<BlobId, Vec<u8>> = HashMap::new();
    let mut temporary = Vec::new();
    if !missing.is_empty() {
        progress.start("fetching and checking parts", missing.len() as u64);
        // Each part is checked (decompressed and hashed) as soon as it has arrived, while
        // later ones are still being fetched; the first failure stops the fetching.
        let checked = fetch_and_work(
            &missing,
            rayon::current_num_threads(),
            |missing, deliver| get(missing, deliver),
            |_, part, result| {
                let got = result.map_err(|e| part_error(part, rejig_format::chain(&e)))?;
                // A delta records part is unpacked below, not kept.
                let keep = (part.kind != PartKind::DeltaRecords).then_some(&batch);
                let file = read_part(&got.path, Expect::Bound(part), keep)?;
                progress.advance(1);
                Ok::<_, Error>((file, got))
            },
        )?;
        for (part, (file, got)) in missing.iter().zip(checked) {
            if matches!(part.kind, PartKind::Records | PartKind::DeltaRecords) {
                pieces.insert(part.content, file.records);
            }
            report.delta_parts_fetched += usize::from(part.kind.is_delta());
            report.parts_fetched += 1;
            report.part_bytes_fetched += got.size;
            report.part_bytes_downloaded += got.bytes_downloaded;
            if got.temporary {
                temporary.push(got.path.clone());
            }
        }
        progress.finish();
    }
    let reader = store.reader()?;
    let mut records = Vec::new();
    for part in head.parts.iter().filter(|p| p.kind == PartKind::Records) {
        match pieces.get(&part.content) {
            Some(bytes) => records.extend_from_slice(bytes),
            None => records.extend(store.read_blob(&reader, part.content)?),
        }
    }
    drop(reader);
    let assembled = assemble(head, &records)?;
    for (_, bytes) in &assembled.small {
        batch.add_blob(bytes)?;
    }
    // Delta objects are in the batch already; delta records are unpacked into it.
    let (mut carried, mut unpacked) = (Vec::new(), Vec::new());
    for part in missing.iter().filter(|p| p.kind.is_delta()) {
        match pieces.remove(&part.content) {
            Some(bytes) => {
                unpacked.extend(decode_delta_records(&bytes).map_err(|e| part_error(part, rejig_format::chain(&e)))?)
            }
            None => carried.push(part.content),
        }
    }
    carried.extend(unpacked.iter().map(|(id, _)| *id));
    check_delta_content(&assembled.jigdo, &carried)?;
    for (_, bytes) in &unpacked {
        batch.add_blob(bytes)?;
    }
    batch.commit()?;
    for path in temporary {
        // The store holds the contents now.
        let _ = std::fs::remove_file(path);
    }
    Ok((assembled, report))
}

/// Every part blob of `head` but the optional delta ones, each once: what the store keeps
/// with the commit (a delta object's blob is content, kept as such; a delta records part is
/// not kept).
pub fn part_blobs(head: &JigdoHead) -> Vec<BlobId> {
    head.wanted_parts(false).into_iter().map(|p| p.content).collect()
}
