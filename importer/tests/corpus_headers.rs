//! Every package in the shared corpus: lead, signature header and main header parse, and the
//! main header's SHA-256 matches signature tag 273 wherever the package carries it.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};

use rejig_importer::rpm::header::{Header, HeaderKind};
use rejig_importer::rpm::lead::{parse_lead, LEAD_LEN};
use rejig_importer::rpm::tags::tag;
use sha2::{Digest, Sha256};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/rpms");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 40, "the shared corpus is missing: {} packages", out.len());
    out
}

#[test]
fn every_corpus_header_parses_and_its_digest_matches() {
    let mut checked = 0;
    for path in corpus() {
        let mut file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let mut lead = [0u8; LEAD_LEN];
        file.read_exact(&mut lead).unwrap();
        parse_lead(&lead).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let signature =
            Header::read(&mut file, HeaderKind::Signature).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let pad = (8 - signature.raw().len() % 8) % 8;
        std::io::copy(&mut (&mut file).take(pad as u64), &mut std::io::sink()).unwrap();
        let main = Header::read(&mut file, HeaderKind::Main).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(main.string(tag::NAME).unwrap().is_some(), "{}: no NAME", path.display());
        if let Some(expected) = signature.string(tag::SIG_SHA256).unwrap() {
            let actual = hex::encode(Sha256::digest(main.raw()));
            // The corrupted package's damage is in its payload; its header is intact.
            assert_eq!(actual.as_bytes(), expected, "{}: header SHA-256", path.display());
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} packages carried a header SHA-256");
}
