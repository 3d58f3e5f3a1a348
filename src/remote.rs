//! `rejig remote add|list|delete`: where an edge host's updates come from, and which keys it
//! trusts for them. One INI file per remote, `NAME.conf`, with dnf's keys and rejig's own:
//!
//! ```ini
//! [edge]
//! baseurl=https://mirror-a/os/ https://mirror-b/os/
//! jigdo=myos
//! gpgcheck=1
//! gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-myos
//! ed25519key=file:///etc/rejig/keys/myos.ed25519
//! ```
//!
//! `baseurl` and `gpgkey` hold one or more values separated by spaces, commas or newlines (as
//! dnf reads them); key files are paths or `file://` URLs. A remote with keys verifies; one
//! without keys exists only when added with `--no-verify`, which writes `gpgcheck=0`.
//! Files are written atomically (temporary file, fsync, rename, fsync of the directory).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::trust::{Ed25519Keys, OpenPgpKeys};

/// The environment variable that overrides where remotes live.
pub const CONFIG_DIR_VAR: &str = "REJIG_CONFIG_DIR";

/// Where remotes live: `dir` (from `--config-dir` or `REJIG_CONFIG_DIR`) when given, else
/// `/etc/rejig` as root and `$XDG_CONFIG_HOME/rejig` (or `~/.config/rejig`) otherwise. The
/// remotes are in its `remotes.d/`.
pub fn config_dir(dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = dir {
        return Ok(dir.to_path_buf());
    }
    if rustix::process::geteuid().is_root() {
        return Ok(PathBuf::from("/etc/rejig"));
    }
    if let Some(config) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(config).join("rejig"));
    }
    let home =
        std::env::var_os("HOME").context("neither --config-dir, REJIG_CONFIG_DIR, XDG_CONFIG_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".config/rejig"))
}

/// A remote, as its file says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Remote {
    /// Its name.
    pub name: String,
    /// rpm-md repositories holding its jigdos, parts and packages, tried in order.
    pub baseurls: Vec<String>,
    /// The jigdo package name whose newest version `upgrade` takes.
    pub jigdo: String,
    /// Whether signatures are checked (`gpgcheck=1`).
    pub gpgcheck: bool,
    /// ASCII-armored OpenPGP public keys: the jigdo RPM's signature, and the commit's
    /// `ostree.gpgsigs` when it has them.
    pub gpgkeys: Vec<PathBuf>,
    /// ed25519 public key files in ostree's format: the commit's `ostree.sign.ed25519`.
    pub ed25519_keys: Vec<PathBuf>,
    /// The file it is read from.
    pub file: PathBuf,
}

/// The keys a remote trusts, loaded.
pub struct RemoteKeys {
    /// For the jigdo RPM and `ostree.gpgsigs`.
    pub openpgp: OpenPgpKeys,
    /// For `ostree.sign.ed25519`.
    pub ed25519: Ed25519Keys,
}

impl Remote {
    /// Loads the remote's keys; None when it does not verify (`gpgcheck=0`). A key file that
    /// does not parse is an error naming it.
    pub fn keys(&self) -> Result<Option<RemoteKeys>> {
        if !self.gpgcheck {
            return Ok(None);
        }
        let openpgp = OpenPgpKeys::load(&self.gpgkeys).with_context(|| format!("remote {}", self.name))?;
        let ed25519 = Ed25519Keys::load(&self.ed25519_keys).with_context(|| format!("remote {}", self.name))?;
        Ok(Some(RemoteKeys { openpgp, ed25519 }))
    }

    fn render(&self) -> String {
        let urls =
            |paths: &[PathBuf]| paths.iter().map(|p| format!("file://{}", p.display())).collect::<Vec<_>>().join(" ");
        let mut out = format!("[{}]\nname={}\n", self.name, self.name);
        out += &format!("baseurl={}\n", self.baseurls.join("\n        "));
        out += &format!("jigdo={}\n", self.jigdo);
        out += &format!("gpgcheck={}\n", u8::from(self.gpgcheck));
        if !self.gpgkeys.is_empty() {
            out += &format!("gpgkey={}\n", urls(&self.gpgkeys));
        }
        if !self.ed25519_keys.is_empty() {
            out += &format!("ed25519key={}\n", urls(&self.ed25519_keys));
        }
        out
    }

    /// Parses a remote file. Unknown keys are refused, so a typo does not turn checks off.
    pub fn parse(text: &str, file: &Path) -> Result<Self> {
        Self::parse_inner(text, file).with_context(|| format!("remote file {}", file.display()))
    }

