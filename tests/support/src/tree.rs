//! Trees on disk for the tests: a seeded generator of trees with every kind of entry, owner,
//! mode, xattr and awkward name, a mutator, and snapshots with a comparison that lists every
//! difference.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::files::{chmod, chown, mkdir, set_xattr, symlink, write};
use crate::rng::Rng;

/// What the generator makes.
#[derive(Clone, Debug)]
pub struct TreeOptions {
    pub seed: u64,
    /// Randomly placed regular files, symlinks and duplicates, on top of the fixed set.
    pub random_entries: usize,
    /// Files larger than 1 MiB.
    pub large_files: usize,
    /// If non-zero, a directory with this many entries (> ~1500 makes its dirtree need
    /// 4-byte framing offsets).
    pub wide_dir_entries: usize,
}

impl TreeOptions {
    pub fn new(seed: u64) -> Self {
        Self { seed, random_entries: 200, large_files: 2, wide_dir_entries: 0 }
    }
}

const OWNERS: &[(u32, u32)] = &[(0, 0), (0, 0), (0, 0), (1000, 1001), (42, 42), (65534, 65534), (0, 5)];
const FILE_MODES: &[u32] =
    &[0o644, 0o644, 0o644, 0o755, 0o600, 0o640, 0o444, 0o700, 0o4755, 0o2755, 0o6755, 0o1644, 0o664, 0o666];
const DIR_MODES: &[u32] = &[0o755, 0o755, 0o755, 0o700, 0o750, 0o775, 0o555, 0o1777, 0o2775];
const NAME_PARTS: &[&str] = &[
    "a",
    "B",
    "Z9",
    "Z10",
    "_under",
    "été",
    "日本",
    "data",
    "lib",
    "conf",
    "x y",
    "naïve",
    "Ω",
    "über-file",
    "q%20",
    "#hash",
    "~tilde",
    "-dash",
    ".hidden",
    "README",
    "a.b.c",
    "UPPER",
    "mIxEd",
    "1",
    "0042",
    "emoji🎉",
    "tab\tname",
    "z",
];

struct Gen {
    rng: Rng,
    dirs: Vec<PathBuf>,
    names: BTreeMap<PathBuf, BTreeSet<String>>,
    regular: Vec<PathBuf>,
    dir_meta: Vec<(PathBuf, u32, u32, u32)>,
}

impl Gen {
    fn fresh_name(&mut self, dir: &Path) -> String {
        let taken = self.names.entry(dir.to_path_buf()).or_default();
        let part = NAME_PARTS[self.rng.below(NAME_PARTS.len() as u64) as usize];
        let mut name = part.to_string();
        let mut n = self.rng.below(100);
        while taken.contains(&name) {
            name = format!("{part}{n}");
            n += 1;
        }
        taken.insert(name.clone());
        name
    }

    fn reserve(&mut self, dir: &Path, name: &str) -> PathBuf {
        let fresh = self.names.entry(dir.to_path_buf()).or_default().insert(name.to_string());
        assert!(fresh, "generator bug: {name} used twice in {}", dir.display());
        dir.join(name)
    }

    fn random_xattrs(&mut self, path: &Path) {
        if !self.rng.chance(25) {
            return;
        }
        let count = self.rng.range(1, 4);
        for _ in 0..count {
            let name = format!("user.{}", self.rng.pick(&["z", "a", "mime_type", "checksum", "k", "über", "x.y"]));
            let value = match self.rng.below(4) {
                0 => Vec::new(), // ostree drops empty-valued xattrs
                1 => {
                    let len = self.rng.range(1, 40) as usize;
                    self.rng.bytes(len)
                }
                2 => vec![0, 255, 0, 1],
                _ => {
                    let len = self.rng.range(1, 100) as usize;
                    self.rng.text(len)
                }
            };
            set_xattr(path, &name, &value);
        }
    }

    fn file(&mut self, path: &Path, data: &[u8], mode: u32, owner: (u32, u32), xattrs: bool) {
        write(path, data);
        if xattrs {
            self.random_xattrs(path);
        }
        // chown before chmod: chown clears the setuid/setgid bits.
        chown(path, owner.0, owner.1);
        chmod(path, mode);
        self.regular.push(path.to_path_buf());
    }

    fn dir(&mut self, path: &Path, mode: u32, owner: (u32, u32)) {
        mkdir(path);
        self.dirs.push(path.to_path_buf());
        self.dir_meta.push((path.to_path_buf(), mode, owner.0, owner.1));
    }

