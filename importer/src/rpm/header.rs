//! RPM headers (rpm-format.md §1.3–1.4): an intro, an index of 16-byte entries and a data
//! store, validated with librpm's rules (`lib/header.cc`: hdrblobVerifyLengths,
//! hdrblobVerifyRegion, hdrblobVerifyInfo) before anything is believed:
//! - `il` and `dl` are within the limits for the header kind, checked before allocating;
//! - the first entry is a region whose trailer lies in the data and covers every entry
//!   (package files carry no entries outside the region);
//! - every other entry has a tag ≥ 100, a known type, a count in 1..=dl (and at most
//!   0xFFFFF items unless BIN), aligned data that fits, in increasing order without overlap,
//!   and (main header) the right type for a known tag.
//!
//! Accessors re-derive every slice from validated bounds and return errors, never panic.

use std::io::Read;

use super::error::{RpmError, RpmResult};
use super::tags::{expected_main_type, tag, TagType};

/// `8E AD E8 01`.
pub const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
const ENTRY_LEN: u32 = 16;

/// Which header, which decides its limits and its region tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKind {
    /// The signature header: at most 32 entries and 64 MiB of data.
    Signature,
    /// The main header: at most 65535 entries and 256 MiB.
    Main,
}

impl HeaderKind {
    fn what(self) -> &'static str {
        match self {
            HeaderKind::Signature => "signature header",
            HeaderKind::Main => "main header",
        }
    }

    fn limits(self) -> (u32, u32) {
        match self {
            HeaderKind::Signature => (32, 64 << 20),
            HeaderKind::Main => (0xffff, 0x0fff_ffff),
        }
    }

    fn region_tag(self) -> u32 {
        match self {
            HeaderKind::Signature => tag::HEADERSIGNATURES,
            HeaderKind::Main => tag::HEADERIMMUTABLE,
        }
    }
}

/// One validated index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The tag.
    pub tag: u32,
    /// The data type.
    pub kind: TagType,
    /// Offset of the data in the store.
    pub offset: u32,
    /// Item count.
    pub count: u32,
    /// Length of the data in bytes (validated to fit).
    pub len: u32,
}

/// A validated header.
#[derive(Clone, Debug)]
pub struct Header {
    kind: HeaderKind,
    /// Entries sorted by tag, for lookup.
    entries: Vec<Entry>,
    /// The on-disk bytes from the magic to the end of the data store (what digests cover).
    raw: Vec<u8>,
    /// Where the data store starts in `raw`.
    data_start: usize,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    if let Some(slice) = bytes.get(at..at + 4) {
        raw.copy_from_slice(slice);
    }
    u32::from_be_bytes(raw)
}

/// The length of an entry's data, walking strings within `data`.
fn data_length(kind: TagType, count: u32, data: &[u8], what: &'static str) -> RpmResult<u32> {
    let bad = |detail: &str| RpmError::new(what, detail.to_owned());
    if let Some(size) = kind.item_size() {
        let len = count.checked_mul(size).ok_or_else(|| bad("data length overflows"))?;
        if len as usize > data.len() {
            return Err(bad("data runs past the end of the store"));
        }
        return Ok(len);
    }
    if kind == TagType::String && count != 1 {
        return Err(bad("a STRING entry must have count 1"));
    }
    let mut position = 0usize;
    for _ in 0..count {
        let rest = data.get(position..).ok_or_else(|| bad("string data out of bounds"))?;
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(|| bad("unterminated string"))?;
        position += nul + 1;
    }
    u32::try_from(position).map_err(|_| bad("string data too long"))
}

impl Header {
    /// Reads and validates a header from `reader`. Memory grows only as bytes arrive, so a
    /// short hostile input cannot make it allocate its declared size.
    pub fn read(reader: &mut dyn Read, kind: HeaderKind) -> RpmResult<Self> {
        let what = kind.what();
        let mut intro = [0u8; 16];
        reader.read_exact(&mut intro).map_err(|e| RpmError::new(what, format!("truncated intro: {e}")))?;
        let (il, dl) = Self::check_intro(&intro, kind)?;
        let body_len = u64::from(il) * u64::from(ENTRY_LEN) + u64::from(dl);
        let mut raw = intro.to_vec();
        reader.take(body_len).read_to_end(&mut raw).map_err(|e| RpmError::new(what, format!("read failed: {e}")))?;
        if raw.len() as u64 != 16 + body_len {
            return Err(RpmError::new(what, format!("truncated: {} of {} bytes", raw.len(), 16 + body_len)));
        }
        Self::validate(raw, kind, il, dl)
    }