    fn parse_inner(text: &str, file: &Path) -> Result<Self> {
        let mut section: Option<String> = None;
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        let mut last_key: Option<String> = None;
        for (number, raw) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                // A continuation line, as dnf reads a multi-line baseurl.
                let Some(key) = &last_key else { bail!("line {number}: a continuation line before any key") };
                let value = values.entry(key.clone()).or_default();
                value.push(' ');
                value.push_str(line);
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                if section.is_some() {
                    bail!("line {number}: a second section [{name}]; a remote file holds one remote");
                }
                section = Some(name.trim().to_owned());
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { bail!("line {number}: not key=value: {line:?}") };
            if section.is_none() {
                bail!("line {number}: {key:?} before the [NAME] section");
            }
            let key = key.trim().to_owned();
            if values.insert(key.clone(), value.trim().to_owned()).is_some() {
                bail!("line {number}: {key} given twice");
            }
            last_key = Some(key);
        }
        let Some(name) = section else { bail!("no [NAME] section") };
        check_name(&name)?;
        let list = |key: &str| -> Vec<String> {
            values
                .get(key)
                .map(|v| v.split([' ', ',', '\t']).filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        for key in values.keys() {
            if !["name", "baseurl", "jigdo", "gpgcheck", "gpgkey", "ed25519key", "enabled"].contains(&key.as_str()) {
                bail!("unknown key {key:?}");
            }
        }
        let baseurls = list("baseurl");
        if baseurls.is_empty() {
            bail!("no baseurl");
        }
        let jigdo =
            values.get("jigdo").cloned().filter(|j| !j.is_empty()).context("no jigdo= (the jigdo package name)")?;
        let gpgcheck = match values.get("gpgcheck").map(String::as_str) {
            Some("1" | "yes" | "true" | "True") => true,
            Some("0" | "no" | "false" | "False") => false,
            Some(other) => bail!("gpgcheck={other}: not 0 or 1"),
            None => true,
        };
        let paths = |key: &str| -> Vec<PathBuf> {
            list(key).into_iter().map(|v| PathBuf::from(v.strip_prefix("file://").unwrap_or(&v))).collect()
        };
        let remote = Self {
            name,
            baseurls,
            jigdo,
            gpgcheck,
            gpgkeys: paths("gpgkey"),
            ed25519_keys: paths("ed25519key"),
            file: file.to_path_buf(),
        };
        remote.check_policy()?;
        Ok(remote)
    }

    /// A remote with keys verifies; one that verifies has an OpenPGP key for its jigdo RPM.
    fn check_policy(&self) -> Result<()> {
        let has_keys = !self.gpgkeys.is_empty() || !self.ed25519_keys.is_empty();
        match (self.gpgcheck, has_keys) {
            (false, true) => bail!("gpgcheck=0 with keys given: a remote with keys verifies"),
            (true, _) if self.gpgkeys.is_empty() => bail!(
                "gpgcheck=1 and no gpgkey: the jigdo RPM's signature needs an OpenPGP key (ed25519 keys check only the commit)"
            ),
            _ => Ok(()),
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        bail!("{name:?} is not a remote name (letters, digits and ._-, not starting with a dot)");
    }
    Ok(())
}

fn remotes_dir(config: &Path) -> PathBuf {
    config.join("remotes.d")
}

fn remote_file(config: &Path, name: &str) -> PathBuf {
    remotes_dir(config).join(format!("{name}.conf"))
}

/// What `remote add` is given.
pub struct AddOptions {
    /// The configuration directory.
    pub config: PathBuf,
    /// The remote's name.
    pub name: String,
    /// Its rpm-md repositories.
    pub baseurls: Vec<String>,
    /// The jigdo package name.
    pub jigdo: String,
    /// OpenPGP key files.
    pub gpgkeys: Vec<PathBuf>,
    /// ed25519 key files.
    pub ed25519_keys: Vec<PathBuf>,
    /// Add it without keys, unverified.
    pub no_verify: bool,
}

/// Adds a remote: checks its name, that its key files parse, and that it verifies unless
/// `no_verify`; refuses a name already taken; writes its file atomically.
pub fn add(options: &AddOptions) -> Result<Remote> {
    check_name(&options.name)?;
    let absolute = |paths: &[PathBuf]| -> Result<Vec<PathBuf>> {
        paths.iter().map(|p| std::path::absolute(p).with_context(|| format!("key file {}", p.display()))).collect()
    };
    let has_keys = !options.gpgkeys.is_empty() || !options.ed25519_keys.is_empty();
    if options.no_verify && has_keys {
        bail!("--no-verify with keys: a remote with keys verifies; drop --no-verify or the keys");
    }
    if !options.no_verify && !has_keys {
        bail!("remote {} has no keys: give --gpgkey FILE (and --ed25519-key FILE for commit signatures), or --no-verify to trust the mirror and the path to it", options.name);
    }
    if options.baseurls.is_empty() {
        bail!("remote {} needs at least one --baseurl", options.name);
    }
    let file = remote_file(&options.config, &options.name);
    let remote = Remote {
        name: options.name.clone(),
        baseurls: options.baseurls.clone(),
        jigdo: options.jigdo.clone(),
        gpgcheck: !options.no_verify,
        gpgkeys: absolute(&options.gpgkeys)?,
        ed25519_keys: absolute(&options.ed25519_keys)?,
        file: file.clone(),
    };
    remote.check_policy()?;
    // The keys must parse now, not at the first upgrade.
    remote.keys()?;
    // What is written must read back as the same remote.
    let text = remote.render();
    if Remote::parse(&text, &file)? != remote {
        bail!("remote {}: a value does not survive the file format (spaces or commas in a URL or path?)", remote.name);
    }
    if file.exists() {
        bail!("remote {} already exists ({}); delete it first", remote.name, file.display());
    }
    let dir = remotes_dir(&options.config);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    rejig_store::durable::write_file_via(&dir, &file, text.as_bytes())?;
    Ok(remote)
}

/// Every remote, by name. A file that does not parse is an error naming it.
pub fn list(config: &Path) -> Result<Vec<Remote>> {
    let dir = remotes_dir(config);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut remotes = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "conf") {
            let text = fs::read_to_string(&path).with_context(|| format!("remote file {}", path.display()))?;
            remotes.push(Remote::parse(&text, &path)?);
        }
    }
    remotes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(remotes)
}

