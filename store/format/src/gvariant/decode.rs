//! Bounded readers for GVariant containers. Nothing here indexes or allocates from a count
//! that was not first checked against the bytes that hold it.

#![deny(clippy::indexing_slicing)]

use super::offset_width_for_size;
use crate::error::{Error, Result};

fn malformed(what: &'static str, detail: impl Into<String>) -> Error {
    Error::malformed(what, detail)
}

fn read_offset(bytes: &[u8], at: usize, width: usize, what: &'static str) -> Result<usize> {
    let slice = at
        .checked_add(width)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| malformed(what, "framing offset out of bounds"))?;
    let mut raw = [0u8; 8];
    raw.get_mut(..width).ok_or_else(|| malformed(what, "bad offset width"))?.copy_from_slice(slice);
    usize::try_from(u64::from_le_bytes(raw)).map_err(|_| malformed(what, "offset too large"))
}

fn align_up(value: usize, align: usize, what: &'static str) -> Result<usize> {
    let rem = value % align;
    if rem == 0 {
        Ok(value)
    } else {
        value.checked_add(align - rem).ok_or_else(|| malformed(what, "offset overflow"))
    }
}

/// Checks that the gap `[from, to)` is zero padding, as normal form requires.
fn check_padding(bytes: &[u8], from: usize, to: usize, what: &'static str) -> Result<()> {
    let gap = bytes.get(from..to).ok_or_else(|| malformed(what, "padding out of bounds"))?;
    if gap.iter().any(|&b| b != 0) {
        return Err(malformed(what, "non-zero padding"));
    }
    Ok(())
}

/// Splits an array of variable-size elements into its elements.
pub fn variable_array<'a>(bytes: &'a [u8], align: usize, what: &'static str) -> Result<Vec<&'a [u8]>> {
    let size = bytes.len();
    if size == 0 {
        return Ok(Vec::new());
    }
    let width = offset_width_for_size(size);
    let last_at = size.checked_sub(width).ok_or_else(|| malformed(what, "array shorter than its offset"))?;
    let table_start = read_offset(bytes, last_at, width, what)?;
    if table_start > last_at {
        return Err(malformed(what, "offset table start beyond the array"));
    }
    let table_len = size - table_start;
    if !table_len.is_multiple_of(width) {
        return Err(malformed(what, "offset table is not a whole number of offsets"));
    }
    let count = table_len / width;
    let mut elements = Vec::with_capacity(count);
    let mut previous_end = 0usize;
    for index in 0..count {
        let end = read_offset(bytes, table_start + index * width, width, what)?;
        let start = align_up(previous_end, align, what)?;
        if start > end || end > table_start {
            return Err(malformed(what, format!("element {index} has bad bounds {start}..{end}")));
        }
        check_padding(bytes, previous_end, start, what)?;
        elements.push(bytes.get(start..end).ok_or_else(|| malformed(what, "element out of bounds"))?);
        previous_end = end;
    }
    if previous_end != table_start {
        return Err(malformed(what, "bytes between the last element and the offset table"));
    }
    Ok(elements)
}

/// Reads a tuple member by member, taking framing offsets from the end.
pub struct TupleReader<'a> {
    bytes: &'a [u8],
    what: &'static str,
    position: usize,
    width: usize,
    offsets_used: usize,
}

