//! The OpenPGP signatures `rpmsign --addsign` puts in the signature header (rpm-format.md
//! "Signature tags"), taken out with bounds and type checks. Nothing here checks a signature:
//! this only says which bytes each one claims to cover and hands over the OpenPGP packet,
//! for a verifier to parse and check.
//!
//! | tag | name | covers | made for |
//! |-----|------|--------|----------|
//! | 267 | DSAHEADER | main header | DSA, ECDSA and EdDSA keys |
//! | 268 | RSAHEADER | main header | RSA keys |
//! | 1002 | PGP | main header + payload | RSA keys (`--rpmv3`) |
//! | 1005 | GPG | main header + payload | DSA, ECDSA and EdDSA keys (`--rpmv3`) |
//!
//! Each must be BIN, at most [`MAX_SIGNATURE_LEN`] bytes, and start like an OpenPGP packet.

use std::io::Read;

use super::error::{RpmError, RpmResult};
use super::header::{Header, HeaderKind};
use super::lead::{parse_lead, LEAD_LEN};
use super::tags::TagType;

/// Signature tag: a header-only DSA/ECDSA/EdDSA signature.
pub const SIG_DSAHEADER: u32 = 267;
/// Signature tag: a header-only RSA signature.
pub const SIG_RSAHEADER: u32 = 268;
/// Signature tag: a header+payload RSA signature.
pub const SIG_PGP: u32 = 1002;
/// Signature tag: a header+payload DSA/ECDSA/EdDSA signature.
pub const SIG_GPG: u32 = 1005;

/// The largest OpenPGP signature packet taken from a tag. An RSA-16384 signature with every
/// subpacket gpg writes is about 2.5 KiB; anything larger is not a signature rpmsign made.
pub const MAX_SIGNATURE_LEN: usize = 16 * 1024;

/// What a signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedRange {
    /// The main header's bytes, from its magic to the end of its data store.
    Header,
    /// The main header's bytes followed by every byte of the payload to the end of the file.
    HeaderAndPayload,
}

/// One OpenPGP signature out of the signature header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmSignature {
    /// Its tag number.
    pub tag: u32,
    /// Its tag name, as rpm calls it.
    pub name: &'static str,
    /// What it covers.
    pub range: SignedRange,
    /// The OpenPGP signature packet, unparsed.
    pub packet: Vec<u8>,
}

const TAGS: [(u32, &str, SignedRange); 4] = [
    (SIG_RSAHEADER, "RSAHEADER", SignedRange::Header),
    (SIG_DSAHEADER, "DSAHEADER", SignedRange::Header),
    (SIG_PGP, "PGP", SignedRange::HeaderAndPayload),
    (SIG_GPG, "GPG", SignedRange::HeaderAndPayload),
];

/// Every OpenPGP signature in a validated signature header, header-only ones first.
pub fn openpgp_signatures(signature: &Header) -> RpmResult<Vec<RpmSignature>> {
    let what = "signature header";
    if signature.kind() != HeaderKind::Signature {
        return Err(RpmError::new(what, "signatures are read from the signature header only"));
    }
    let mut out = Vec::new();
    for (tag, name, range) in TAGS {
        let Some(entry) = signature.entry(tag) else { continue };
        if entry.kind != TagType::Bin {
            return Err(RpmError::new(what, format!("{name} (tag {tag}) has type {:?}, not BIN", entry.kind)));
        }
        let packet = signature.bin(tag)?.unwrap_or_default();
        if packet.len() > MAX_SIGNATURE_LEN {
            return Err(RpmError::new(
                what,
                format!("{name} (tag {tag}) is {} bytes, over the {MAX_SIGNATURE_LEN}-byte limit", packet.len()),
            ));
        }
        // An OpenPGP packet header always has its top bit set (RFC 9580 §4.2).
        if packet.first().is_none_or(|&b| b & 0x80 == 0) {
            return Err(RpmError::new(what, format!("{name} (tag {tag}) is not an OpenPGP packet")));
        }
        out.push(RpmSignature { tag, name, range, packet: packet.to_vec() });
    }
    Ok(out)
}

