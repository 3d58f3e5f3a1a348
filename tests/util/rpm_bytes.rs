//! Byte surgery on RPM files for the bad-input tests: find a tag's data in the signature or
//! main header, patch it in place, and re-seal the digests rejig checks (the main header's
//! SHA-256 in signature tag 273, the payload's in PAYLOADDIGEST) so that a test changes
//! exactly one thing. Layout: 96-byte lead, signature header padded to 8, main header, payload
//! (rpm-format.md §1.2–1.4).

use sha2::{Digest, Sha256};

const LEAD: usize = 96;
/// Signature tag: SHA-256 of the main header, as hex.
pub const SIG_SHA256: u32 = 273;
/// Main header tags the tests patch.
pub const FILESIZES: u32 = 1028;
pub const FILEMODES: u32 = 1030;
pub const PAYLOADDIGEST: u32 = 5092;

/// Where the parts of a package are.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Start of the signature header.
    pub sig: usize,
    /// Start of the main header.
    pub main: usize,
    /// Start of the payload (end of the main header).
    pub payload: usize,
}

fn be32(bytes: &[u8], at: usize) -> usize {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

/// (index entries, data length) of the header at `at`.
fn sizes(bytes: &[u8], at: usize) -> (usize, usize) {
    assert_eq!(&bytes[at..at + 3], &[0x8e, 0xad, 0xe8], "no header magic at {at}");
    (be32(bytes, at + 8), be32(bytes, at + 12))
}

/// The package's layout.
pub fn layout(bytes: &[u8]) -> Layout {
    let (il, dl) = sizes(bytes, LEAD);
    let sig_end = LEAD + 16 + 16 * il + dl;
    let main = sig_end + (8 - (sig_end - LEAD) % 8) % 8;
    let (il, dl) = sizes(bytes, main);
    Layout { sig: LEAD, main, payload: main + 16 + 16 * il + dl }
}

/// Absolute offset, type and count of `tag`'s data in the header at `header`.
pub fn tag_data(bytes: &[u8], header: usize, tag: u32) -> Option<(usize, u32, usize)> {
    let (il, _) = sizes(bytes, header);
    let data = header + 16 + 16 * il;
    (0..il)
        .map(|i| header + 16 + 16 * i)
        .find(|&e| be32(bytes, e) == tag as usize)
        .map(|e| (data + be32(bytes, e + 8), be32(bytes, e + 4) as u32, be32(bytes, e + 12)))
}

/// Replaces the one occurrence of `from` in the main header by `to`, of the same length.
pub fn replace_in_main_header(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len(), "in-place patches keep the length");
    let l = layout(bytes);
    let header = &bytes[l.main..l.payload];
    let hits: Vec<usize> = header.windows(from.len()).enumerate().filter(|(_, w)| *w == from).map(|(i, _)| i).collect();
    assert_eq!(hits.len(), 1, "{:?} should occur once in the main header", String::from_utf8_lossy(from));
    bytes[l.main + hits[0]..l.main + hits[0] + to.len()].copy_from_slice(to);
}

/// Writes the `index`th item of an INT16 or INT32 array tag of the main header.
pub fn set_main_integer(bytes: &mut [u8], tag: u32, index: usize, value: u32) {
    let (at, kind, count) = tag_data(bytes, layout(bytes).main, tag).unwrap_or_else(|| panic!("no tag {tag}"));
    assert!(index < count, "tag {tag} has {count} items");
    match kind {
        3 => bytes[at + 2 * index..at + 2 * index + 2].copy_from_slice(&(value as u16).to_be_bytes()),
        4 => bytes[at + 4 * index..at + 4 * index + 4].copy_from_slice(&value.to_be_bytes()),
        other => panic!("tag {tag} has type {other}, not INT16 or INT32"),
    }
}

fn hex(digest: &[u8]) -> Vec<u8> {
    digest.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect()
}

/// Re-seals signature tag 273 (the main header's SHA-256) after the main header changed.
pub fn reseal_header(bytes: &mut [u8]) {
    let l = layout(bytes);
    let digest = hex(&Sha256::digest(&bytes[l.main..l.payload]));
    if let Some((at, _, _)) = tag_data(bytes, l.sig, SIG_SHA256) {
        bytes[at..at + 64].copy_from_slice(&digest);
    }
}

/// Re-seals PAYLOADDIGEST after the payload changed, then the header digest.
pub fn reseal_payload(bytes: &mut [u8]) {
    let l = layout(bytes);
    let digest = hex(&Sha256::digest(&bytes[l.payload..]));
    let (at, _, _) = tag_data(bytes, l.main, PAYLOADDIGEST).expect("the package records a payload digest");
    bytes[at..at + 64].copy_from_slice(&digest);
    reseal_header(bytes);
}
