//! Rows of the bad-input matrix for `rejig upgrade` from a mirror under an attacker's control
//! (RELIABILITY.md "Trust model"): each refused with the file and the key named, and nothing
//! written to the store (not even the download) or the repository.
//!
//! One site (two signed composes, see `crate::upgrade::Site`) serves every row in turn; each
//! row republishes the mirror with what the attacker serves.

use std::fs;
use std::path::Path;

use super::{refused, seeded_store, Allow};
use crate::trust::{ed25519_sign_commit_replacing, header_string_byte, layout, EdKey, Gpg};
use crate::upgrade::{Site, NAME};
use crate::util::rpmbuild::run_ok;
use crate::util::*;

/// Writes a remote file by hand into `config` (as `remote add` would, or a hand edit).
fn remote_file(config: &Path, name: &str, url: &str, gpgkeys: &[&Path], ed25519: &[&Path]) {
    let dir = config.join("remotes.d");
    fs::create_dir_all(&dir).unwrap();
    let urls = |paths: &[&Path]| paths.iter().map(|k| format!("file://{}", p(k))).collect::<Vec<_>>().join(" ");
    let mut text = format!("[{name}]\nbaseurl={url}\njigdo={NAME}\ngpgcheck=1\ngpgkey={}\n", urls(gpgkeys));
    if !ed25519.is_empty() {
        text += &format!("ed25519key={}\n", urls(ed25519));
    }
    fs::write(dir.join(format!("{name}.conf")), text).unwrap();
}

fn copy_to(site: &Site, from: &Path, label: &str) -> std::path::PathBuf {
    // The mirror keeps the package's own file name; each row's copy lives in its own dir.
    let dir = site.dir.path().join(format!("row-{label}"));
    fs::create_dir_all(&dir).unwrap();
    let to = dir.join(from.file_name().unwrap());
    fs::copy(from, &to).unwrap();
    to
}

#[test]
fn trust_refusals_leave_store_and_repo_untouched() {
    let site = Site::new();
    let url = site.url();
    let config = site.dir.path().join("config");
    remote_file(&config, "farm", &url, &[&site.gpg_key], &[&site.ed.public]);
    let rejig = seeded_store();
    let repo = site.dir.path().join("edge-repo");
    let upgrade = ["upgrade", "--config-dir", p(&config), "--remote", "farm", "--repo", p(&repo), "--ref", "edge/os"];
    let row = |label: &str, jigdo: &Path, needles: &[&str]| {
        site.publish(&[jigdo]);
        let stderr = refused(&rejig, Some(&repo), &upgrade, needles, Allow::Nothing);
        eprintln!("[matrix] trust: {label}: {}", stderr.lines().last().unwrap_or_default());
    };
    let jigdo_name = site.jigdos[1].file_name().unwrap().to_string_lossy().into_owned();

    // An unsigned jigdo (the build output before rpmsign).
    let unsigned = copy_to(&site, &site.jigdos[1], "unsigned");
    run_ok(std::process::Command::new("rpmsign").arg("--delsign").arg(&unsigned));
    row("unsigned", &unsigned, &[&jigdo_name, "not signed", p(&site.gpg_key)]);

    // Signed by a key the remote does not trust.
    let stranger = Gpg::new("rsa3072", "stranger <stranger@rejig.invalid>");
    let foreign = copy_to(&site, &site.jigdos[1], "foreign");
    run_ok(std::process::Command::new("rpmsign").arg("--delsign").arg(&foreign));
    stranger.rpmsign(&foreign, false);
    let fingerprint = stranger.fingerprint();
    row("untrusted key", &foreign, &[&jigdo_name, "not trusted", &fingerprint[24..], p(&site.gpg_key)]);

    // Changed after signing: a byte of the header (in its data), then of the payload.
    let (_, payload_start) = layout(&site.jigdos[1]);
    let size = fs::metadata(&site.jigdos[1]).unwrap().len();
    let in_header = header_string_byte(&site.jigdos[1], "jigdo of OSTree commit");
    for (place, offset) in [("header", in_header), ("payload", payload_start + 100)] {
        assert!(offset < size);
        let tampered = copy_to(&site, &site.jigdos[1], place);
        flip_byte(&tampered, offset);
        row(&format!("{place} changed after signing"), &tampered, &[&jigdo_name, "changed after"]);
    }

    // A good RPM signature over a commit whose ed25519 signature is by another key.
    let other = EdKey::new(site.dir.path(), "other");
    let compose = site.dir.path().join("compose");
    ed25519_sign_commit_replacing(&compose, &site.commits[1], &other, site.dir.path());
    let resigned_dir = site.dir.path().join("row-commit-signature");
    fs::create_dir_all(&resigned_dir).unwrap();
    let resigned = resigned_dir.join(&jigdo_name);
    Rejig::new().build(&compose, &site.commits[1], &site.packages, NAME, &resigned);
    site.gpg.rpmsign(&resigned, false);
    row("bad commit signature", &resigned, &[&site.commits[1], "ostree.sign.ed25519", p(&site.ed.public)]);

    // rpm-md that lies about the commit the jigdo describes.
    site.publish(&[&site.jigdos[1]]);
    let lie = "b".repeat(64);
    site.edit_primary(|xml| {
        xml.replace(&format!("rejig-commit({})", site.commits[1]), &format!("rejig-commit({lie})"))
    });
    let stderr = refused(&rejig, Some(&repo), &upgrade, &[&jigdo_name, &lie, &site.commits[1], "lies"], Allow::Nothing);
    eprintln!("[matrix] trust: rpm-md lies: {}", stderr.lines().last().unwrap_or_default());

    // A key file that does not parse (a hand-edited remote).
    let junk = site.dir.path().join("junk.asc");
    fs::write(&junk, "this is not a key\n").unwrap();
    remote_file(&config, "junk", &url, &[&junk], &[]);
    site.publish(&[&site.jigdos[1]]);
    let args = ["upgrade", "--config-dir", p(&config), "--remote", "junk", "--repo", p(&repo), "--ref", "edge/os"];
    refused(&rejig, Some(&repo), &args, &[p(&junk), "key file"], Allow::Nothing);

    // A downgrade: the repository has v2, the mirror serves the older signed v1 only.
    site.publish(&[&site.jigdos[1]]);
    let v2 = rejig.json(&upgrade);
    assert_eq!(v2["commit"], site.commits[1], "{v2}");
    site.publish(&[&site.jigdos[0]]);
    let stderr = refused(
        &rejig,
        Some(&repo),
        &upgrade,
        &[&site.commits[0], &site.commits[1], "downgrade", "--allow-downgrade"],
        Allow::Nothing,
    );
    eprintln!("[matrix] trust: downgrade: {}", stderr.lines().last().unwrap_or_default());
}