/// Reads the lead and the signature header from the start of a package and returns its
/// OpenPGP signatures. Reads at most the lead, 32 index entries and 64 MiB of header data,
/// and allocates only as bytes arrive.
pub fn read_signatures(reader: &mut dyn Read) -> RpmResult<Vec<RpmSignature>> {
    let mut lead = [0u8; LEAD_LEN];
    reader.read_exact(&mut lead).map_err(|e| RpmError::new("lead", format!("truncated: {e}")))?;
    parse_lead(&lead)?;
    let signature = Header::read(reader, HeaderKind::Signature)?;
    openpgp_signatures(&signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature header with a region and the given (tag, type, data) entries.
    fn signature_header(entries: &[(u32, TagType, Vec<u8>)]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, kind, bytes) in entries {
            let count = if *kind == TagType::String { 1 } else { bytes.len() as u32 };
            index.push((*tag, *kind as u32, data.len() as u32, count));
            data.extend_from_slice(bytes);
        }
        let il = entries.len() as u32 + 1;
        let trailer_offset = data.len() as u32;
        data.extend_from_slice(&62u32.to_be_bytes());
        data.extend_from_slice(&7u32.to_be_bytes());
        data.extend_from_slice(&(-((il * 16) as i32)).to_be_bytes());
        data.extend_from_slice(&16u32.to_be_bytes());
        let mut out = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        out.extend_from_slice(&il.to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, kind, offset, count) in [(62, 7, trailer_offset, 16)].into_iter().chain(index) {
            for v in [tag, kind, offset, count] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        out.extend_from_slice(&data);
        out
    }

    fn package(entries: &[(u32, TagType, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0xed, 0xab, 0xee, 0xdb, 3, 0];
        out.resize(LEAD_LEN, 0);
        out.extend_from_slice(&signature_header(entries));
        out
    }

    #[test]
    fn every_signature_tag_is_found_with_its_range() {
        let bytes = package(&[
            (SIG_RSAHEADER, TagType::Bin, vec![0x89, 1, 2]),
            (SIG_PGP, TagType::Bin, vec![0x89, 3]),
            (SIG_GPG, TagType::Bin, vec![0xc2, 4]),
        ]);
        let found = read_signatures(&mut bytes.as_slice()).unwrap();
        let summary: Vec<_> = found.iter().map(|s| (s.name, s.range, s.packet.len())).collect();
        assert_eq!(
            summary,
            [
                ("RSAHEADER", SignedRange::Header, 3),
                ("PGP", SignedRange::HeaderAndPayload, 2),
                ("GPG", SignedRange::HeaderAndPayload, 2)
            ]
        );
    }

    #[test]
    fn an_unsigned_package_has_none() {
        let bytes = package(&[(273, TagType::String, b"ab\0".to_vec())]);
        assert!(read_signatures(&mut bytes.as_slice()).unwrap().is_empty());
    }

    #[test]
    fn wrong_types_oversized_and_non_packets_are_refused() {
        let cases = [
            (vec![(SIG_DSAHEADER, TagType::String, b"x\0".to_vec())], "not BIN"),
            (vec![(SIG_RSAHEADER, TagType::Bin, vec![0x89; MAX_SIGNATURE_LEN + 1])], "over the"),
            (vec![(SIG_GPG, TagType::Bin, vec![0x10, 0x20])], "not an OpenPGP packet"),
        ];
        for (entries, expected) in cases {
            let bytes = package(&entries);
            let error = read_signatures(&mut bytes.as_slice()).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        let error = read_signatures(&mut &b"not an rpm"[..]).unwrap_err().to_string();
        assert!(error.contains("lead"), "{error}");
    }
}
