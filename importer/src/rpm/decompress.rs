//! Payload decompression, chosen by magic bytes rather than by the (unsigned-by-nothing
//! but the header) PAYLOADCOMPRESSOR tag, with rpm's memory limits: xz and lzma through
//! liblzma with a 100 MiB limit, zstd with a window of at most 2^27 (rpm-format.md §1.7).
//! gzip is read as multi-member and zstd as multi-frame, as rpm does.

use std::io::{BufRead, Read};

use super::error::{RpmError, RpmResult};

/// rpm's liblzma memory limit.
const LZMA_MEMLIMIT: u64 = 100 << 20;
/// rpm's zstd window limit (2^27).
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// A payload compressor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// An uncompressed cpio archive.
    None,
    /// gzip (possibly several members).
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
    /// lzma-alone ("legacy lzma").
    Lzma,
    /// zstd (possibly several frames).
    Zstd,
}

impl Compression {
    /// Recognises a compressor from the first bytes of the payload.
    pub fn detect(prefix: &[u8]) -> Option<Self> {
        Some(match prefix {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [b'B', b'Z', b'h', ..] => Compression::Bzip2,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b'0', b'7', b'0', b'7', b'0', ..] => Compression::None,
            [0x5d, 0x00, 0x00, ..] => Compression::Lzma,
            _ => return None,
        })
    }

    /// The name rpm uses in PAYLOADCOMPRESSOR.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zstd => "zstd",
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn decompressor<'a, R: BufRead + 'a>(mut reader: R) -> RpmResult<(Compression, Box<dyn Read + 'a>)> {
    let prefix = reader.fill_buf().map_err(|e| RpmError::new("payload", format!("read failed: {e}")))?;
    if prefix.is_empty() {
        return Err(RpmError::new("payload", "missing: the package ends after its header (truncated?)"));
    }
    let compression = Compression::detect(prefix).ok_or_else(|| {
        RpmError::new(
            "payload",
            format!("unknown compression (first bytes {})", hex::encode(prefix.get(..8).unwrap_or(prefix))),
        )
    })?;
    let lzma_error = |e: liblzma::stream::Error| RpmError::new("payload", format!("lzma decoder: {e}"));
    let decoder: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, liblzma::stream::CONCATENATED)
                .map_err(lzma_error)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
        }
        Compression::Lzma => {
            let stream = liblzma::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT).map_err(lzma_error)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(|e| RpmError::new("payload", format!("zstd decoder: {e}")))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| RpmError::new("payload", format!("zstd decoder: {e}")))?;
            Box::new(decoder)
        }
    };
    Ok((compression, decoder))
}
