//! Helpers shared by the importer's integration tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The shared corpus directory (`../shared/corpus/rpms` beside the repository).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/rpms")
}

/// Every `.rpm` of the shared corpus, sorted.
pub fn corpus() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![corpus_dir()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e} (the shared corpus is missing)", dir.display()))
        {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 40, "the shared corpus is missing: {} packages", out.len());
    out
}
