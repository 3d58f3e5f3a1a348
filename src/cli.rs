//! Command-line arguments. Nothing else reads argv.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rejig_format::RepoMode;

/// Rebuild OSTree commits from RPM packages through a deduplicated, content-addressed store.
///
/// rejig keeps OSTree objects and package contents in a store (packs of zstd-compressed
/// blobs with a redb index). It describes a commit as a "jigdo" RPM naming the packages its
/// files come from, and rebuilds the bit-identical commit from those packages into an OSTree
/// repository of any mode, fetching only packages whose content the store lacks.
#[derive(Parser, Debug)]
#[command(name = "rejig", version, propagate_version = true)]
pub struct Cli {
    /// The store directory, or `s3://BUCKET/PREFIX` for a store shared on object storage
    /// [default: $XDG_DATA_HOME/rejig or ~/.local/share/rejig].
    #[arg(long, global = true, env = "REJIG_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// For a store on object storage (`--store s3://BUCKET/PREFIX`, with the AWS_* variables):
    /// the folder of its local index and pack cache [default: $XDG_CACHE_HOME/rejig/s3 or
    /// ~/.cache/rejig/s3].
    #[arg(long, global = true, env = "REJIG_CACHE", value_name = "DIR")]
    pub cache: Option<PathBuf>,
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
    /// Create a store; with --backed-by, an edge host's store that keeps each file once.
    ///
    /// A store backed by the OSTree repository it feeds reads the content of everything it
    /// exported into that repository back from it, instead of keeping a second copy in
    /// packs: it keeps only package manifests, jigdo tables and parts, and what is not yet
    /// exported. Later commands use it as usual (`rejig --store S export JIGDO --repo REPO`);
    /// exporting into another repository still works, as a copy. Every byte read from the
    /// repository is checked against its BLAKE3; objects that go missing or change (an
    /// `ostree prune`, a deletion, bit rot) are treated as absent and fetched again.
    ///
    /// Example: rejig --store /var/lib/rejig init --backed-by /sysroot/ostree/repo
    Init(InitArgs),
    /// Describe a commit by the packages it was composed from, as a jigdo RPM.
    ///
    /// Imports the commit and the packages (reusing what the store has), matches every file
    /// of the commit to a package file with the same bytes (whatever its path, owner, mode or
    /// xattrs), and writes a noarch RPM that requires exactly those packages and carries the
    /// commit's metadata, the files' metadata, and the content no package holds.
    ///
    /// Example: rejig build --repo ./compose --rev os/stable --packages ./rpms --name myos -o myos-jigdo.rpm
    Build(BuildArgs),
    /// Write a commit into an OSTree repository: a commit from the store, or the commit a
    /// jigdo RPM describes, rebuilt from packages.
    ///
    /// With a jigdo, only packages whose needed content the store lacks are fetched from the
    /// --packages sources (tried in order, like mirrors) and checked against the digests the
    /// jigdo binds them by. Every object is verified before anything is written. The
    /// repository is created (like `ostree init`) if missing; only objects it lacks are
    /// written; the ref moves last, after everything is on disk.
    ///
    /// Examples: rejig export 36dadcd6… --repo ./repo --mode bare-user --ref os/stable;
    /// rejig export myos-jigdo.rpm --packages https://mirror/os/repo/ --repo /ostree/repo --ref os/stable
    Export(ExportArgs),
    /// Say what `export JIGDO.rpm` would fetch (packages and bytes) without fetching.
    ///
    /// Example: rejig plan myos-jigdo-2.rpm --packages https://mirror/os/repo/
    Plan(PlanArgs),
    /// Summarise and verify an RPM package without importing it: NEVRA, compressor, file
    /// counts and sizes, and the status of the header, payload and file digests. For a jigdo:
    /// the commit, its packages and its object counts and sizes.
    Inspect(InspectArgs),
    /// Verify every blob and object in the store; --repair rebuilds the index from the packs.
    Fsck(FsckArgs),
    /// Drop what no kept root needs, and give the space back.
    ///
    /// Roots are the commits the store recorded (imported, committed, or rebuilt from a
    /// jigdo), ordered by last use (an export uses its commit). gc keeps the newest --keep N
    /// roots, and fewer when what they need exceeds --max-size; everything they reach stays,
    /// with the packages that supply their content. Packs with little left alive are
    /// rewritten, and packs under 16 MiB are folded into packs of about 32 MiB. Without
    /// options it only removes what no root reaches.
    ///
    /// Example: rejig gc --keep 2 --max-size 2G
    Gc(GcArgs),
    /// Work on a directory of jigdos and parts (a build output directory or a mirror).
    ///
    /// Example: rejig mirror prune ./repo --keep 3 && createrepo_c --update ./repo
    #[command(subcommand)]
    Mirror(MirrorCommand),
    /// Show the jigdo story on generated data. Needs no system tools.
    ///
    /// Builds a distro of 12 RPM packages, composes them into a tree (/etc moved to /usr/etc,
    /// a generated os-release, a file re-moded), commits it into a build store and writes its
    /// jigdo RPM. A separate client store rebuilds the bit-identical commit from the jigdo and
    /// the packages into a bare-user repository. Then two packages change: the v2 jigdo makes
    /// the client fetch just those two. With --dir, the files stay there (an earlier demo's
    /// are removed first).
    Demo(DemoArgs),
    /// Manage remotes: where `upgrade` finds jigdos, and the keys it checks them with.
    ///
    /// Each remote is one INI file with dnf's keys (baseurl, gpgkey, gpgcheck) and jigdo=,
    /// in /etc/rejig/remotes.d/ as root and $XDG_CONFIG_HOME/rejig/remotes.d/ otherwise.
    ///
    /// Example: rejig remote add edge --baseurl https://mirror/os/ --jigdo myos --gpgkey RPM-GPG-KEY-myos
    Remote(RemoteArgs),
    /// Move a ref to the remote's newest signed jigdo: find it in the remote's rpm-md, check
    /// its RPM signature and its commit's signatures, refuse an older commit, then rebuild and
    /// export it as `export JIGDO` does, fetching from the same remote.
    ///
    /// --check says what would be fetched and exits 77 when there is no update.
    ///
    /// Example: rejig upgrade --remote edge --repo /sysroot/ostree/repo --ref myos/stable --deploy --sysroot / --os myos
    Upgrade(UpgradeArgs),
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Import(_) => "import",
            Command::Init(_) => "init",
            Command::Build(_) => "build",
            Command::Export(_) => "export",
            Command::Plan(_) => "plan",
            Command::Inspect(_) => "inspect",
            Command::Fsck(_) => "fsck",
            Command::Gc(_) => "gc",
            Command::Mirror(_) => "mirror",
            Command::Demo(_) => "demo",
            Command::Remote(_) => "remote",
            Command::Upgrade(_) => "upgrade",
        }
    }
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

