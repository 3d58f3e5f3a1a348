//! The build side of the jigdo: describing a commit by the packages its content comes from
//! ([`describe`]), writing the description's parts ([`part`]) and the jigdo RPM that binds
//! them ([`rpm`]).

pub mod describe;
pub mod part;
pub mod rpm;

pub use describe::{describe_commit, Description, DescriptionStats};
pub use part::{write_part_rpm, write_parts, WrittenPart};
pub use rpm::{check_name, jigdo_file_name, write_jigdo_rpm, JigdoRpm};