    fn random_content(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=14 => Vec::new(),
            15..=74 => {
                let len = self.rng.range(1, 2048) as usize;
                if self.rng.chance(50) {
                    self.rng.text(len)
                } else {
                    self.rng.bytes(len)
                }
            }
            _ => {
                let len = self.rng.range(2048, 64 * 1024) as usize;
                if self.rng.chance(50) {
                    self.rng.text(len)
                } else {
                    self.rng.bytes(len)
                }
            }
        }
    }
}

/// Generates a reproducible tree at `root` (created; 0755 0:0 unless the seed says otherwise).
///
/// Always present, whatever the seed: empty, small and > 1 MiB files; relative, absolute and
/// dangling symlinks (some owned by non-root); setuid 04755 and 0600 files; 0700 directories;
/// `user.*` xattrs on files and directories, one with an empty value; owners 1000:1001 and
/// 42:42; names with é and 日本; a chain of 22 nested directories; empty directories; the same
/// content under different modes, owners and xattrs; a 250-byte name. Then `random_entries`
/// random files, symlinks and duplicates in random directories.
pub fn generate_tree(root: &Path, opts: &TreeOptions) {
    let mut g = Gen {
        rng: Rng::new(opts.seed),
        dirs: Vec::new(),
        names: BTreeMap::new(),
        regular: Vec::new(),
        dir_meta: Vec::new(),
    };
    let root_mode = if opts.seed % 2 == 0 { 0o755 } else { 0o750 };
    g.dir(root, root_mode, (0, 0));
    if opts.seed % 3 == 0 {
        set_xattr(root, "user.root-note", b"on the root dirmeta");
    }

    // Fixed part.
    let fixed = g.reserve(root, "fixed");
    g.dir(&fixed, 0o755, (0, 0));
    let f = |name: &str| fixed.join(name);
    g.reserve(&fixed, "empty");
    g.file(&f("empty"), b"", 0o644, (0, 0), false);
    g.reserve(&fixed, "small.txt");
    g.file(&f("small.txt"), b"small file\n", 0o644, (0, 0), false);
    g.reserve(&fixed, "alpha.txt");
    g.file(&f("alpha.txt"), b"alpha, changed by the incremental test\n", 0o644, (0, 0), false);
    g.reserve(&fixed, "hardlink-to-small");
    fs::hard_link(f("small.txt"), f("hardlink-to-small")).expect("hard link");
    g.reserve(&fixed, "beta.bin");
    let beta = g.rng.bytes(3000);
    g.file(&f("beta.bin"), &beta, 0o640, (1000, 1001), false);
    g.reserve(&fixed, "setuid");
    g.file(&f("setuid"), b"#!/bin/sh\nexit 0\n", 0o4755, (0, 0), false);
    g.reserve(&fixed, "private-0600");
    g.file(&f("private-0600"), b"secret\n", 0o600, (42, 42), false);
    g.reserve(&fixed, "owned-1000");
    g.file(&f("owned-1000"), b"owned by 1000:1001\n", 0o644, (1000, 1001), false);
    g.reserve(&fixed, "xattrs");
    g.file(&f("xattrs"), b"xattrs\n", 0o644, (0, 0), false);
    set_xattr(&f("xattrs"), "user.zeta", b"last");
    set_xattr(&f("xattrs"), "user.alpha", b"first");
    set_xattr(&f("xattrs"), "user.binary", &[0, 1, 2, 255, 0]);
    set_xattr(&f("xattrs"), "user.empty", b""); // dropped by ostree
    g.reserve(&fixed, "only-empty-xattr");
    g.file(&f("only-empty-xattr"), b"only an empty xattr\n", 0o644, (0, 0), false);
    set_xattr(&f("only-empty-xattr"), "user.empty", b"");
    // The same content under different metadata: one blob, several objects.
    for (name, mode, owner, xattr) in [
        ("same-a", 0o644, (0, 0), false),
        ("same-b", 0o600, (0, 0), false),
        ("same-c", 0o644, (1000, 1001), false),
        ("same-d", 0o644, (0, 0), true),
        ("same-e", 0o4755, (42, 42), false),
    ] {
        g.reserve(&fixed, name);
        g.file(&f(name), b"identical content\n", mode, owner, false);
        if xattr {
            set_xattr(&f(name), "user.variant", b"d");
        }
    }
    for (name, target, owner) in [
        ("link-rel", "small.txt", (0, 0)),
        ("link-up", "../fixed/empty", (0, 0)),
        ("link-abs", "/usr/bin/env", (0, 0)),
        ("link-dangling", "/nonexistent/日本/été", (0, 0)),
        ("link-owned", "owned-1000", (1000, 1001)),
        ("link-42", "../../../../../etc/passwd", (42, 42)),
    ] {
        let path = g.reserve(&fixed, name);
        symlink(target, &path);
        chown(&path, owner.0, owner.1);
    }
    // Headers and dirmetas over 255 bytes need 2-byte framing offsets.
    g.reserve(&fixed, "big-xattr");
    g.file(&f("big-xattr"), b"big xattr\n", 0o644, (0, 0), false);
    let big_value = g.rng.bytes(3000);
    set_xattr(&f("big-xattr"), "user.big", &big_value);
    let long_target = g.reserve(&fixed, "link-long-target");
    symlink(&format!("{}/end", "segment/".repeat(120)), &long_target);
    let big_dir = g.reserve(&fixed, "dir-big-xattr");
    g.dir(&big_dir, 0o755, (0, 0));
    set_xattr(&big_dir, "user.big", &big_value[..400]);
    // No permission bits at all, on a file and on a directory holding a file.
    g.reserve(&fixed, "no-perms");
    g.file(&f("no-perms"), b"mode 0000\n", 0o000, (0, 0), false);
    let closed = g.reserve(&fixed, "closed-dir");
    g.dir(&closed, 0o000, (0, 0));
    let inside = g.reserve(&closed, "inside");
    g.file(&inside, b"in a 0000 directory\n", 0o644, (0, 0), false);
    let utf8 = g.reserve(&fixed, "été");
    g.dir(&utf8, 0o755, (0, 0));
    let nihon = g.reserve(&utf8, "日本語.txt");
    g.file(&nihon, "こんにちは\n".as_bytes(), 0o644, (0, 0), false);
    let long = g.reserve(&fixed, &format!("{}.txt", "L".repeat(246)));
    g.file(&long, b"long name\n", 0o644, (0, 0), false);
    let private = g.reserve(root, "private");
    g.dir(&private, 0o700, (0, 0));
    let key = g.reserve(&private, "key");
    g.file(&key, b"key material\n", 0o600, (0, 0), false);
    let owned_dir = g.reserve(root, "owned-dir");
    g.dir(&owned_dir, 0o700, (1000, 1001));
    set_xattr(&owned_dir, "user.dir-note", b"directory xattr");
    set_xattr(&owned_dir, "user.dir-empty", b"");
    let empty_dir = g.reserve(root, "empty-dir");
    g.dir(&empty_dir, 0o755, (0, 0));
    let empty_private = g.reserve(root, "empty-0700");
    g.dir(&empty_private, 0o700, (42, 42));
    set_xattr(&empty_private, "user.empty-dir", b"x");
    // Deep nesting.
    let mut deep = g.reserve(root, "deep");
    g.dir(&deep, 0o755, (0, 0));
    for level in 1..=22 {
        deep = g.reserve(&deep.clone(), &format!("d{level:02}"));
        let mode = if level % 7 == 0 { 0o700 } else { 0o755 };
        g.dir(&deep, mode, (0, 0));
    }
    let bottom = deep.join("bottom.txt");
    g.reserve(&deep, "bottom.txt");
    g.file(&bottom, b"at the bottom\n", 0o644, (0, 0), false);
    let up = g.reserve(&deep, "up");
    symlink("../../../../../../../../../../fixed/small.txt", &up);
    // Large files: random (incompressible) and text (compressible).
    let large = g.reserve(root, "large");
    g.dir(&large, 0o755, (0, 0));
    for i in 0..opts.large_files {
        let len = (1 << 20) + g.rng.below(600 * 1024) as usize;
        let data = if i % 2 == 0 { g.rng.bytes(len) } else { g.rng.text(len) };
        let path = g.reserve(&large, &format!("big-{i}.bin"));
        let owner = if i == 1 { (1000, 1001) } else { (0, 0) };
        g.file(&path, &data, 0o644, owner, false);
    }
    // A wide directory.
    if opts.wide_dir_entries > 0 {
        let wide = g.reserve(root, "wide");
        g.dir(&wide, 0o755, (0, 0));
        for i in 0..opts.wide_dir_entries {
            let path = g.reserve(&wide, &format!("entry-{i:05}"));
            write(&path, if i % 10 == 0 { b"ten" } else { b"" });
        }
    }

    // Random part: a few directories, then entries spread over every directory.
    for _ in 0..(opts.random_entries / 12).max(3) {
        let parent = g.rng.pick(&g.dirs.clone()).clone();
        if parent.strip_prefix(root).map(|r| r.components().count()).unwrap_or(0) > 6 {
            continue;
        }
        let name = g.fresh_name(&parent);
        let path = parent.join(name);
        let mode = *g.rng.pick(DIR_MODES);
        let owner = *g.rng.pick(OWNERS);
        g.dir(&path, mode, owner);
        g.random_xattrs(&path);
    }
    let dirs = g.dirs.clone();
    for _ in 0..opts.random_entries {
        let parent = g.rng.pick(&dirs).clone();
        let name = g.fresh_name(&parent);
        let path = parent.join(&name);
        match g.rng.below(100) {
            0..=69 => {
                let data = g.random_content();
                let mode = *g.rng.pick(FILE_MODES);
                let owner = *g.rng.pick(OWNERS);
                g.file(&path, &data, mode, owner, true);
            }
            70..=84 => {
                let target = match g.rng.below(4) {
                    0 => format!("../{}", g.rng.pick(NAME_PARTS)),
                    1 => format!("/usr/share/{}", g.rng.pick(NAME_PARTS)),
                    2 => g.rng.pick(NAME_PARTS).to_string(),
                    _ => format!("./a/b/../{}", g.rng.pick(NAME_PARTS)),
                };
                symlink(&target, &path);
                let owner = *g.rng.pick(OWNERS);
                chown(&path, owner.0, owner.1);
            }
            _ => {
                // A duplicate of an earlier file's content with other metadata.
                let source = g.rng.pick(&g.regular.clone()).clone();
                let data = fs::read(&source).expect("read earlier file");
                let mode = *g.rng.pick(FILE_MODES);
                let owner = *g.rng.pick(OWNERS);
                g.file(&path, &data, mode, owner, true);
            }
        }
    }
    // Directory metadata last (deepest first), so nothing later changes it.
    let mut metas = g.dir_meta.clone();
    metas.sort_by_key(|(path, ..)| std::cmp::Reverse(path.components().count()));
    for (path, mode, uid, gid) in metas {
        chown(&path, uid, gid);
        chmod(&path, mode);
    }
}