/// The remote called `name`.
pub fn get(config: &Path, name: &str) -> Result<Remote> {
    check_name(name)?;
    let file = remote_file(config, name);
    let text = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("no remote {name} (no {}); add it with `rejig remote add`", file.display())
        }
        Err(e) => return Err(e).with_context(|| format!("remote file {}", file.display())),
    };
    let remote = Remote::parse(&text, &file)?;
    if remote.name != name {
        bail!("remote file {} names remote {:?}, not {name:?}", file.display(), remote.name);
    }
    Ok(remote)
}

/// Deletes a remote's file (durably: the directory is synced after).
pub fn delete(config: &Path, name: &str) -> Result<Remote> {
    let remote = get(config, name)?;
    fs::remove_file(&remote.file).with_context(|| format!("removing {}", remote.file.display()))?;
    rejig_store::durable::sync_dir(&remotes_dir(config))?;
    Ok(remote)
}

/// What `remote list` shows.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteList {
    /// The directory read.
    pub dir: PathBuf,
    /// The remotes, by name.
    pub remotes: Vec<Remote>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(config: &Path, name: &str) -> AddOptions {
        AddOptions {
            config: config.to_path_buf(),
            name: name.into(),
            baseurls: vec!["http://127.0.0.1:1/a/".into(), "file:///srv/b".into()],
            jigdo: "myos".into(),
            gpgkeys: Vec::new(),
            ed25519_keys: Vec::new(),
            no_verify: true,
        }
    }

    #[test]
    fn add_list_get_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let added = add(&options(dir.path(), "edge")).unwrap();
        assert!(!added.gpgcheck);
        let text = fs::read_to_string(&added.file).unwrap();
        assert!(text.contains("gpgcheck=0") && text.contains("jigdo=myos"), "{text}");
        assert_eq!(list(dir.path()).unwrap(), vec![added.clone()]);
        assert_eq!(get(dir.path(), "edge").unwrap(), added);
        let again = add(&options(dir.path(), "edge")).unwrap_err();
        assert!(format!("{again:#}").contains("already exists"), "{again:#}");
        delete(dir.path(), "edge").unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        assert!(format!("{:#}", get(dir.path(), "edge").unwrap_err()).contains("no remote edge"));
    }

    #[test]
    fn a_remote_without_keys_needs_no_verify_and_keys_must_parse() {
        let dir = tempfile::tempdir().unwrap();
        let error = add(&AddOptions { no_verify: false, ..options(dir.path(), "edge") }).unwrap_err();
        assert!(format!("{error:#}").contains("--no-verify"), "{error:#}");
        let junk = dir.path().join("junk.asc");
        fs::write(&junk, "not a key").unwrap();
        let error = add(&AddOptions { no_verify: false, gpgkeys: vec![junk.clone()], ..options(dir.path(), "edge") })
            .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains(&junk.display().to_string()), "{message}");
        let error = add(&AddOptions { gpgkeys: vec![junk], ..options(dir.path(), "edge") }).unwrap_err();
        assert!(format!("{error:#}").contains("--no-verify with keys"));
        assert!(!dir.path().join("remotes.d/edge.conf").exists());
    }

    #[test]
    fn files_that_turn_checks_off_by_mistake_are_refused() {
        let file = Path::new("/x/edge.conf");
        let cases = [
            ("[edge]\nbaseurl=http://a/\njigdo=j\ngpgchek=0\n", "unknown key"),
            ("[edge]\nbaseurl=http://a/\njigdo=j\n", "no gpgkey"),
            ("[edge]\nbaseurl=http://a/\njigdo=j\ngpgcheck=0\ngpgkey=/k.asc\n", "a remote with keys verifies"),
            ("[edge]\njigdo=j\ngpgcheck=0\n", "no baseurl"),
            ("[a]\n[b]\n", "second section"),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", Remote::parse(text, file).unwrap_err());
            assert!(error.contains(expected) && error.contains("/x/edge.conf"), "{text:?}: {error}");
        }
        let remote =
            Remote::parse("[edge]\nbaseurl=http://a/\n  http://b/,http://c/\njigdo=j\ngpgcheck=0\n", file).unwrap();
        assert_eq!(remote.baseurls, ["http://a/", "http://b/", "http://c/"]);
    }
}
