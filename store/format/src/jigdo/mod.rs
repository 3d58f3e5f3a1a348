//! The jigdo model: a commit described by the packages its content comes from, plus what no
//! package holds (DESIGN.md "The jigdo"). It lives in rejig-format so that the side that writes
//! jigdos (exporter) and the side that reads them (importer) share one definition.
//!
//! A jigdo's tables are one file (`tables`, encoded by [`Jigdo::encode`]); each new content
//! travels as its own file named by its BLAKE3, so that large new objects stream. Nothing in a
//! jigdo is trusted: the commit is named by its checksum, every dirtree and dirmeta is checked
//! against the checksum that references it, and every rebuilt content object against its
//! entry's checksum, before anything is written anywhere.

pub mod rpm_names;
pub mod tables;

pub use rpm_names::{commit_provide, package_requirement, parse_commit_provide, payload_dir, JIGDO_PROVIDE};
pub use tables::{ContentEntry, ContentSource, Jigdo, TABLES_VERSION};
