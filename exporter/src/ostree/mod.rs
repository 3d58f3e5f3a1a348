//! The OSTree repository writer: layout, modes, locking and write order.

pub mod archive;
pub mod lock;
pub mod repo;