impl<'a> TupleReader<'a> {
    /// Starts reading `bytes` as a tuple named `what` in errors.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, what, position: 0, width: offset_width_for_size(bytes.len()), offsets_used: 0 }
    }

    fn body_end(&self) -> Result<usize> {
        self.offsets_used
            .checked_mul(self.width)
            .and_then(|table| self.bytes.len().checked_sub(table))
            .ok_or_else(|| malformed(self.what, "offset table larger than the tuple"))
    }

    fn member(&mut self, align: usize, end: usize) -> Result<&'a [u8]> {
        let start = align_up(self.position, align, self.what)?;
        check_padding(self.bytes, self.position, start.min(end), self.what)?;
        if start > end {
            return Err(malformed(self.what, format!("member bounds {start}..{end} are reversed")));
        }
        let member = self.bytes.get(start..end).ok_or_else(|| malformed(self.what, "member out of bounds"))?;
        self.position = end;
        Ok(member)
    }

    /// A fixed-size member.
    pub fn fixed(&mut self, align: usize, size: usize) -> Result<&'a [u8]> {
        let start = align_up(self.position, align, self.what)?;
        let end = start.checked_add(size).ok_or_else(|| malformed(self.what, "size overflow"))?;
        if end > self.body_end()? {
            return Err(malformed(self.what, "fixed member runs past the end"));
        }
        self.member(align, end)
    }

    /// A fixed-size member as a big-endian u32 (how OSTree stores uid, gid and mode).
    pub fn u32_be(&mut self) -> Result<u32> {
        let bytes = self.fixed(4, 4)?;
        Ok(u32::from_be_bytes(bytes.try_into().map_err(|_| malformed(self.what, "short u32"))?))
    }

    /// A fixed-size member as a big-endian u64.
    pub fn u64_be(&mut self) -> Result<u64> {
        let bytes = self.fixed(8, 8)?;
        Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| malformed(self.what, "short u64"))?))
    }

    /// A variable-size member that is not the last: its end is the next framing offset.
    pub fn variable(&mut self, align: usize) -> Result<&'a [u8]> {
        self.offsets_used += 1;
        let body_end = self.body_end()?;
        let end = read_offset(self.bytes, body_end, self.width, self.what)?;
        if end > body_end {
            return Err(malformed(self.what, "member end beyond the tuple body"));
        }
        self.member(align, end)
    }

    /// The last member, variable-size: it runs to the start of the offset table.
    pub fn last(&mut self, align: usize) -> Result<&'a [u8]> {
        let end = self.body_end()?;
        self.member(align, end)
    }

    /// Checks that every byte of the tuple was accounted for.
    pub fn finish(self) -> Result<()> {
        if self.position != self.body_end()? {
            return Err(malformed(self.what, "trailing bytes"));
        }
        Ok(())
    }
}

/// A GVariant string: valid UTF-8, one terminating NUL and no other.
pub fn string<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str> {
    let (last, text) = bytes.split_last().ok_or_else(|| malformed(what, "empty string encoding"))?;
    if *last != 0 || text.contains(&0) {
        return Err(malformed(what, "string is not NUL-terminated exactly once"));
    }
    std::str::from_utf8(text).map_err(|_| malformed(what, "string is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gvariant::encode;

    #[test]
    fn array_round_trip_across_widths() {
        for count in [0usize, 1, 3, 100, 3000] {
            let elements: Vec<Vec<u8>> = (0..count).map(|i| vec![(i % 251) as u8; i % 7 + 1]).collect();
            let bytes = encode::variable_array(&elements, 1);
            let decoded = variable_array(&bytes, 1, "test").unwrap();
            assert_eq!(decoded.len(), count);
            for (a, b) in decoded.iter().zip(&elements) {
                assert_eq!(*a, b.as_slice());
            }
        }
    }

    #[test]
    fn hostile_arrays_are_errors() {
        // An offset pointing past the data, a table that is not whole, reversed bounds.
        for bytes in [&[5u8][..], &[0, 0, 9][..], &[1, 2, 3, 0, 2][..], &[0xff; 300][..]] {
            assert!(variable_array(bytes, 1, "test").is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn strings_need_exactly_one_nul() {
        assert_eq!(string(b"abc\0", "s").unwrap(), "abc");
        assert!(string(b"abc", "s").is_err());
        assert!(string(b"a\0c\0", "s").is_err());
        assert!(string(b"", "s").is_err());
        assert!(string(b"\xff\0", "s").is_err());
    }
}
