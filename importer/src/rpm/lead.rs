//! The 96-byte lead (rpm-format.md §1.2). librpm checks only the magic; everything else is
//! informational, and the header is authoritative.

use super::error::{RpmError, RpmResult};

/// The lead's length.
pub const LEAD_LEN: usize = 96;
/// `ED AB EE DB`.
pub const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];

/// The informational fields of a lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lead {
    /// Format major version (3 for v4 packages, 4 for v6).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// 0 binary, 1 source.
    pub package_type: u16,
}

/// Checks the magic and reads the informational fields.
pub fn parse_lead(bytes: &[u8; LEAD_LEN]) -> RpmResult<Lead> {
    if bytes[..4] != LEAD_MAGIC {
        return Err(RpmError::new("lead", "not an RPM package (bad magic)"));
    }
    Ok(Lead { major: bytes[4], minor: bytes[5], package_type: u16::from_be_bytes([bytes[6], bytes[7]]) })
}