/// Package sources, shared by the jigdo commands.
#[derive(Args, Debug)]
pub struct PackagesArg {
    /// Where packages are: directories of RPMs (searched recursively) or rpm-md repositories
    /// (a path, file:// or http(s):// URL of the directory holding repodata/). Tried in
    /// order, like mirrors.
    #[arg(long, value_name = "SRC", num_args = 1.., action = clap::ArgAction::Append)]
    pub packages: Vec<String>,
    /// Give up on an HTTP connection, or a transfer that sends nothing, after this many
    /// seconds (each attempt; failed downloads are retried, then the next mirror is tried).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub http_timeout: u64,
    /// Give up on a transfer whose average speed stays below this many bytes a second for
    /// --speed-time seconds, and try the next mirror (the part kept resumes later). K, M
    /// and G suffixes count powers of 1024; 0 turns the check off.
    #[arg(long, value_name = "BYTES", default_value = "1K", value_parser = parse_size)]
    pub speed_limit: u64,
    /// How long a transfer may stay below --speed-limit; also bounds the wait for a reply's
    /// headers.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub speed_time: u64,
}

/// Arguments of `build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The OSTree repository holding the commit.
    #[arg(long, value_name = "REPO")]
    pub repo: PathBuf,
    /// The commit: a checksum or a ref.
    #[arg(long, value_name = "REV")]
    pub rev: String,
    /// The packages the commit was composed from.
    #[command(flatten)]
    pub packages: PackagesArg,
    /// The jigdo package's name (letters, digits and ._+-); its payload lives under
    /// /usr/lib/rejig/NAME/.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Where to write the jigdo RPM; its parts go beside it.
    #[arg(long, short, value_name = "OUT.rpm", required_unless_present = "output_dir", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,
    /// Write the jigdo RPM (named NAME-VERSION-RELEASE.noarch.rpm) and the parts this
    /// directory lacks into it.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Also write delta parts: the package files that are new since this commit (`parent`
    /// for the commit's parent, or a checksum), which must be in the store (built before
    /// with it; a missing parent only warns). A client holding that commit fetches them
    /// instead of the packages that changed, so an update costs the files that changed;
    /// other clients ignore them.
    #[arg(long, value_name = "parent|COMMIT")]
    pub delta_from: Option<String>,
}

