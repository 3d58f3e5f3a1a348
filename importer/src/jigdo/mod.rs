//! The client side of the jigdo: reading a jigdo RPM ([`read`]) and its parts ([`part`]),
//! getting the parts into the store and assembling the description ([`obtain`]), working out
//! which packages a rebuild needs ([`plan`]), and completing the commit in the store once
//! they are imported ([`complete`]). Packages are imported with
//! [`crate::package::import_package_for`] and the demand [`plan::package_demand`] gives, so
//! their payload is read once.

pub mod complete;
pub mod obtain;
pub mod part;
pub mod plan;
pub mod read;

pub use complete::{complete_commit, Completion};
pub use obtain::{missing_parts, obtain_parts, obtain_parts_with, part_blobs, PartsFetched};
pub use part::{read_part, Expect, PartFile};
pub use plan::{package_demand, plan_jigdo, JigdoPlan};
pub use read::{is_jigdo, read_jigdo, JigdoFile};