/// Changes a tree made by [`generate_tree`] the way a small update would: two files' content,
/// one file's mode, three new files, and a new directory with a file.
pub fn mutate_tree(root: &Path) {
    let fixed = root.join("fixed");
    write(&fixed.join("alpha.txt"), b"alpha, version two\n");
    let mut beta = fs::read(fixed.join("beta.bin")).expect("read beta.bin");
    beta.extend_from_slice(b"appended");
    write(&fixed.join("beta.bin"), &beta);
    chmod(&fixed.join("small.txt"), 0o600);
    write(&fixed.join("new-1"), b"new file one\n");
    write(&fixed.join("new-2"), b"new file two\n");
    write(&root.join("new-top"), &Rng::new(7).bytes(5000));
    mkdir(&root.join("added-dir"));
    chmod(&root.join("added-dir"), 0o755);
    write(&root.join("added-dir/inside"), b"inside the new directory\n");
    chmod(&root.join("added-dir/inside"), 0o644);
    for name in ["fixed/new-1", "fixed/new-2", "new-top"] {
        chmod(&root.join(name), 0o644);
    }
}

// ----------------------------------------------------------------------------------------
// Tree snapshots

/// One entry of a tree as `lstat` and the xattr calls see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 'f' regular, 'l' symlink, 'd' directory, '?' other.
    pub kind: char,
    /// Permission bits, 07777.
    pub perms: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// File bytes or the symlink target; empty for directories.
    pub data: Vec<u8>,
    /// Sorted `user.*` xattrs with non-empty values.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// A whole tree: path relative to the root ("" for the root) → node.