/// Arguments of `plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The jigdo RPM.
    #[arg(value_name = "JIGDO.rpm")]
    pub jigdo: PathBuf,
    /// Where the packages are.
    #[command(flatten)]
    pub packages: PackagesArg,
}

/// Arguments of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A commit checksum (64 hex characters) in the store, or a jigdo RPM file.
    #[arg(value_name = "COMMIT|JIGDO.rpm")]
    pub commit: String,
    /// With a jigdo: where the packages are.
    #[command(flatten)]
    pub packages: PackagesArg,
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
    s.parse().map_err(|e: rejig_format::Error| e.to_string())
}

/// Arguments of `fsck`.
#[derive(Args, Debug)]
pub struct FsckArgs {
    /// Rebuild the index from the pack files first (after index damage or loss).
    #[arg(long)]
    pub repair: bool,
}

/// Arguments of `init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Bind the store to this OSTree repository (it may not exist yet; the first export
    /// creates it): content exported into it is read back from it, not kept twice.
    #[arg(long, value_name = "REPO")]
    pub backed_by: Option<PathBuf>,
}

/// Arguments of `gc`.
#[derive(Args, Debug)]
pub struct GcArgs {
    /// Keep at most N roots, the most recently used.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Keep fewer roots (never less than the newest) when the packs they need would exceed
    /// this size: bytes, or with a K, M, G or T suffix (powers of 1024).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_size: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.trim().to_ascii_uppercase().strip_suffix('B').unwrap_or(s.trim()) {
        t if t.ends_with('K') => (t.trim_end_matches('K').to_owned(), 10),
        t if t.ends_with('M') => (t.trim_end_matches('M').to_owned(), 20),
        t if t.ends_with('G') => (t.trim_end_matches('G').to_owned(), 30),
        t if t.ends_with('T') => (t.trim_end_matches('T').to_owned(), 40),
        t => (t.to_owned(), 0),
    };
    let value: u64 = digits.trim().parse().map_err(|_| format!("{s:?} is not a size (e.g. 500M, 2G, 1048576)"))?;
    value.checked_shl(shift).filter(|v| v >> shift == value).ok_or_else(|| format!("{s:?} is too large"))
}

/// `mirror` subcommands.
#[derive(Subcommand, Debug)]
pub enum MirrorCommand {
    /// Keep the N newest jigdos per name; delete older jigdos and every part no kept jigdo
    /// needs. Packages stay. Run `createrepo_c --update DIR` afterwards.
    Prune(MirrorPruneArgs),
}

