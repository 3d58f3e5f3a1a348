//! Command-line arguments. Nothing else reads argv.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rejig_store::RepoMode;

/// Rebuild OSTree commits from a deduplicated, content-addressed store.
///
/// rejig keeps OSTree objects in a store (packs of zstd-compressed blobs with a redb index),
/// imports commits out of OSTree repositories and writes them back, bit-identical, into
/// repositories of any mode.
#[derive(Parser, Debug)]
#[command(name = "rejig", version, propagate_version = true)]
pub struct Cli {
    /// The store directory [default: $XDG_DATA_HOME/rejig or ~/.local/share/rejig].
    #[arg(long, global = true, env = "REJIG_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Print one JSON object with the figures of the run instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log each phase with its count and time on stderr.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import RPM packages, or a commit from an OSTree repository, into the store.
    ///
    /// Packages: each payload is read once; every file's content becomes a blob and the
    /// package's manifest is recorded under its main-header SHA-256. Header, payload and file
    /// digests are all checked. A package the store already has is skipped after reading only
    /// its header. Packages import in parallel, each on its own: one failure does not undo the
    /// others, but makes the command exit non-zero.
    ///
    /// Commits: every object the commit reaches is checked against its checksum; content the
    /// store already has is skipped unread. Nothing is recorded unless the whole import works.
    ///
    /// Examples: rejig import ./rpms/ extra.rpm;
    /// rejig import --repo /srv/ostree/repo --rev fedora/x86_64/coreos/stable
    Import(ImportArgs),
    /// Write a commit from the store into an OSTree repository.
    ///
    /// The repository is created (like `ostree init`) if missing. Only objects it lacks are
    /// written; the ref moves last, after everything is on disk.
    ///
    /// Example: rejig export 36dadcd6… --repo ./repo --mode bare-user --ref os/stable
    Export(ExportArgs),
    /// Summarise and verify an RPM package without importing it: NEVRA, compressor, file
    /// counts and sizes, and the status of the header, payload and file digests.
    Inspect(InspectArgs),
    /// Verify every blob and object in the store; --repair rebuilds the index from the packs.
    Fsck(FsckArgs),
    /// Show the whole story on generated data: commit a tree, export it to archive and
    /// bare-user repositories, re-import it into a fresh store and export it again,
    /// bit-identical. Needs no system tools.
    Demo(DemoArgs),
}

/// Arguments of `import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// RPM packages, or directories searched recursively for `*.rpm`.
    #[arg(value_name = "PKG.rpm|DIR", required_unless_present = "repo", conflicts_with = "repo")]
    pub packages: Vec<PathBuf>,
    /// An OSTree repository to read a commit from (archive, bare-user, bare-user-only, bare).
    #[arg(long, value_name = "REPO", requires = "rev")]
    pub repo: Option<PathBuf>,
    /// With --repo: a commit checksum or a ref (`name` or `remote:name`).
    #[arg(long, value_name = "REV", requires = "repo")]
    pub rev: Option<String>,
}

/// Arguments of `inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The package file.
    #[arg(value_name = "FILE.rpm")]
    pub file: PathBuf,
}

/// Arguments of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The commit checksum (64 hex characters).
    #[arg(value_name = "COMMIT")]
    pub commit: String,
    /// The OSTree repository to write; created if missing.
    #[arg(long, value_name = "REPO")]
    pub repo: PathBuf,
    /// Mode for a new repository [default: archive]; an existing one must match.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub mode: Option<RepoMode>,
    /// Point refs/heads/NAME at the commit once it is complete.
    #[arg(long = "ref", value_name = "NAME")]
    pub ref_name: Option<String>,
    /// For bare-user-only: rewrite owners to 0, drop xattrs and mask permissions with 0755,
    /// as `ostree commit` does for that mode. The commit checksum changes.
    #[arg(long)]
    pub canonicalize: bool,
}

fn parse_mode(s: &str) -> Result<RepoMode, String> {
    s.parse().map_err(|e: rejig_store::Error| e.to_string())
}

/// Arguments of `fsck`.
#[derive(Args, Debug)]
pub struct FsckArgs {
    /// Rebuild the index from the pack files first (after index damage or loss).
    #[arg(long)]
    pub repair: bool,
}

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo's files in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
