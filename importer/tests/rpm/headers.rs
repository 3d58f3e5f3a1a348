//! Every package of the test corpus (`common::corpus`): lead, signature header and main header parse, and the
//! main header's SHA-256 matches signature tag 273 wherever the package carries it.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::Read;
use std::path::Path;

use rejig_importer::rpm::header::{Header, HeaderKind};
use rejig_importer::rpm::lead::{parse_lead, LEAD_LEN};
use rejig_importer::rpm::tags::tag;
use sha2::{Digest, Sha256};

#[test]
fn every_corpus_header_parses_and_its_digest_matches() {
    let mut checked = 0;
    for path in common::corpus() {
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

/// Parses a package's headers and file table.
fn file_table(path: &Path) -> rejig_importer::rpm::files::FileTable {
    let mut file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut lead = [0u8; LEAD_LEN];
    file.read_exact(&mut lead).unwrap();
    let signature = Header::read(&mut file, HeaderKind::Signature).unwrap();
    let pad = (8 - signature.raw().len() % 8) % 8;
    std::io::copy(&mut (&mut file).take(pad as u64), &mut std::io::sink()).unwrap();
    let main = Header::read(&mut file, HeaderKind::Main).unwrap();
    rejig_importer::rpm::files::FileTable::from_header(&main).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `rpm -qp --dump`: path size mtime digest mode user group isconfig isdoc rdev linkto, one line
/// per file. Fields are split on spaces from the right, since paths may contain spaces.
#[test]
fn file_tables_match_rpm_dump() {
    let mut compared = 0;
    for path in common::corpus() {
        let output = std::process::Command::new("rpm")
            .args(["-qp", "--dump", "--nosignature", "--nodigest"])
            .arg(&path)
            .output()
            .expect("rpm must be installed (run-tests.sh installs it)");
        assert!(output.status.success(), "{}: rpm failed: {}", path.display(), String::from_utf8_lossy(&output.stderr));
        let table = file_table(&path);
        let lines: Vec<&[u8]> =
            output.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty() && *l != b"(contains no files)").collect();
        assert_eq!(lines.len(), table.files.len(), "{}: file count", path.display());
        for (line, file) in lines.iter().zip(&table.files) {
            let fields: Vec<&[u8]> = line.rsplitn(11, |&b| b == b' ').collect();
            let [linkto, _rdev, _doc, _config, group, user, mode, digest, _mtime, size, dump_path] = fields[..] else {
                panic!("{}: unexpected dump line {}", path.display(), String::from_utf8_lossy(line));
            };
            let ctx = format!("{}: {}", path.display(), String::from_utf8_lossy(dump_path));
            assert_eq!(dump_path, file.path.as_slice(), "{ctx}: path");
            assert_eq!(std::str::from_utf8(size).unwrap().parse::<u64>().unwrap(), file.size, "{ctx}: size");
            assert_eq!(u32::from_str_radix(std::str::from_utf8(mode).unwrap(), 8).unwrap(), file.mode, "{ctx}: mode");
            assert_eq!(user, file.user.as_slice(), "{ctx}: user");
            assert_eq!(group, file.group.as_slice(), "{ctx}: group");
            let expected_link: &[u8] = if linkto == b"X" { b"" } else { linkto };
            assert_eq!(expected_link, file.link_target.as_slice(), "{ctx}: link target");
            if !file.digest.is_empty() {
                assert_eq!(digest, file.digest.as_slice(), "{ctx}: digest");
            } else {
                assert!(digest.iter().all(|&b| b == b'0'), "{ctx}: rpm shows a digest we lack");
            }
            compared += 1;
        }
    }
    assert!(compared > 1000, "only {compared} files compared");
}
