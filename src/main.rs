//! The `rejig` command line: parses arguments once, calls one flow of the core (the `rejig`
//! library) per subcommand, and renders its report as text or JSON. No flow lives here.

mod cli;
mod progress;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use rejig::rebuild::is_file_argument;
use rejig::sources::Sources;
use rejig::{build, demo, export, fsck, gc, import, inspect, mirror, rebuild, remote, upgrade, Opener};
use rejig_exporter::ExportOptions;
use rejig_format::ObjectId;

use crate::cli::{Cli, Command, ExportArgs, PackagesArg, RemoteCommand};
use crate::progress::Bar;
use crate::render::Rendered;
use rejig::Progress;

fn default_store() -> Result<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(data).join("rejig"));
    }
    let home = std::env::var_os("HOME").context("neither --store, REJIG_STORE, XDG_DATA_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".local/share/rejig"))
}

/// Tells the user that another process holds the store, unless `quiet`.
fn on_wait(quiet: bool) -> impl Fn(&Path, &str) {
    move |path, holder| {
        if !quiet {
            eprintln!("rejig: waiting for the store lock on {}, held by {holder}", path.display());
        }
    }
}

/// The `--packages` sources with their HTTP bounds.
fn sources(args: &PackagesArg) -> Result<Sources> {
    Ok(Sources::parse(&args.packages, args.http_timeout)?.with_speed_floor(args.speed_limit, args.speed_time))
}

fn export_options(args: &ExportArgs) -> ExportOptions {
    ExportOptions { mode: args.mode, ref_name: args.ref_name.clone(), canonicalize: args.canonicalize }
}

/// Runs the command. A report that amounts to a failure (packages that failed, a store with
/// problems) is printed before its error is returned.
fn run(cli: &Cli) -> Result<Rendered> {
    let progress = Bar::new(cli.quiet, cli.json, cli.verbose);
    let holder = format!("rejig {} (pid {})", cli.command.name(), std::process::id());
    let wait = on_wait(cli.quiet);
    let warn = |message: &str| progress.warn(message);
    let opener = Opener::new(holder.clone(), &wait).on_warn(&warn).with_cache(cli.cache.clone());
    // Only commands that use the store need to know where it is.
    let store_path = || match &cli.store {
        Some(path) => Ok(path.clone()),
        None => default_store(),
    };
    let open = || opener.open(&store_path()?);
    let open_existing = || opener.open_existing(&store_path()?);
    match &cli.command {
        Command::Import(args) => {
            let store = open()?;
            if let (Some(repo), Some(rev)) = (&args.repo, &args.rev) {
                let options = import::ImportCommitOptions { repo: repo.clone(), rev: rev.clone() };
                return Rendered::of(&import::commit(&store, &options, &progress)?, render::import_commit);
            }
            let options = import::ImportPackagesOptions { paths: args.packages.clone() };
            let report = import::packages(&store, &options, &progress)?;
            let rendered = Rendered::of(&report, render::import_packages)?;
            match report.failure() {
                Some(error) => {
                    print(cli, &rendered);
                    Err(error)
                }
                None => Ok(rendered),
            }
        }
        Command::Init(args) => {
            Rendered::of(&rejig::init::init(&opener, &store_path()?, args.backed_by.as_deref())?, render::init)
        }
        Command::Build(args) => {
            if args.packages.packages.is_empty() {
                bail!("build needs --packages: the directories or repositories the commit was composed from");
            }
            let sources = sources(&args.packages)?;
            let store = open()?;
            let options = build::BuildOptions {
                repo: args.repo.clone(),
                rev: args.rev.clone(),
                sources,
                name: args.name.clone(),
                delta_from: args.delta_from.as_deref().map(build::DeltaFrom::parse).transpose()?,
                output: match (&args.output, &args.output_dir) {
                    (_, Some(dir)) => build::JigdoOutput::Dir(dir.clone()),
                    (Some(file), None) => build::JigdoOutput::File(file.clone()),
                    (None, None) => bail!("build needs --output FILE or --output-dir DIR"),
                },
            };
            Rendered::of(&build::build(&store, &options, &progress)?, render::build)
        }
        Command::Plan(args) => {
            let sources = sources(&args.packages)?;
            let store = open()?;
            let options = rebuild::PlanOptions { jigdo: args.jigdo.clone(), sources };
            Rendered::of(&rebuild::plan(&store, &options, &progress)?, render::plan)
        }
        Command::Inspect(args) => {
            let options = inspect::InspectOptions { file: args.file.clone() };
            Rendered::of(&inspect::inspect(&options, &progress)?, render::inspect)
        }
        Command::Export(args) if is_file_argument(&args.commit).is_some() => {
            let sources = sources(&args.packages)?;
            let store = open()?;
            let options = rebuild::ExportJigdoOptions {
                jigdo: PathBuf::from(&args.commit),
                sources,
                repo: args.repo.clone(),
                export: export_options(args),
            };
            Rendered::of(&rebuild::export_jigdo(&store, &options, &progress)?, render::rebuild)
        }
        Command::Export(args) => {
            if !args.packages.packages.is_empty() {
                bail!("--packages goes with a jigdo RPM; {:?} is neither a file nor ends in .rpm", args.commit);
            }
            let commit: ObjectId = args
                .commit
                .parse()
                .with_context(|| format!("{:?} is not a commit checksum (64 lowercase hex characters)", args.commit))?;
            let store = open_existing().with_context(|| format!("cannot export commit {commit}"))?;
            let options = export::ExportCommitOptions { commit, repo: args.repo.clone(), export: export_options(args) };
            Rendered::of(&export::export_commit(&store, &options, &progress)?, render::export)
        }
        Command::Fsck(args) => {
            let store = match args.repair {
                true => opener.open_for_repair(&store_path()?)?,
                false => opener.open_for_check(&store_path()?)?,
            };
            let report = fsck::fsck(&store, &fsck::FsckOptions { repair: args.repair }, &progress)?;
            let rendered = Rendered::of(&report, render::fsck)?;
            match report.failure() {
                Some(error) => {
                    print(cli, &rendered);
                    Err(error)
                }
                None => Ok(rendered),
            }
        }
        Command::Gc(args) => {
            let store = open_existing()?;
            let options = gc::GcOptions { keep: args.keep, max_size: args.max_size };
            Rendered::of(&gc::gc(&store, &options, &progress)?, render::gc)
        }
        Command::Mirror(cli::MirrorCommand::Prune(args)) => {
            let options = mirror::PruneOptions { dir: args.dir.clone(), keep: args.keep, dry_run: args.dry_run };
            Rendered::of(&mirror::prune(&options, &progress)?, render::mirror_prune)
        }
        Command::Demo(args) => {
            // The demo's stores are its own; with --json, nothing but the JSON is printed.
            let wait = on_wait(cli.quiet || cli.json);
            let opener = Opener::new(holder, &wait);
            let options = demo::DemoOptions { dir: args.dir.clone(), opener: &opener };
            Rendered::of(&demo::run(&options, &progress)?, render::demo)
        }
        Command::Remote(args) => {
            let config = remote::config_dir(args.config.config_dir.as_deref())?;
            match &args.command {
                RemoteCommand::Add(add) => {
                    let options = remote::AddOptions {
                        config,
                        name: add.name.clone(),
                        baseurls: add.baseurl.clone(),
                        jigdo: add.jigdo.clone(),
                        gpgkeys: add.gpgkey.clone(),
                        ed25519_keys: add.ed25519_key.clone(),
                        no_verify: add.no_verify,
                    };
                    Rendered::of(&remote::add(&options)?, render::remote_added)
                }
                RemoteCommand::List => {
                    let list = remote::RemoteList { remotes: remote::list(&config)?, dir: config };
                    Rendered::of(&list, render::remote_list)
                }
                RemoteCommand::Delete { name } => Rendered::of(&remote::delete(&config, name)?, render::remote_deleted),
            }
        }
        Command::Upgrade(args) => {
            let config = remote::config_dir(args.config.config_dir.as_deref())?;
            let remote = remote::get(&config, &args.remote)?;
            let deploy = match (args.deploy, &args.sysroot, &args.os) {
                (true, Some(sysroot), Some(os)) => Some(upgrade::Deploy { sysroot: sysroot.clone(), os: os.clone() }),
                _ => None,
            };
            let options = upgrade::UpgradeOptions {
                remote,
                repo: args.repo.clone(),
                ref_name: args.ref_name.clone(),
                mode: args.mode,
                check: args.check,
                allow_downgrade: args.allow_downgrade,
                deploy,
                fetch: Sources::parse(&[], args.http_timeout)?.options,
            };
            let store = open()?;
            Rendered::of(&upgrade::upgrade(&store, &options, &progress)?, render::upgrade)
        }
    }
}

