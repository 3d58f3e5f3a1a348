//! The `rejig` command line: parses arguments, calls one library function per subcommand,
//! and renders its report. No format logic lives here.

mod build;
mod cli;
mod demo;
mod progress;
mod rebuild;
mod report;
mod sources;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use rejig_exporter::{export_commit, ExportOptions};
use rejig_format::ObjectId;
use rejig_importer::import_commit;
use rejig_importer::package::{import_packages, inspect_package};
use rejig_store::Store;

use crate::cli::{Cli, Command};
use crate::progress::Bar;
use crate::report::Rendered;

fn default_store() -> Result<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(data).join("rejig"));
    }
    let home = std::env::var_os("HOME").context("neither --store, REJIG_STORE, XDG_DATA_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".local/share/rejig"))
}

/// Opens the store, telling the user if another process holds it.
pub fn open_store(path: &std::path::Path, quiet: bool) -> Result<Store> {
    let on_wait = |holder: &str| {
        if !quiet {
            eprintln!("rejig: waiting for the store lock on {}, held by {holder}", path.display());
        }
    };
    Store::open(path, &on_wait).with_context(|| format!("opening the store at {}", path.display()))
}

fn run(cli: &Cli) -> Result<Rendered> {
    let progress = Bar::new(cli.quiet, cli.json, cli.verbose);
    // Only commands that use the store need to know where it is.
    let store_path = || match &cli.store {
        Some(path) => Ok(path.clone()),
        None => default_store(),
    };
    match &cli.command {
        Command::Import(args) => {
            let store = open_store(&store_path()?, cli.quiet)?;
            if let (Some(repo), Some(rev)) = (&args.repo, &args.rev) {
                let report = import_commit(&store, repo, rev, &progress)
                    .with_context(|| format!("importing {rev} from {}", repo.display()))?;
                return Ok(report::import(&report));
            }
            let report = import_packages(&store, &args.packages, &progress).context("importing packages")?;
            let rendered = report::packages(&report);
            if !report.failures.is_empty() {
                print(cli, &rendered);
                let reasons: Vec<String> = report.failures.iter().map(|(_, error)| format!("\n  {error}")).collect();
                let rest = match report.packages.len() {
                    0 => String::new(),
                    n => format!("; the other {n} were imported"),
                };
                bail!(
                    "{} of {} packages failed{rest}:{}",
                    report.failures.len(),
                    report.failures.len() + report.packages.len(),
                    reasons.concat()
                );
            }
            Ok(rendered)
        }
        Command::Build(args) => {
            if args.packages.packages.is_empty() {
                bail!("build needs --packages: the directories or repositories the commit was composed from");
            }
            let sources = sources::Sources::parse(&args.packages.packages, args.packages.http_timeout)?;
            let store = open_store(&store_path()?, cli.quiet)?;
            let request = build::BuildRequest {
                repo: &args.repo,
                rev: &args.rev,
                packages: &sources,
                name: &args.name,
                output: &args.output,
            };
            Ok(report::build(&build::build(&store, &request, &progress)?))
        }
        Command::Plan(args) => {
            let sources = sources::Sources::parse(&args.packages.packages, args.packages.http_timeout)?;
            let store = open_store(&store_path()?, cli.quiet)?;
            Ok(report::plan(&rebuild::plan(&store, &args.jigdo, &sources, &progress)?))
        }
        Command::Inspect(args) => {
            // The errors already name the file.
            if rejig_importer::jigdo::is_jigdo(&args.file)? {
                let file = rejig_importer::jigdo::read_jigdo(&args.file, None)?;
                return Ok(report::inspect_jigdo(&file));
            }
            let info = inspect_package(&args.file)?;
            Ok(report::inspect(&info))
        }
        Command::Export(args) if rebuild::is_file_argument(&args.commit).is_some() => {
            let jigdo = PathBuf::from(&args.commit);
            let sources = sources::Sources::parse(&args.packages.packages, args.packages.http_timeout)?;
            let store = open_store(&store_path()?, cli.quiet)?;
            let options =
                ExportOptions { mode: args.mode, ref_name: args.ref_name.clone(), canonicalize: args.canonicalize };
            let report = rebuild::export_jigdo(&store, &jigdo, &sources, &args.repo, &options, &progress)
                .with_context(|| format!("rebuilding the commit of {}", jigdo.display()))?;
            Ok(report::rebuild(&report))
        }
        Command::Export(args) => {
            if !args.packages.packages.is_empty() {
                bail!("--packages goes with a jigdo RPM; {:?} is neither a file nor ends in .rpm", args.commit);
            }
            let commit: ObjectId = args
                .commit
                .parse()
                .with_context(|| format!("{:?} is not a commit checksum (64 lowercase hex characters)", args.commit))?;
            let store = open_store(&store_path()?, cli.quiet)?;
            let options =
                ExportOptions { mode: args.mode, ref_name: args.ref_name.clone(), canonicalize: args.canonicalize };
            let report = export_commit(&store, commit, &args.repo, &options, &progress)
                .with_context(|| format!("exporting {commit} into {}", args.repo.display()))?;
            Ok(report::export(&report))
        }
        Command::Fsck(args) => {
            let store_path = store_path()?;
            let store = open_store(&store_path, cli.quiet)?;
            let repaired = if args.repair {
                Some(rejig_store::fsck::repair(&store).context("rebuilding the index")?)
            } else {
                None
            };
            let report = rejig_store::fsck::fsck(&store).context("checking the store")?;
            let rendered = report::fsck(&report, repaired.as_ref());
            if !report.problems.is_empty() {
                print(cli, &rendered);
                bail!("the store at {} has {} problem(s)", store_path.display(), report.problems.len());
            }
            Ok(rendered)
        }
        Command::Gc(args) => {
            let store = open_store(&store_path()?, cli.quiet)?;
            let started = std::time::Instant::now();
            let options = rejig_store::gc::GcOptions { keep: args.keep, max_size: args.max_size, ..Default::default() };
            let report = rejig_store::gc::gc(&store, &options, &progress).context("collecting garbage")?;
            Ok(report::gc(&report, started.elapsed().as_secs_f64()))
        }
        Command::Demo(args) => demo::run(args, cli.quiet || cli.json, &progress),
    }
}

fn print(cli: &Cli, rendered: &Rendered) {
    if cli.json {
        println!("{}", rendered.json);
    } else if !cli.quiet {
        println!("{}", rendered.text);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(rendered) => {
            print(&cli, &rendered);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rejig: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
