//! rpm's and libarchive's test packages, from the original tarballs of Debian's source
//! packages. `apt-get source --download-only` runs with a private configuration: a deb-src
//! list derived from the machine's own apt sources (every `deb` entry made `deb-src`), and
//! private lists and cache folders, so that nothing of the machine's apt state changes and
//! no host name is written here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cache::{run, sha256_file};
use super::{uu, PINNED};

/// The original tarball of rpm 4.18 and its SHA-256. It stays the same across Debian's
/// revisions and security updates of the package (unlike the `.dsc` and `.debian.tar`).
const RPM_ORIG: (&str, &str) =
    ("rpm_4.18.0+dfsg.orig.tar.xz", "d0d9c58c036bc6308de6e195e898c10bf53eaef6f962c48b403e7cd262f4eb4d");
/// Where rpm's test packages are in it.
const RPM_DATA: &str = "rpm-4.18.0/tests/data/";
/// The original tarball of libarchive 3.6.2 and its SHA-256.
const LIBARCHIVE_ORIG: (&str, &str) =
    ("libarchive_3.6.2.orig.tar.xz", "9e2c1b80d5fbe59b61308fdfab6c79b5021d7ff4ff2489fb12daf0a96a83551d");
/// Where libarchive's uuencoded test packages are in it.
const LIBARCHIVE_DATA: &str = "libarchive-3.6.2/libarchive/test/";

/// Fills `staging` with every pinned `rpm/` and `libarchive/` package.
pub fn populate(staging: &Path) {
    let work = staging.join(".apt");
    let dl = work.join("source");
    fs::create_dir_all(&dl).unwrap_or_else(|e| panic!("test data: creating {}: {e}", dl.display()));
    let apt = Apt::new(&work);
    apt.get("update the private deb-src lists", &work, &["update"]);
    apt.get(
        "download the source packages of rpm and libarchive",
        &dl,
        &["source", "--download-only", "rpm", "libarchive"],
    );

    let rpm_members: Vec<(&str, String)> = keys("rpm/").map(|key| (key, format!("{RPM_DATA}{}", &key[4..]))).collect();
    let rpm_tree = extract(&dl, RPM_ORIG, &work.join("rpm"), rpm_members.iter().map(|(_, m)| m.as_str()));
    for (key, member) in &rpm_members {
        place(&rpm_tree.join(member), &staging.join(key));
    }

    let libarchive_members: Vec<(&str, String)> =
        keys("libarchive/").map(|key| (key, format!("{LIBARCHIVE_DATA}{}.uu", &key[11..]))).collect();
    let libarchive_tree =
        extract(&dl, LIBARCHIVE_ORIG, &work.join("libarchive"), libarchive_members.iter().map(|(_, m)| m.as_str()));
    for (key, member) in &libarchive_members {
        let encoded = libarchive_tree.join(member);
        let text = fs::read(&encoded).unwrap_or_else(|e| panic!("test data: {}: {e}", encoded.display()));
        let bytes = uu::decode(&text).unwrap_or_else(|e| panic!("test data: uudecoding {}: {e}", encoded.display()));
        let to = staging.join(key);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::write(&to, bytes).unwrap_or_else(|e| panic!("test data: writing {}: {e}", to.display()));
    }
    fs::remove_dir_all(&work).unwrap_or_else(|e| panic!("test data: removing {}: {e}", work.display()));
}

/// The pinned keys under `prefix`.
fn keys(prefix: &'static str) -> impl Iterator<Item = &'static str> {
    PINNED.iter().map(|(key, _)| *key).filter(move |key| key.starts_with(prefix))
}

/// Checks the downloaded tarball against its pin and extracts `members` from it into `into`.
fn extract<'a>(
    dl: &Path,
    (name, pinned): (&str, &str),
    into: &Path,
    members: impl Iterator<Item = &'a str>,
) -> PathBuf {
    let tarball = dl.join(name);
    if !tarball.exists() {
        let listing: Vec<String> = fs::read_dir(dl)
            .map(|entries| {
                entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
            })
            .unwrap_or_default();
        panic!(
            "test data: `apt-get source` did not download {name} (the tests want Debian 12's version of it); \
             it downloaded: {listing:?}"
        );
    }
    let actual = sha256_file(&tarball).unwrap_or_else(|e| panic!("test data: {}: {e}", tarball.display()));
    assert_eq!(actual, pinned, "test data: {name}: the downloaded tarball does not match its pinned SHA-256");
    fs::create_dir_all(into).unwrap_or_else(|e| panic!("test data: creating {}: {e}", into.display()));
    run(
        &format!("extract the test packages from {name}"),
        Command::new("tar").args(["--no-same-owner", "-xJf"]).arg(&tarball).arg("-C").arg(into).args(members),
    );
    into.to_path_buf()
}

