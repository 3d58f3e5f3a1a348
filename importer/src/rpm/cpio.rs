//! Streaming cpio records as rpm writes them (rpm-format.md §1.7):
//! - newc (`070701`, `070702`): 110-byte ASCII-hex header, name (1..=4096 bytes with its NUL),
//!   padding to 4, data, padding to 4;
//! - stripped (`07070X`): magic and an 8-hex-digit header file index, padding to 4, then the
//!   data, whose length only the header knows, padding to 4.
//!
//! The archive ends with a newc `TRAILER!!!` record (or a stripped index `ffffffff`). Every
//! numeric field must be exactly 8 hex digits, as rpm requires.

use std::io::Read;

use super::error::{RpmError, RpmResult};

/// rpm's `CPIO_NAMESIZE_MAX`.
pub const NAME_MAX: u64 = 4096;
const TRAILER: &[u8] = b"TRAILER!!!";

/// One record's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A newc entry: its name (without NUL) and the size of its data.
    Newc {
        /// The name as stored, e.g. `./usr/bin/x`.
        name: Vec<u8>,
        /// Bytes of data that follow.
        size: u64,
    },
    /// A stripped entry: the index of the file in the header.
    Stripped {
        /// The header file index.
        index: u32,
    },
    /// The end of the archive.
    Trailer,
}

/// Reads records from a decompressed payload, tracking the position for padding.
pub struct CpioReader<R> {
    inner: R,
    position: u64,
}

fn hex_field(bytes: &[u8], field: &'static str) -> RpmResult<u64> {
    if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err(RpmError::new("cpio header", format!("{field} is not 8 hex digits")));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| RpmError::new("cpio header", "not ASCII"))?;
    u64::from_str_radix(text, 16).map_err(|_| RpmError::new("cpio header", format!("bad {field}")))
}

impl<R: Read> CpioReader<R> {
    /// Starts reading at the beginning of an archive.
    pub fn new(inner: R) -> Self {
        Self { inner, position: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &'static str) -> RpmResult<()> {
        let position = self.position;
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                RpmError::new("payload", format!("truncated: {what} cut off at archive byte {position}"))
            }
            _ => RpmError::new("payload", format!("decompression failed at archive byte {position}: {e}")),
        })?;
        self.position += buf.len() as u64;
        Ok(())
    }

    /// Skips to the next multiple of 4, checking nothing (rpm ignores padding content).
    pub fn align(&mut self) -> RpmResult<()> {
        let pad = (4 - self.position % 4) % 4;
        let mut buf = [0u8; 3];
        let slice = buf.get_mut(..pad as usize).unwrap_or_default();
        self.read_exact(slice, "cpio padding")
    }

    /// Reads the next record's header (and name), leaving the reader at its data.
    pub fn next_record(&mut self) -> RpmResult<Record> {
        let mut magic = [0u8; 6];
        self.read_exact(&mut magic, "cpio header")?;
        match &magic {
            b"07070X" => {
                let mut index = [0u8; 8];
                self.read_exact(&mut index, "cpio header")?;
                let index = hex_field(&index, "file index")?;
                self.align()?;
                if index == 0xffff_ffff {
                    return Ok(Record::Trailer);
                }
                Ok(Record::Stripped {
                    index: u32::try_from(index).map_err(|_| RpmError::new("cpio header", "index too large"))?,
                })
            }
            b"070701" | b"070702" => {
                let mut fields = [0u8; 104];
                self.read_exact(&mut fields, "cpio header")?;
                let field = |n: usize| fields.get(n * 8..n * 8 + 8).unwrap_or_default();
                let size = hex_field(field(6), "file size")?;
                let name_size = hex_field(field(11), "name size")?;
                if name_size == 0 || name_size > NAME_MAX {
                    return Err(RpmError::new("cpio header", format!("name size {name_size} outside 1..={NAME_MAX}")));
                }
                let mut name = vec![0u8; name_size as usize];
                self.read_exact(&mut name, "cpio name")?;
                if name.pop() != Some(0) || name.contains(&0) {
                    return Err(RpmError::new("cpio name", "not NUL-terminated exactly once"));
                }
                self.align()?;
                if name == TRAILER {
                    return Ok(Record::Trailer);
                }
                Ok(Record::Newc { name, size })
            }
            other => Err(RpmError::new(
                "cpio header",
                format!("bad magic {:?} at byte {}", String::from_utf8_lossy(other), self.position - 6),
            )),
        }
    }

    /// The next `size` bytes of data, as a reader. The caller must consume it fully, then
    /// call [`CpioReader::align`].
    pub fn data(&mut self, size: u64) -> DataReader<'_, R> {
        DataReader { cpio: self, left: size }
    }
}

/// A record's data.
pub struct DataReader<'a, R> {
    cpio: &'a mut CpioReader<R>,
    left: u64,
}

impl<R: Read> DataReader<'_, R> {
    /// Bytes not read yet.
    pub fn remaining(&self) -> u64 {
        self.left
    }
}

impl<R: Read> Read for DataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let Some(target) = buf.get_mut(..want) else { return Ok(0) };
        let n = self.cpio.inner.read(target)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("archive ends {} bytes into a file's data", self.left),
            ));
        }
        self.left -= n as u64;
        self.cpio.position += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"070701".to_vec();
        let fields = [0, 0o100644, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, name.len() + 1, 0];
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_newc_and_trailer() {
        let mut archive = newc("./usr/bin/x", b"hello");
        archive.extend(newc("TRAILER!!!", b""));
        let mut cpio = CpioReader::new(archive.as_slice());
        assert_eq!(cpio.next_record().unwrap(), Record::Newc { name: b"./usr/bin/x".to_vec(), size: 5 });
        let mut data = Vec::new();
        cpio.data(5).read_to_end(&mut data).unwrap();
        assert_eq!(data, b"hello");
        cpio.align().unwrap();
        assert_eq!(cpio.next_record().unwrap(), Record::Trailer);
    }

    #[test]
    fn hostile_records_are_errors() {
        let good = newc("./a", b"x");
        for len in 0..good.len() {
            let mut cpio = CpioReader::new(&good[..len]);
            let result = cpio.next_record().and_then(|r| match r {
                Record::Newc { size, .. } => {
                    let mut sink = Vec::new();
                    cpio.data(size).read_to_end(&mut sink).map_err(|e| RpmError::new("data", e.to_string()))?;
                    cpio.align()
                }
                _ => Ok(()),
            });
            assert!(result.is_err(), "truncated at {len} accepted");
        }
        let mut bad_hex = good.clone();
        bad_hex[6 + 6 * 8] = b'g';
        assert!(CpioReader::new(bad_hex.as_slice()).next_record().is_err());
        let mut huge_name = good.clone();
        huge_name[6 + 11 * 8..6 + 12 * 8].copy_from_slice(b"00001001");
        assert!(CpioReader::new(huge_name.as_slice()).next_record().is_err());
        assert_eq!(CpioReader::new(&b"07070Xffffffff\0\0"[..]).next_record().unwrap(), Record::Trailer);
        assert!(CpioReader::new(&b"07070Xfffffff\0\0\0"[..]).next_record().is_err());
    }
}
