//! OSTree repository modes and loose-object naming (ostree-format.md §3), shared by the
//! importer (which reads repositories) and the exporter (which writes them).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::id::{ObjectKey, ObjectType};

/// How a repository stores content objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepoMode {
    /// `.filez`: header plus raw deflate; portable and servable over HTTP.
    Archive,
    /// Plain files with `user.ostreemeta` carrying ownership, mode and xattrs.
    BareUser,
    /// Plain files and real symlinks; only root-owned objects without xattrs.
    BareUserOnly,
    /// Real files with real ownership and xattrs; needs root.
    Bare,
}

impl RepoMode {
    /// The value of `[core] mode` that `ostree init` writes.
    pub const fn config_name(self) -> &'static str {
        match self {
            RepoMode::Archive => "archive-z2",
            RepoMode::BareUser => "bare-user",
            RepoMode::BareUserOnly => "bare-user-only",
            RepoMode::Bare => "bare",
        }
    }

    /// The name users type (`archive` rather than `archive-z2`).
    pub const fn name(self) -> &'static str {
        match self {
            RepoMode::Archive => "archive",
            other => other.config_name(),
        }
    }

    /// Where a loose object lives, relative to the repository root.
    pub fn loose_path(self, key: &ObjectKey) -> String {
        let hex = key.id.to_hex();
        let (dir, rest) = hex.split_at(2);
        let ext = key.kind.extension();
        let z = if self == RepoMode::Archive && key.kind == ObjectType::File { "z" } else { "" };
        format!("objects/{dir}/{rest}.{ext}{z}")
    }
}

impl FromStr for RepoMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "archive" | "archive-z2" => RepoMode::Archive,
            "bare-user" => RepoMode::BareUser,
            "bare-user-only" => RepoMode::BareUserOnly,
            "bare" => RepoMode::Bare,
            other => {
                return Err(Error::invalid(
                    "repository mode",
                    format!("{other:?}; expected archive, bare-user, bare-user-only or bare"),
                ))
            }
        })
    }
}

impl fmt::Display for RepoMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads `[core] mode` from a repository `config` file (a GKeyFile). A missing key means
/// `bare`, as in ostree.
pub fn mode_from_config(config: &str) -> Result<RepoMode> {
    let mut in_core = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_core = line == "[core]";
        } else if in_core {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "mode" {
                    return value.trim().parse();
                }
            }
        }
    }
    Ok(RepoMode::Bare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ObjectId;

    #[test]
    fn paths_and_config() {
        let key = ObjectKey::new(ObjectId::from_bytes([0xab; 32]), ObjectType::File);
        assert!(RepoMode::Archive.loose_path(&key).ends_with(".filez"));
        assert!(RepoMode::BareUser.loose_path(&key).starts_with("objects/ab/abab"));
        assert_eq!(mode_from_config("[core]\nrepo_version=1\nmode=archive-z2\n").unwrap(), RepoMode::Archive);
        assert_eq!(mode_from_config("[core]\nrepo_version=1\n").unwrap(), RepoMode::Bare);
        assert!(mode_from_config("[core]\nmode=weird\n").is_err());
    }
}
