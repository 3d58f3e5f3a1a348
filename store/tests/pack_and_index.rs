//! The store end to end: batches become packs and index entries together, damage is found by
//! fsck, the index can be rebuilt from the packs, and an abandoned batch leaves nothing.

#![allow(clippy::unwrap_used)]

use std::io::Read;

use rejig_format::object::{metadata_checksum, FileHeader, FileMeta, XattrSet};
use rejig_format::pack::Codec;
use rejig_format::{ObjectKey, ObjectRecord, ObjectType};
use rejig_store::fsck::{fsck, repair};
use rejig_store::{OpenMode, Store};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, &|holder| panic!("unexpected wait for {holder}")).unwrap()
}

fn regular(uid: u32) -> FileHeader {
    FileHeader::regular(FileMeta::new(uid, 0, 0o644, XattrSet::new()).unwrap())
}

/// Adds `data` as a regular-file object and returns its key.
fn add_file(batch: &rejig_store::Batch<'_>, data: &[u8], uid: u32) -> ObjectKey {
    let header = regular(uid);
    let key = ObjectKey::new(header.checksum(data), ObjectType::File);
    let blob = batch.add_blob(data).unwrap();
    batch.add_object(key, &ObjectRecord::Regular { header, blob }).unwrap();
    key
}

fn pack_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("packs")).unwrap().map(|e| e.unwrap().path()).collect()
}

#[test]
fn committed_batches_survive_reopen_and_dedupe_content() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (small_key, big_key, other_owner_key);
    {
        let store = open(dir.path());
        let batch = store.batch().unwrap();
        small_key = add_file(&batch, b"hello world\n", 1000);
        big_key = add_file(&batch, &big, 0);
        // The same bytes under other metadata: a second object, one blob.
        other_owner_key = add_file(&batch, b"hello world\n", 0);
        let summary = batch.commit().unwrap();
        assert_eq!(summary.blobs, 2, "identical content must be stored once");
        assert_eq!(summary.objects, 3);
        assert!(summary.pack_bytes < big.len() as u64, "zstd should shrink the repetitive blob");
    }
    let store = open(dir.path());
    let reader = store.reader().unwrap();
    for key in [small_key, big_key, other_owner_key] {
        assert!(reader.contains_object(&key).unwrap(), "{key} lost after reopen");
    }
    let ObjectRecord::Regular { blob, .. } = reader.object(&big_key).unwrap().unwrap() else { panic!("not regular") };
    assert_eq!(store.read_blob(&reader, blob).unwrap(), big);
    let report = fsck(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.objects, 3);
}

#[test]
fn streamed_blobs_roll_back_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let batch = store.batch().unwrap();
    let (first, len) = batch.add_blob_stream(&mut data.as_slice()).unwrap();
    assert_eq!(len, data.len() as u64);
    let (second, _) = batch.add_blob_stream(&mut data.as_slice()).unwrap();
    assert_eq!(first, second);
    let header = regular(0);
    batch
        .add_object(
            ObjectKey::new(header.checksum(&data), ObjectType::File),
            &ObjectRecord::Regular { header, blob: first },
        )
        .unwrap();
    let summary = batch.commit().unwrap();
    assert_eq!(summary.blobs, 1, "the duplicate stream must not be kept");
    let reader = store.reader().unwrap();
    let mut stream = store.open_blob(first, reader.blob(&first).unwrap().unwrap()).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn streamed_blobs_that_do_not_compress_are_stored_raw() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // 9 MiB that zstd cannot shrink (BLAKE3's output stream, like an already compressed
    // initramfs), and 9 MiB that it can.
    let mut noise = vec![0u8; 9 << 20];
    blake3::Hasher::new().update(b"noise").finalize_xof().fill(&mut noise);
    let text: Vec<u8> = (0..9u32 << 20).map(|i| b"abcdefgh"[(i % 8) as usize] ^ (i / 4096 % 3) as u8).collect();
    let batch = store.batch().unwrap();
    let (noisy, _) = batch.add_blob_stream(&mut noise.as_slice()).unwrap();
    let (plain, _) = batch.add_blob_stream(&mut text.as_slice()).unwrap();
    batch.commit().unwrap();
    let reader = store.reader().unwrap();
    let noisy_at = reader.blob(&noisy).unwrap().unwrap();
    assert_eq!((noisy_at.codec, noisy_at.stored_len), (Codec::Raw, noise.len() as u64));
    let plain_at = reader.blob(&plain).unwrap().unwrap();
    assert_eq!(plain_at.codec, Codec::Zstd);
    assert!(plain_at.stored_len < text.len() as u64 / 10, "{plain_at:?}");
    for (id, at, data) in [(noisy, noisy_at, &noise), (plain, plain_at, &text)] {
        let mut back = Vec::new();
        store.open_blob(id, at).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == *data, "blob {id} reads back different bytes");
    }
    let report = fsck(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn abandoned_batch_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    {
        let batch = store.batch().unwrap();
        add_file(&batch, b"never committed", 0);
    }
    assert!(pack_files(dir.path()).is_empty());
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "temp pack left behind");
    assert_eq!(store.reader().unwrap().stats().unwrap().objects, 0);
}

