//! The hardened RPM reader: lead, headers, file table, payload (rpm-format.md). It follows
//! librpm's validation rules, never panics on input and never allocates from an unchecked
//! count.

#![deny(clippy::indexing_slicing)]

pub mod caps;
pub mod cpio;
pub mod decompress;
pub mod digest;
pub mod error;
pub mod files;
pub mod header;
pub mod lead;
pub mod package;
pub mod signature;
pub mod tags;
