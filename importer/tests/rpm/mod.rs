//! The hardened RPM reader on real and generated packages: headers and payloads against
//! librpm, damaged packages, and random packages from the rpm crate's builder.

mod builder;
mod corruption;
mod headers;
mod payloads;
