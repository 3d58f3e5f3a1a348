//! The build side of the jigdo: describing a commit by the packages its content comes from
//! ([`describe`]), and writing that description as an RPM ([`rpm`]).

pub mod describe;
pub mod rpm;

pub use describe::{describe_commit, Description, DescriptionStats};
pub use rpm::{check_name, write_jigdo_rpm, JigdoRpm};
