//! rejig's end-to-end tests: the `rejig` binary driven against the real `ostree`, `rpm`,
//! `rpmbuild` and `createrepo_c`, one module per capability. One binary, so the crates link
//! once and the modules share the helpers in `util` and the `rejig-test-support` crate.
#![allow(clippy::unwrap_used)]

mod util;

mod bad_input;
mod build;
mod concurrency;
mod crash;
mod demo;
mod export;
mod gc;
mod harness;
mod import;
mod jigdo;
mod jigdo_parts;
mod recovery;
mod s3;
mod scale;
mod trust;
mod upgrade;