    /// Parses a header at the start of `bytes`, returning it and the bytes it used.
    pub fn parse(bytes: &[u8], kind: HeaderKind) -> RpmResult<(Self, usize)> {
        let mut reader = bytes;
        let header = Self::read(&mut reader, kind)?;
        let used = bytes.len() - reader.len();
        Ok((header, used))
    }

    fn check_intro(intro: &[u8; 16], kind: HeaderKind) -> RpmResult<(u32, u32)> {
        let what = kind.what();
        if intro[..4] != HEADER_MAGIC {
            return Err(RpmError::new(what, "bad magic"));
        }
        let (il, dl) = (be32(intro, 8), be32(intro, 12));
        let (max_il, max_dl) = kind.limits();
        if il == 0 || il > max_il {
            return Err(RpmError::new(what, format!("{il} index entries (allowed 1..={max_il})")));
        }
        if dl > max_dl {
            return Err(RpmError::new(what, format!("{dl} bytes of data (allowed up to {max_dl})")));
        }
        if kind == HeaderKind::Main && 8 + 16 * u64::from(il) + u64::from(dl) >= 256 << 20 {
            return Err(RpmError::new(what, "larger than 256 MiB"));
        }
        Ok((il, dl))
    }

    fn validate(raw: Vec<u8>, kind: HeaderKind, il: u32, dl: u32) -> RpmResult<Self> {
        let what = kind.what();
        let bad = |detail: String| RpmError::new(what, detail);
        let data_start = 16 + il as usize * ENTRY_LEN as usize;
        let data = raw.get(data_start..).ok_or_else(|| bad("index runs past the header".into()))?;
        let read_entry = |i: usize| -> (u32, u32, u32, u32) {
            let at = 16 + i * ENTRY_LEN as usize;
            (be32(&raw, at), be32(&raw, at + 4), be32(&raw, at + 8), be32(&raw, at + 12))
        };

        // The region (hdrblobVerifyRegion).
        let (first_tag, first_type, first_offset, first_count) = read_entry(0);
        let has_region = matches!(first_tag, tag::HEADERIMAGE | tag::HEADERSIGNATURES | tag::HEADERIMMUTABLE);
        let mut region_data_end = 0u32;
        if has_region {
            if first_type != TagType::Bin as u32 || first_count != ENTRY_LEN {
                return Err(bad("invalid region tag".into()));
            }
            let trailer_end = first_offset
                .checked_add(ENTRY_LEN)
                .filter(|&end| end <= dl)
                .ok_or_else(|| bad("region trailer outside the data".into()))?;
            let trailer = data
                .get(first_offset as usize..trailer_end as usize)
                .ok_or_else(|| bad("region trailer outside the data".into()))?;
            let (mut t_tag, t_type, t_offset, t_count) =
                (be32(trailer, 0), be32(trailer, 4), be32(trailer, 8), be32(trailer, 12));
            if kind == HeaderKind::Signature && t_tag == tag::HEADERIMAGE {
                t_tag = tag::HEADERSIGNATURES;
            }
            if t_tag != kind.region_tag() || t_type != TagType::Bin as u32 || t_count != ENTRY_LEN {
                return Err(bad("invalid region trailer".into()));
            }
            // The trailer offset is negative: minus the bytes of index the region covers.
            let covered = (t_offset as i32)
                .checked_neg()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("invalid region size".into()))?;
            if covered % ENTRY_LEN != 0 || covered / ENTRY_LEN != il || trailer_end != dl {
                return Err(bad(format!(
                    "region covers {} of {il} entries and {trailer_end} of {dl} bytes; package headers must be one whole region",
                    covered / ENTRY_LEN
                )));
            }
            region_data_end = trailer_end;
        }

