//! GVariant serialisation for exactly the signatures OSTree objects use (ostree-format.md §2).
//!
//! Each container is built in its own buffer that starts at offset 0, so alignment relative to
//! the container equals alignment relative to the enclosing value, as the spec requires.
//! The decoder takes untrusted bytes: every offset is checked against the container before use,
//! and element counts are derived from the offset table, so they never exceed the input size.
//! Normal form is checked one level up, by re-encoding a decoded object and comparing bytes.

pub mod decode;
pub mod encode;

/// The framing-offset width for a container of `size` bytes, as the reader derives it.
pub(crate) fn offset_width_for_size(size: usize) -> usize {
    if size <= 0xff {
        1
    } else if size <= 0xffff {
        2
    } else if size <= 0xffff_ffff {
        4
    } else {
        8
    }
}
