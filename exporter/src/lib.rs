//! Everything that leaves the rejig store: commits written into OSTree repositories in every
//! mode (archive, bare-user, bare-user-only, bare). The jigdo RPM writer comes later.

pub mod error;
pub mod export;
pub mod ostree;

pub use error::{Error, Result};
pub use export::{export_commit, ExportOptions, ExportReport};