        // Every other entry (hdrblobVerifyInfo).
        let mut entries = Vec::with_capacity(il as usize);
        let mut end = 0u32;
        for i in usize::from(has_region)..il as usize {
            let (tag, type_number, offset, count) = read_entry(i);
            let kind_of =
                TagType::from_u32(type_number).ok_or_else(|| bad(format!("tag {tag}: invalid type {type_number}")))?;
            if tag < tag::HEADERI18NTABLE {
                return Err(bad(format!("invalid tag {tag} outside the region")));
            }
            if count == 0 || count > dl || (kind_of != TagType::Bin && count > 0xfffff) {
                return Err(bad(format!("tag {tag}: invalid count {count}")));
            }
            if offset > dl {
                return Err(bad(format!("tag {tag}: offset {offset} beyond the data")));
            }
            if let Some(size) = kind_of.item_size() {
                if offset % size != 0 {
                    return Err(bad(format!("tag {tag}: misaligned data at {offset}")));
                }
            }
            if offset < end {
                return Err(bad(format!("tag {tag}: data overlaps the previous entry")));
            }
            if kind == HeaderKind::Main {
                if let Some(expected) = expected_main_type(tag) {
                    let compatible = expected == kind_of || (expected.is_string_class() && kind_of.is_string_class());
                    if !compatible {
                        return Err(bad(format!("tag {tag} has type {kind_of:?}, expected {expected:?}")));
                    }
                }
            }
            let rest =
                data.get(offset as usize..dl as usize).ok_or_else(|| bad(format!("tag {tag}: data out of bounds")))?;
            let len = data_length(kind_of, count, rest, what)?;
            end = offset + len;
            if has_region && end > region_data_end - ENTRY_LEN && offset < region_data_end {
                return Err(bad(format!("tag {tag}: data overlaps the region trailer")));
            }
            entries.push(Entry { tag, kind: kind_of, offset, count, len });
        }
        entries.sort_by_key(|e| e.tag);
        if entries.windows(2).any(|w| w.first().map(|e| e.tag) == w.get(1).map(|e| e.tag)) {
            return Err(bad("duplicate tags".into()));
        }
        Ok(Self { kind, entries, raw, data_start })
    }

    /// The header's bytes from its magic to the end of its data store, as digests cover them.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Which header this is.
    pub fn kind(&self) -> HeaderKind {
        self.kind
    }

    /// The entry for `tag`, if present.
    pub fn entry(&self, tag: u32) -> Option<&Entry> {
        self.entries.binary_search_by_key(&tag, |e| e.tag).ok().and_then(|i| self.entries.get(i))
    }

    /// All entries, sorted by tag.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn bytes_of(&self, entry: &Entry) -> RpmResult<&[u8]> {
        let start = self.data_start + entry.offset as usize;
        self.raw
            .get(start..start + entry.len as usize)
            .ok_or_else(|| RpmError::new(self.kind.what(), "entry data out of bounds"))
    }

    fn typed(&self, tag: u32, allowed: &[TagType]) -> RpmResult<Option<(&Entry, &[u8])>> {
        let Some(entry) = self.entry(tag) else { return Ok(None) };
        if !allowed.contains(&entry.kind) {
            return Err(RpmError::new(self.kind.what(), format!("tag {tag} has type {:?}", entry.kind)));
        }
        Ok(Some((entry, self.bytes_of(entry)?)))
    }

    /// A STRING (or the first item of a string array or I18N string), without its NUL.
    pub fn string(&self, tag: u32) -> RpmResult<Option<&[u8]>> {
        let allowed = [TagType::String, TagType::StringArray, TagType::I18nString];
        Ok(self.typed(tag, &allowed)?.and_then(|(_, bytes)| bytes.split(|&b| b == 0).next()))
    }

    /// A STRING_ARRAY (or a STRING as one item), each item without its NUL.
    pub fn string_array(&self, tag: u32) -> RpmResult<Option<Vec<&[u8]>>> {
        let allowed = [TagType::String, TagType::StringArray, TagType::I18nString];
        Ok(self.typed(tag, &allowed)?.map(|(entry, bytes)| {
            let mut items: Vec<&[u8]> = bytes.split(|&b| b == 0).collect();
            items.truncate(entry.count as usize);
            items
        }))
    }

    /// Integers of any width as u64 (INT8/16/32/64 and CHAR).
    pub fn integers(&self, tag: u32) -> RpmResult<Option<Vec<u64>>> {
        let allowed = [TagType::Char, TagType::Int8, TagType::Int16, TagType::Int32, TagType::Int64];
        let Some((entry, bytes)) = self.typed(tag, &allowed)? else { return Ok(None) };
        let size = entry.kind.item_size().unwrap_or(1) as usize;
        Ok(Some(
            bytes
                .chunks_exact(size)
                .map(|chunk| chunk.iter().fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
                .collect(),
        ))
    }

    /// The first integer of a tag.
    pub fn integer(&self, tag: u32) -> RpmResult<Option<u64>> {
        Ok(self.integers(tag)?.and_then(|v| v.first().copied()))
    }

    /// Raw BIN data.
    pub fn bin(&self, tag: u32) -> RpmResult<Option<&[u8]>> {
        Ok(self.typed(tag, &[TagType::Bin])?.map(|(_, bytes)| bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header with a proper region from (tag, type, data) entries.
    pub(crate) fn build(kind: HeaderKind, entries: &[(u32, TagType, u32, Vec<u8>)]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, kind_of, count, bytes) in entries {
            let align = kind_of.item_size().unwrap_or(1) as usize;
            while !data.len().is_multiple_of(align) {
                data.push(0);
            }
            index.push((*tag, *kind_of as u32, data.len() as u32, *count));
            data.extend_from_slice(bytes);
        }
        let il = entries.len() as u32 + 1;
        let trailer_offset = data.len() as u32;
        let region = kind.region_tag();
        data.extend_from_slice(&region.to_be_bytes());
        data.extend_from_slice(&7u32.to_be_bytes());
        data.extend_from_slice(&(-((il * 16) as i32)).to_be_bytes());
        data.extend_from_slice(&16u32.to_be_bytes());
        let mut out = HEADER_MAGIC.to_vec();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&il.to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, t, offset, count) in std::iter::once((region, 7, trailer_offset, 16)).chain(index) {
            for v in [tag, t, offset, count] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn valid_header_and_accessors() {
        let bytes = build(
            HeaderKind::Main,
            &[
                (tag::NAME, TagType::String, 1, b"hello\0".to_vec()),
                (tag::FILEMODES, TagType::Int16, 2, vec![0x81, 0xa4, 0x41, 0xed]),
                (tag::BASENAMES, TagType::StringArray, 2, b"a\0b\0".to_vec()),
            ],
        );
        let (header, used) = Header::parse(&bytes, HeaderKind::Main).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(header.string(tag::NAME).unwrap(), Some(&b"hello"[..]));
        assert_eq!(header.integers(tag::FILEMODES).unwrap(), Some(vec![0o100644, 0o40755]));
        assert_eq!(header.string_array(tag::BASENAMES).unwrap(), Some(vec![&b"a"[..], &b"b"[..]]));
        assert!(header.integers(tag::NAME).is_err(), "type confusion must be an error");
    }

    #[test]
    fn hostile_headers_are_rejected() {
        let good = build(HeaderKind::Main, &[(tag::NAME, TagType::String, 1, b"x\0".to_vec())]);
        // Every truncation.
        for len in 0..good.len() {
            assert!(Header::parse(&good[..len], HeaderKind::Main).is_err());
        }
        // Huge il and dl are refused before reading further.
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&0x0010_0000u32.to_be_bytes());
        assert!(Header::parse(&huge, HeaderKind::Main).is_err());
        // Wrong type for a known tag.
        let confused = build(HeaderKind::Main, &[(tag::NAME, TagType::Int32, 1, vec![0, 0, 0, 1])]);
        assert!(Header::parse(&confused, HeaderKind::Main).is_err());
        // Unterminated string.
        let unterminated = build(HeaderKind::Main, &[(tag::NAME, TagType::String, 1, b"abc".to_vec())]);
        assert!(Header::parse(&unterminated, HeaderKind::Main).is_err());
        // A count far beyond the data.
        let mut count = build(HeaderKind::Main, &[(tag::FILEMODES, TagType::Int16, 1, vec![0, 1])]);
        let at = 16 + 16 + 12;
        count[at..at + 4].copy_from_slice(&0x000f_ffffu32.to_be_bytes());
        assert!(Header::parse(&count, HeaderKind::Main).is_err());
        // Signature header limits: 33 entries.
        let many: Vec<_> = (0..33).map(|i| (300 + i, TagType::Bin, 1, vec![0])).collect();
        assert!(Header::parse(&build(HeaderKind::Signature, &many), HeaderKind::Signature).is_err());
    }
}
