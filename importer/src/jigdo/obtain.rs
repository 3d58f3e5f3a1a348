//! Getting a jigdo's parts into the store and putting the description back together.
//!
//! The store keeps parts as blobs named by their contents' BLAKE3, so a part an earlier
//! version brought is not fetched again. Missing parts are fetched like packages (same
//! sources, mirrors, retries and resume), each checked against every digest the head binds,
//! and stored in one batch committed only when all of them checked out: a bad part leaves
//! the store as it was. The description is then assembled from the stored records.

use std::collections::{HashMap, HashSet};

use rejig_format::jigdo::{assemble, Assembled, JigdoHead, PartKind, PartRef};
use rejig_format::{BlobId, PackageBinding};
use rejig_store::{Progress, Store};

use crate::error::{Error, Result};
use crate::jigdo::part::{read_part, Expect, PartFile};
use crate::source::{fetch, Catalog, FetchOptions, Fetched};
use rayon::prelude::*;

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
}

/// The parts of `head` the store lacks, each once, in list order.
pub fn missing_parts<'h>(store: &Store, head: &'h JigdoHead) -> Result<Vec<&'h PartRef>> {
    let reader = store.reader()?;
    let mut missing = Vec::new();
    for part in head.unique_parts() {
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
    let mut get = |missing: &[&PartRef]| -> Result<Vec<Result<Fetched>>> {
        let Some(catalog) = catalog else {
            let first = missing.first().map(|p| p.nevra().to_string()).unwrap_or_default();
            return Err(Error::Fetch {
                package: format!("part {first}"),
                detail: format!("{} parts are needed and no source was given", missing.len()),
            });
        };
        let wanted: Vec<PackageBinding> = missing.iter().map(|p| p.binding()).collect();
        Ok(fetch(catalog, &wanted, download_dir, options, progress))
    };
    obtain_parts_with(store, head, &mut get, progress)
}

/// Fetches the given parts: one result per part, in order.
pub type GetParts<'a> = dyn FnMut(&[&PartRef]) -> Result<Vec<Result<Fetched>>> + 'a;

/// [`obtain_parts`] with the fetching left to `get`, which is given the missing parts (only
/// when some are) and returns one result per part, in order.
pub fn obtain_parts_with(
    store: &Store,
    head: &JigdoHead,
    get: &mut GetParts<'_>,
    progress: &dyn Progress,
) -> Result<(Assembled, PartsFetched)> {
    let missing = missing_parts(store, head)?;
    let mut report = PartsFetched { parts_total: head.unique_parts().len(), ..Default::default() };
    let batch = store.batch()?;
    let mut pieces: HashMap<BlobId, Vec<u8>> = HashMap::new();
    let mut temporary = Vec::new();
    if !missing.is_empty() {
        let fetched = get(&missing)?;
        if fetched.len() != missing.len() {
            return Err(Error::Fetch {
                package: "parts".to_owned(),
                detail: format!("internal error: {} results for {} parts", fetched.len(), missing.len()),
            });
        }
        progress.start("checking parts", missing.len() as u64);
        // Parts are checked in parallel (each decompresses and hashes its own file); the
        // first failure in list order is the one reported.
        let checked: Vec<Result<(PartFile, Fetched)>> = missing
            .par_iter()
            .zip(fetched)
            .map(|(part, result)| {
                let got = result.map_err(|e| part_error(part, rejig_format::chain(&e)))?;
                let file = read_part(&got.path, Expect::Bound(part), Some(&batch))?;
                progress.advance(1);
                Ok((file, got))
            })
            .collect();
        for (part, result) in missing.iter().zip(checked) {
            let (file, got) = result?;
            if part.kind == PartKind::Records {
                pieces.insert(part.content, file.records);
            }
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
    batch.commit()?;
    for path in temporary {
        // The store holds the contents now.
        let _ = std::fs::remove_file(path);
    }
    Ok((assembled, report))
}

/// Every part blob of `head`, each once: what the store keeps with the commit.
pub fn part_blobs(head: &JigdoHead) -> Vec<BlobId> {
    let mut seen = HashSet::new();
    head.parts.iter().map(|p| p.content).filter(|c| seen.insert(*c)).collect()
}