#[test]
fn fsck_finds_a_flipped_byte_and_repair_rebuilds_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let key;
    {
        let store = open(dir.path());
        let batch = store.batch().unwrap();
        key = add_file(&batch, &data, 0);
        let tree = vec![0u8];
        let blob = batch.add_blob(&tree).unwrap();
        batch
            .add_object(ObjectKey::new(metadata_checksum(&tree), ObjectType::DirTree), &ObjectRecord::Metadata { blob })
            .unwrap();
        batch.add_root(ObjectKey::new(metadata_checksum(b"c"), ObjectType::Commit)).unwrap();
        batch.commit().unwrap();
    }
    // Losing the index loses nothing: the store refuses to open as if empty, and the packs
    // rebuild it.
    std::fs::remove_file(dir.path().join("index.redb")).unwrap();
    {
        let refused = Store::open(dir.path(), &|_| {}).err().expect("a store with packs and no index is refused");
        assert!(refused.to_string().contains("fsck --repair"), "{refused}");
        let store = Store::open_with(dir.path(), "a test", OpenMode::Repair, &|_| {}).unwrap();
        let rebuilt = repair(&store).unwrap();
        assert_eq!(rebuilt.packs_indexed, 1);
        assert_eq!(rebuilt.stats.objects, 2);
        // The root names a commit no pack holds (this test never wrote one): a rebuild
        // drops it, as it drops anything else that refers to missing data.
        assert_eq!(rebuilt.stats.roots, 0);
        assert_eq!(rebuilt.entries_dropped, 1);
        assert!(store.reader().unwrap().contains_object(&key).unwrap());
        assert!(fsck(&store).unwrap().problems.is_empty());
    }
    // Flip a byte in the blob data (after the 8-byte magic, well before the trailer).
    let pack = pack_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&pack, &bytes).unwrap();
    let store = open(dir.path());
    let report = fsck(&store).unwrap();
    assert!(!report.problems.is_empty(), "a flipped byte went unnoticed");
    assert!(report.problems.iter().any(|p| p.contains(&key.id.to_hex())), "{:?}", report.problems);
}

#[test]
fn damaged_trailer_is_reported_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let batch = store.batch().unwrap();
        add_file(&batch, b"content", 0);
        batch.commit().unwrap();
    }
    let pack = pack_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&pack).unwrap().len();
    let mut bytes = std::fs::read(&pack).unwrap();
    let at = (len - 30) as usize;
    bytes[at] ^= 1;
    std::fs::write(&pack, &bytes).unwrap();
    let store = open(dir.path());
    assert!(!fsck(&store).unwrap().problems.is_empty());
    let rebuilt = repair(&store).unwrap();
    assert_eq!(rebuilt.packs_indexed, 0);
    assert_eq!(rebuilt.packs_skipped.len(), 1);
}

#[test]
fn a_second_opener_waits_and_is_told_who_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let path = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let told = std::sync::Mutex::new(None);
        let store = Store::open(&path, &|holder| *told.lock().unwrap() = Some(holder.to_owned())).unwrap();
        tx.send(()).unwrap();
        drop(store);
        told.into_inner().unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "the second opener did not wait");
    drop(first);
    let holder = waiter.join().unwrap().expect("the waiter was not told who held the lock");
    assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}");
}