/// Moves an extracted file to its key's place.
fn place(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::rename(from, to).unwrap_or_else(|e| panic!("test data: moving {} to {}: {e}", from.display(), to.display()));
}

/// `apt-get` with a private deb-src configuration under `work`.
struct Apt {
    options: Vec<String>,
}

impl Apt {
    fn new(work: &Path) -> Apt {
        let parts = work.join("sources.list.d");
        let lists = work.join("lists");
        let cache = work.join("cache");
        for dir in [parts.clone(), lists.join("partial"), cache.join("archives/partial")] {
            fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("test data: creating {}: {e}", dir.display()));
        }
        let derived = deb_src_sources();
        assert!(
            !derived.is_empty(),
            "test data: found no `deb` entry in /etc/apt/sources.list or /etc/apt/sources.list.d/ to derive \
             a deb-src list from (needed to download rpm's and libarchive's source packages)"
        );
        for (name, text) in derived {
            fs::write(parts.join(&name), text).unwrap_or_else(|e| panic!("test data: writing {name}: {e}"));
        }
        let mut options = vec![
            "-q".to_owned(),
            "-o".to_owned(),
            "Dir::Etc::SourceList=/dev/null".to_owned(),
            "-o".to_owned(),
            format!("Dir::Etc::SourceParts={}", parts.display()),
            "-o".to_owned(),
            format!("Dir::State::Lists={}", lists.display()),
            "-o".to_owned(),
            format!("Dir::Cache={}", cache.display()),
        ];
        if rustix::process::geteuid().is_root() {
            // apt would hand the download to its sandbox user, who cannot write here.
            options.extend(["-o".to_owned(), "APT::Sandbox::User=root".to_owned()]);
        }
        Apt { options }
    }

    fn get(&self, what: &str, dir: &Path, args: &[&str]) {
        run(
            &format!("{what} (rpm's and libarchive's test packages, from Debian's source packages)"),
            Command::new("apt-get").current_dir(dir).args(&self.options).args(args),
        );
    }
}

/// The machine's apt sources with every `deb` entry turned into `deb-src`: one-line
/// `sources.list` files and deb822 `.sources` files. Returns file names and contents.
fn deb_src_sources() -> Vec<(String, String)> {
    let mut one_line = Vec::new();
    let mut out = Vec::new();
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut parts: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        parts.sort();
        files.extend(parts);
    }
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".sources") {
            let derived = deb822_to_src(&text);
            if !derived.is_empty() {
                out.push((format!("derived-{name}"), derived));
            }
        } else if name == "sources.list" || name.ends_with(".list") {
            for line in text.lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("deb ").or_else(|| line.strip_prefix("deb\t")) {
                    let src = format!("deb-src {}", rest.trim());
                    if !one_line.contains(&src) {
                        one_line.push(src);
                    }
                }
            }
        }
    }
    if !one_line.is_empty() {
        out.push(("derived.list".to_owned(), one_line.join("\n") + "\n"));
    }
    out
}

/// The stanzas of a deb822 sources file whose `Types` hold `deb`, with `Types: deb-src`.
fn deb822_to_src(text: &str) -> String {
    let mut out = String::new();
    for stanza in text.split("\n\n") {
        let mut binary = false;
        let mut lines = Vec::new();
        for line in stanza.lines() {
            match line.split_once(':') {
                Some((field, value)) if field.trim().eq_ignore_ascii_case("types") => {
                    binary = value.split_whitespace().any(|t| t == "deb");
                    lines.push("Types: deb-src".to_owned());
                }
                _ => lines.push(line.to_owned()),
            }
        }
        if binary {
            out.push_str(&lines.join("\n"));
            out.push_str("\n\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::deb822_to_src;

    #[test]
    fn deb822_stanzas_become_deb_src() {
        let text = "Types: deb\nURIs: file:///srv/mirror\nSuites: x\nComponents: main\n\n\
                    Types: deb-src\nURIs: file:///srv/other\nSuites: y\nComponents: main\n";
        let derived = deb822_to_src(text);
        assert_eq!(derived, "Types: deb-src\nURIs: file:///srv/mirror\nSuites: x\nComponents: main\n\n");
    }
}
