//! A bounded cursor for the store's own binary formats (pack trailers, package manifests):
//! every read is checked against the bytes left, and every declared count is checked against
//! them before anything is allocated.

#![deny(clippy::indexing_slicing)]

use crate::error::{Error, Result};

/// Reads little-endian fields from a byte slice, failing instead of running past its end.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `bytes`, naming `what` in its errors.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, what }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, tail) = self.bytes.split_at_checked(n).ok_or_else(|| Error::malformed(self.what, "truncated"))?;
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| Error::malformed(self.what, "truncated"))
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// A presence flag: exactly 0 or 1, so that every value has one encoding.
    pub fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Error::malformed(self.what, format!("flag byte {other} is neither 0 nor 1"))),
        }
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u32 length, then that many bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.count(1)?;
        self.take(len)
    }

    /// A u32 count of items at least `min_item_len` bytes each, checked against the bytes
    /// left so that it can size an allocation.
    pub fn count(&mut self, min_item_len: usize) -> Result<usize> {
        let n = usize::try_from(self.u32()?).map_err(|_| Error::malformed(self.what, "count overflow"))?;
        if n.checked_mul(min_item_len).is_none_or(|need| need > self.bytes.len()) {
            return Err(Error::malformed(
                self.what,
                format!("declares {n} items, more than its {} bytes hold", self.bytes.len()),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_refuses_to_overrun() {
        let data = [1u8, 2, 0, 0, 0, 9, 9];
        let mut cursor = Cursor::new(&data, "test");
        assert_eq!(cursor.u8().unwrap(), 1);
        assert_eq!(cursor.bytes().unwrap(), &[9, 9]);
        assert!(cursor.is_empty());
        assert!(cursor.u8().is_err());
        let huge = [0xff, 0xff, 0xff, 0xff, 1];
        assert!(Cursor::new(&huge, "test").count(1).is_err());
        assert!(Cursor::new(&[1], "test").flag().unwrap());
        assert!(Cursor::new(&[2], "test").flag().is_err(), "a flag has exactly two encodings");
    }
}
