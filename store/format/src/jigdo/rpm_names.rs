//! How a jigdo presents itself as an RPM: the capabilities it provides, the exact package
//! requirements it carries, and where its files live in the payload. Writer and reader both
//! use these, so the two cannot drift apart.

use crate::id::ObjectId;
use crate::manifest::Nevra;

/// Every jigdo provides this; the number is the tables format generation.
pub const JIGDO_PROVIDE: &str = "rejig-jigdo(2)";
/// Prefix of the payload directories (`/usr/lib/rejig/<name>/`).
pub const PAYLOAD_ROOT: &str = "/usr/lib/rejig";
/// The tables file inside the payload directory.
pub const TABLES_FILE: &str = "tables";

/// `rejig-commit(<checksum>)`: lets a client find the jigdo of a commit from repodata alone.
pub fn commit_provide(commit: &ObjectId) -> String {
    format!("rejig-commit({commit})")
}

/// The commit named by a `rejig-commit(<checksum>)` capability, if it is one.
pub fn parse_commit_provide(capability: &str) -> Option<ObjectId> {
    capability.strip_prefix("rejig-commit(")?.strip_suffix(')')?.parse().ok()
}

/// The payload directory of a jigdo called `name`.
pub fn payload_dir(name: &str) -> String {
    format!("{PAYLOAD_ROOT}/{name}")
}

/// rpm's `%{_isa}` suffix for an architecture: what rpmbuild adds to every arched package's
/// own provide (`bash(x86-64) = 5.2-1`). None for noarch and source packages.
fn isa(arch: &str) -> Option<String> {
    let (name, bits) = match arch {
        "noarch" | "src" | "nosrc" => return None,
        "x86_64" | "amd64" | "ia32e" | "em64t" => ("x86", 64),
        "i386" | "i486" | "i586" | "i686" | "pentium3" | "pentium4" | "athlon" | "geode" => ("x86", 32),
        "aarch64" => ("aarch", 64),
        "ppc64" | "ppc64le" | "ppc64p7" => ("ppc", 64),
        "ppc" => ("ppc", 32),
        "s390x" => ("s390", 64),
        "s390" => ("s390", 32),
        "riscv64" => ("riscv", 64),
        "loongarch64" => ("loongarch", 64),
        "ia64" => ("ia", 64),
        "sparc64" | "sparc64v" => ("sparc", 64),
        "mips64" | "mips64el" => ("mips", 64),
        "mips" | "mipsel" => ("mips", 32),
        arch if arch.starts_with("armv") || arch == "arm" => ("arm", 32),
        // An architecture rpm has no ISA macro for: name it as it is.
        other => return Some(other.to_owned()),
    };
    Some(format!("{name}-{bits}"))
}

/// The exact requirement a jigdo carries for a package: `(name(isa), [epoch:]version-release)`,
/// or plain `name` for noarch, as dnf resolves them against the packages' own provides.
pub fn package_requirement(nevra: &Nevra) -> (String, String) {
    let name = match isa(&nevra.arch) {
        Some(isa) => format!("{}({isa})", nevra.name),
        None => nevra.name.clone(),
    };
    let evr = match nevra.epoch {
        Some(epoch) => format!("{epoch}:{}-{}", nevra.version, nevra.release),
        None => format!("{}-{}", nevra.version, nevra.release),
    };
    (name, evr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nevra(name: &str, epoch: Option<u32>, arch: &str) -> Nevra {
        Nevra { name: name.into(), epoch, version: "1.2".into(), release: "3.fc41".into(), arch: arch.into() }
    }

    #[test]
    fn requirements_use_rpm_isa_names() {
        assert_eq!(package_requirement(&nevra("bash", None, "x86_64")), ("bash(x86-64)".into(), "1.2-3.fc41".into()));
        assert_eq!(
            package_requirement(&nevra("glibc", Some(2), "i686")),
            ("glibc(x86-32)".into(), "2:1.2-3.fc41".into())
        );
        assert_eq!(package_requirement(&nevra("tzdata", None, "noarch")), ("tzdata".into(), "1.2-3.fc41".into()));
        assert_eq!(package_requirement(&nevra("k", None, "aarch64")).0, "k(aarch-64)");
    }

    #[test]
    fn commit_provides_round_trip() {
        let id = ObjectId::from_bytes([0xab; 32]);
        assert_eq!(parse_commit_provide(&commit_provide(&id)), Some(id));
        assert_eq!(parse_commit_provide("rejig-commit(zz)"), None);
        assert_eq!(parse_commit_provide(JIGDO_PROVIDE), None);
    }
}
