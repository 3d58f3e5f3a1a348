//! Everything that leaves the rejig store: commits written into OSTree repositories in every
//! mode (archive, bare-user, bare-user-only, bare), and jigdo RPMs that describe a commit by
//! the packages its content comes from.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod backing;
pub mod error;
pub mod export;
pub mod jigdo;
pub mod ostree;

pub use error::{Error, Result};
pub use export::{check_target, export_commit, ExportOptions, ExportReport};
