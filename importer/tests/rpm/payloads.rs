//! Every package of the test corpus (`common::corpus`), read by our payload walker, against librpm's own
//! extraction (`rpm2cpio | cpio`, or `rpm2archive` for stripped payloads): every regular
//! file's bytes, mode, size and every symlink's target must agree.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use rejig_importer::rpm::error::RpmError;
use rejig_importer::rpm::files::{S_IFLNK, S_IFMT, S_IFREG};
use rejig_importer::rpm::package::Package;

/// Our reading: path → content for every regular file (each hardlink member included).
/// Each regular file's path and content.
type Contents = HashMap<Vec<u8>, Vec<u8>>;

fn walk(path: &Path) -> Result<(Package, Contents), RpmError> {
    let package = Package::open(path)?;
    let mut file = std::fs::File::open(path).unwrap();
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(package.payload_offset)).unwrap();
    let mut contents = HashMap::new();
    package.walk_payload(&mut std::io::BufReader::new(file), |members, reader| {
        let mut data = Vec::new();
        reader.read_to_end(&mut data).map_err(|e| RpmError::new("test", e.to_string()))?;
        for &m in members {
            contents.insert(package.files.files[m].path.clone(), data.clone());
        }
        Ok::<_, RpmError>(())
    })?;
    Ok((package, contents))
}

/// librpm's extraction into `dir`: `rpm2cpio | cpio`, or `rpm2archive` when rpm2cpio refuses
/// (stripped payloads).
fn extract(package: &Path, dir: &Path) -> bool {
    let cpio = format!(
        "cd '{}' && rpm2cpio '{}' | cpio -idm --quiet --no-absolute-filenames",
        dir.display(),
        package.display()
    );
    let archive = format!("rpm2archive -n < '{}' | tar -xf - -C '{}'", package.display(), dir.display());
    let run = |script: &str| {
        Command::new("bash").args(["-o", "pipefail", "-c", script]).stderr(Stdio::null()).status().unwrap().success()
    };
    run(&cpio) || run(&archive)
}

#[test]
fn payloads_match_librpm_extraction() {
    let mut files_compared = 0;
    let mut packages = 0;
    for path in common::corpus() {
        let name = path.display().to_string();
        if name.contains("bigfile") {
            // 4 GiB of content: it has its own streaming and memory test.
            continue;
        }
        if name.contains("corrupted") {
            assert!(walk(&path).is_err(), "{name}: the corrupted package was accepted");
            continue;
        }
        let (package, contents) = walk(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dir = tempfile::tempdir().unwrap();
        assert!(extract(&path, dir.path()), "{name}: librpm could not extract it");
        for file in &package.files.files {
            if file.is_ghost() {
                continue;
            }
            let relative = String::from_utf8_lossy(file.path.strip_prefix(b"/").unwrap_or(&file.path)).into_owned();
            let on_disk = dir.path().join(&relative);
            let ctx = format!("{name}: {relative}");
            let meta =
                std::fs::symlink_metadata(&on_disk).unwrap_or_else(|e| panic!("{ctx}: librpm did not extract it: {e}"));
            match file.mode & S_IFMT {
                S_IFREG => {
                    let ours = contents.get(&file.path).unwrap_or_else(|| panic!("{ctx}: no content from our walk"));
                    assert_eq!(ours, &std::fs::read(&on_disk).unwrap(), "{ctx}: content");
                    assert_eq!(ours.len() as u64, file.size, "{ctx}: size");
                    assert_eq!(meta.permissions().mode() & 0o7777, file.mode & 0o7777, "{ctx}: mode");
                    files_compared += 1;
                }
                S_IFLNK => {
                    let target = std::fs::read_link(&on_disk).unwrap();
                    assert_eq!(
                        target.as_os_str().as_encoded_bytes(),
                        file.link_target.as_slice(),
                        "{ctx}: link target"
                    );
                    files_compared += 1;
                }
                _ => {}
            }
        }
        packages += 1;
    }
    assert!(packages >= 40, "only {packages} packages compared");
    assert!(files_compared > 500, "only {files_compared} files compared");
}
