//! The client side of the jigdo: reading a jigdo RPM ([`read`]), working out which packages
//! a rebuild needs ([`plan`]), and completing the commit in the store once they are
//! imported ([`complete`]). Packages are imported with [`crate::package::import_package_for`]
//! and the demand [`plan::package_demand`] gives, so their payload is read once.

pub mod complete;
pub mod plan;
pub mod read;

pub use complete::{complete_commit, Completion};
pub use plan::{package_demand, plan_jigdo, JigdoPlan};
pub use read::{is_jigdo, read_jigdo, JigdoFile};
