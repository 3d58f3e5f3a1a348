//! Everything that comes into the rejig store: commits read out of OSTree repositories,
//! and directory trees committed directly. RPM packages and jigdos come later.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod content;
pub mod error;
pub mod jigdo;
pub mod ostree_repo;
pub mod package;
pub mod rpm;
pub mod source;
pub mod tree;
pub mod xattrs;

pub use error::{Error, Result};
pub use ostree_repo::{import_commit, ImportReport, SourceRepo};
#[doc(hidden)]
pub mod fuzzing;