pub type Tree = BTreeMap<String, Node>;

/// The sorted `user.*` xattrs of `path` (not following symlinks), empty values dropped.
pub fn user_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    all_xattrs(path).into_iter().filter(|(name, value)| name.starts_with("user.") && !value.is_empty()).collect()
}

/// All xattrs of `path` (any namespace, not following symlinks), values included, sorted.
pub fn all_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let size = rustix::fs::llistxattr_query(path).unwrap_or_else(|e| panic!("llistxattr {}: {e}", path.display()));
    if size == 0 {
        return Vec::new();
    }
    let mut list = vec![0u8; size];
    let n =
        rustix::fs::llistxattr(path, &mut list[..]).unwrap_or_else(|e| panic!("llistxattr {}: {e}", path.display()));
    let mut out = Vec::new();
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let len = rustix::fs::lgetxattr_query(path, name.as_str())
            .unwrap_or_else(|e| panic!("lgetxattr {name} {}: {e}", path.display()));
        let mut value = vec![0u8; len];
        let got =
            if len == 0 { 0 } else { rustix::fs::lgetxattr(path, name.as_str(), &mut value[..]).expect("lgetxattr") };
        value.truncate(got);
        out.push((name, value));
    }
    out.sort();
    out
}

fn node(path: &Path) -> Node {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
    let ft = meta.file_type();
    let (kind, data) = if ft.is_file() {
        ('f', fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
    } else if ft.is_symlink() {
        ('l', fs::read_link(path).expect("readlink").into_os_string().into_encoded_bytes())
    } else if ft.is_dir() {
        ('d', Vec::new())
    } else {
        ('?', Vec::new())
    };
    Node {
        kind,
        perms: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: if kind == 'd' { 0 } else { meta.len() },
        data,
        xattrs: user_xattrs(path),
    }
}

/// Every path under `root` relative to it ("" for `root` itself), each directory before its
/// entries, names in byte order; symlinks are not followed.
pub fn relative_paths(root: &Path) -> Vec<String> {
    fn walk(root: &Path, rel: &str, out: &mut Vec<String>) {
        let path = if rel.is_empty() { root.to_path_buf() } else { root.join(rel) };
        out.push(rel.to_string());
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
        if meta.is_dir() {
            let mut names: Vec<String> = fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("readdir {}: {e}", path.display()))
                .map(|e| e.expect("dir entry").file_name().into_string().expect("UTF-8 name"))
                .collect();
            names.sort();
            for name in names {
                let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                walk(root, &child, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

/// Walks `root` with lstat.
pub fn snapshot(root: &Path) -> Tree {
    relative_paths(root)
        .into_iter()
        .map(|rel| {
            let path = if rel.is_empty() { root.to_path_buf() } else { root.join(&rel) };
            (rel, node(&path))
        })
        .collect()
}

/// xattrs for messages.
pub fn show_xattrs(x: &[(String, Vec<u8>)]) -> String {
    let parts: Vec<String> = x.iter().map(|(k, v)| format!("{k}={v:02x?}")).collect();
    format!("[{}]", parts.join(", "))
}

fn node_diff(a: &Node, b: &Node) -> Vec<String> {
    let mut d = Vec::new();
    if a.kind != b.kind {
        d.push(format!("type {} vs {}", a.kind, b.kind));
    }
    if a.perms != b.perms {
        d.push(format!("mode {:04o} vs {:04o}", a.perms, b.perms));
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        d.push(format!("owner {}:{} vs {}:{}", a.uid, a.gid, b.uid, b.gid));
    }
    if a.size != b.size {
        d.push(format!("size {} vs {}", a.size, b.size));
    }
    if a.data != b.data {
        let at = a.data.iter().zip(&b.data).position(|(x, y)| x != y).unwrap_or(a.data.len().min(b.data.len()));
        if a.kind == 'l' {
            d.push(format!("target {:?} vs {:?}", String::from_utf8_lossy(&a.data), String::from_utf8_lossy(&b.data)));
        } else {
            d.push(format!("content differs from byte {at}"));
        }
    }
    if a.xattrs != b.xattrs {
        d.push(format!("xattrs {} vs {}", show_xattrs(&a.xattrs), show_xattrs(&b.xattrs)));
    }
    d
}

/// Panics with up to 20 differences if the trees differ.
pub fn assert_trees_equal(expected: &Tree, actual: &Tree, context: &str) {
    let mut problems = Vec::new();
    for (path, e) in expected {
        match actual.get(path) {
            None => problems.push(format!("/{path}: missing")),
            Some(a) => {
                let d = node_diff(e, a);
                if !d.is_empty() {
                    problems.push(format!("/{path}: {} (expected vs actual)", d.join("; ")));
                }
            }
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        problems.push(format!("/{path}: unexpected"));
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(20);
        panic!("{context}: {total} differences between the trees:\n  {}", problems.join("\n  "));
    }
}

/// Removes the empty-valued xattrs from a snapshot (ostree drops them).
pub fn without_empty_xattrs(tree: &Tree) -> Tree {
    let mut out = tree.clone();
    for n in out.values_mut() {
        n.xattrs.retain(|(_, v)| !v.is_empty());
    }
    out
}