/// `upgrade --check` exits 77 when there is no update, as `rpm-ostree upgrade --check` does.
const EXIT_NO_UPDATE: u8 = 77;

/// Prints the report on stdout. A reader that went away (`rejig … | head`) is not an error:
/// the rest is dropped quietly, as ripgrep does, instead of panicking in `println!`.
/// Returns false when the report could not be written for another reason (a full disk).
fn print(cli: &Cli, rendered: &Rendered) -> bool {
    use std::io::Write;
    let text = if cli.json {
        rendered.json.to_string()
    } else if !cli.quiet {
        rendered.text.clone()
    } else {
        return true;
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => true,
        Err(e) => {
            eprintln!("rejig: error: writing the report to stdout: {e}");
            false
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A big store reads its packs through a cache sized from this limit, and the importer
    // and exporter work in parallel: use all the descriptors the system allows.
    if let Some((before, after)) = rejig_store::raise_soft_limit() {
        if cli.verbose > 0 && !cli.quiet {
            eprintln!("rejig: raised the soft limit on open files from {before} to {after}");
        }
    }
    match run(&cli) {
        Ok(rendered) if !print(&cli, &rendered) => ExitCode::FAILURE,
        Ok(rendered) => match &cli.command {
            Command::Upgrade(args) if args.check && rendered.json["status"] == "up-to-date" => {
                ExitCode::from(EXIT_NO_UPDATE)
            }
            _ => ExitCode::SUCCESS,
        },
        Err(error) => {
            let message = format!("{error:#}");
            eprintln!("rejig: error: {message}");
            // Errors from outside the store (a package, the repository being written) name
            // the file only; running out of descriptors is a limit to raise, not damage.
            if rejig_store::error::caused_by_descriptor_exhaustion(error.as_ref())
                && !message.contains("too many open files: raise")
            {
                let limit = rejig_store::soft_limit().map_or_else(|| "?".to_owned(), |n| n.to_string());
                eprintln!(
                    "rejig: too many open files: raise `ulimit -n` (the soft limit is {limit}) and run again; \
                     the store is not damaged"
                );
            }
            ExitCode::FAILURE
        }
    }
}
