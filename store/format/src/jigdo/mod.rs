//! The jigdo model: a commit described by the packages its content comes from, plus what no
//! package holds (DESIGN.md "The jigdo"). It lives in rejig-format so that the side that writes
//! jigdos (exporter) and the side that reads them (importer) share one definition.
//!
//! Since format 2 a jigdo RPM carries only a head ([`JigdoHead`]: commit, package table,
//! parts list); dirtrees, dirmetas, content entries and new content travel in
//! content-addressed parts ([`parts`]), so that an update fetches only the parts that changed.
//! Nothing in a jigdo is trusted: the commit is named by its checksum, every dirtree and dirmeta is checked
//! against the checksum that references it, and every rebuilt content object against its
//! entry's checksum, before anything is written anywhere.

pub mod parts;
pub mod rpm_names;
pub mod tables;

pub use parts::{
    assemble, check_delta_content, cut_records, decode_delta_records, encode_delta_records, encode_records,
    parse_part_nevra, part_file_name, part_nevra, Assembled, JigdoHead, PartKind, PartRef, TABLES_VERSION,
};
pub use rpm_names::{commit_provide, package_requirement, parse_commit_provide, payload_dir, JIGDO_PROVIDE};
pub use tables::{ContentEntry, ContentSource, Jigdo};