/// Arguments of `mirror prune`.
#[derive(Args, Debug)]
pub struct MirrorPruneArgs {
    /// The directory (searched recursively).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Jigdos to keep per name, the newest first.
    #[arg(long, value_name = "N")]
    pub keep: usize,
    /// Only say what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo's files in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Where remotes live, for `remote` and `upgrade`.
#[derive(Args, Debug)]
pub struct ConfigDirArg {
    /// The configuration directory (remotes are in its remotes.d/) [default: /etc/rejig as
    /// root, $XDG_CONFIG_HOME/rejig otherwise].
    #[arg(long, env = "REJIG_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

/// Arguments of `remote`.
#[derive(Args, Debug)]
pub struct RemoteArgs {
    /// Where remotes live.
    #[command(flatten)]
    pub config: ConfigDirArg,
    /// What to do.
    #[command(subcommand)]
    pub command: RemoteCommand,
}

/// The `remote` subcommands.
#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Add a remote. It verifies with the keys given; without keys it needs --no-verify.
    Add(RemoteAddArgs),
    /// List the remotes.
    List,
    /// Delete a remote.
    Delete {
        /// Its name.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// Arguments of `remote add`.
#[derive(Args, Debug)]
pub struct RemoteAddArgs {
    /// The remote's name (letters, digits and ._-).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// An rpm-md repository (http(s):// or file:// URL or a path) holding the jigdos and
    /// the packages; several are tried in order, like mirrors.
    #[arg(long, value_name = "URL", required = true, num_args = 1.., action = clap::ArgAction::Append)]
    pub baseurl: Vec<String>,
    /// The jigdo package's name.
    #[arg(long, value_name = "JIGDONAME")]
    pub jigdo: String,
    /// An ASCII-armored OpenPGP public key trusted for the jigdo RPM's signature (and the
    /// commit's ostree.gpgsigs), as dnf's gpgkey=.
    #[arg(long, value_name = "FILE", num_args = 1.., action = clap::ArgAction::Append)]
    pub gpgkey: Vec<PathBuf>,
    /// An ed25519 key file in ostree's format (base64 public keys, one per line) trusted
    /// for the commit's ostree.sign.ed25519 signatures, which are then required.
    #[arg(long, value_name = "FILE", num_args = 1.., action = clap::ArgAction::Append)]
    pub ed25519_key: Vec<PathBuf>,
    /// Add the remote without keys: jigdos from it are taken unchecked.
    #[arg(long)]
    pub no_verify: bool,
}

/// Arguments of `upgrade`.
#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// Where remotes live.
    #[command(flatten)]
    pub config: ConfigDirArg,
    /// The remote to upgrade from.
    #[arg(long, value_name = "NAME")]
    pub remote: String,
    /// The OSTree repository to write; created if missing.
    #[arg(long, value_name = "REPO")]
    pub repo: PathBuf,
    /// The ref to move.
    #[arg(long = "ref", value_name = "REF")]
    pub ref_name: String,
    /// Mode for a new repository [default: archive]; an existing one must match.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub mode: Option<RepoMode>,
    /// Say what would be fetched without fetching packages; exit 77 when there is no update.
    #[arg(long)]
    pub check: bool,
    /// Take a commit older than the ref's.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Then deploy the ref with `ostree admin deploy` (needs --sysroot and --os).
    #[arg(long, requires_all = ["sysroot", "os"], conflicts_with = "check")]
    pub deploy: bool,
    /// The sysroot to deploy into; --repo must be its ostree/repo.
    #[arg(long, value_name = "DIR", requires = "deploy")]
    pub sysroot: Option<PathBuf>,
    /// The stateroot (as `ostree admin os-init OS`).
    #[arg(long, value_name = "OS", requires = "deploy")]
    pub os: Option<String>,
    /// Give up on an HTTP connection, or a transfer that sends nothing, after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub http_timeout: u64,
}
