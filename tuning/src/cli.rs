//! `switchboard tune`: the command-line front end (the only place `anyhow` is used).
//!
//! The `switchboard` binary embeds [`TuneArgs`] as its `tune` subcommand and calls [`run`].
//!
//! Exit codes: 0 when everything required is met (or the command succeeded); 1 when `check` finds a
//! required setting short, or `apply`/`revert` cannot write (read-only `/proc/sys`, not root).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::changes::{self, ChangeError, STATE_FILE_DEFAULT};
use crate::check::{self, Finding};
use crate::limits::ProcessLimits;
use crate::needs::{Engine, ServerNeeds};
use crate::profile::Profile;
use crate::report;
use crate::tree::{ProcSysTree, SysctlTree, PROC_SYS_ROOT};

/// Exit code when a required setting is short or a change could not be made.
pub const EXIT_SHORT: u8 = 1;

/// Arguments of `switchboard tune`.
#[derive(Debug, Clone, clap::Args)]
pub struct TuneArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TuneCommand,
    /// The profile to compare with or apply.
    #[arg(long, global = true, value_enum, default_value_t = Profile::C1m)]
    pub profile: Profile,
    /// Root of the sysctl tree (a copy of its shape in tests).
    #[arg(long, global = true, default_value = PROC_SYS_ROOT)]
    pub proc_root: PathBuf,
    /// Where `apply` saves the values it replaces and `revert` reads them.
    #[arg(long, global = true, default_value = STATE_FILE_DEFAULT)]
    pub state_file: PathBuf,
    /// The server config's maximum connections; adds the limits it implies (file-max, nr_open,
    /// conntrack, RLIMIT_NOFILE) as required rows. Without it only the profile is checked.
    #[arg(long, global = true)]
    pub connections: Option<u64>,
    /// The config's `limits.connections_per_shard_max` (default: an even share of --connections).
    #[arg(long, global = true)]
    pub connections_per_shard: Option<u64>,
    /// Connection shards (default: one per available CPU).
    #[arg(long, global = true)]
    pub shards: Option<u32>,
    /// The engine the server runs; decides whether RLIMIT_NOFILE must cover all connections (epoll)
    /// or one shard's (io-uring).
    #[arg(long, global = true, value_enum, default_value_t = Engine::IoUring)]
    pub engine: Engine,
    /// The listen backlog the server asks for (net.core.somaxconn must allow it).
    #[arg(long, global = true, default_value_t = 4096)]
    pub listen_backlog: u32,
    /// Bytes the engine pins (buffer rings, registered buffers); 0 skips the RLIMIT_MEMLOCK row.
    #[arg(long, global = true, default_value_t = 0)]
    pub memlock_bytes: u64,
}

/// The `tune` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum TuneCommand {
    /// Print current vs recommended values; exit 1 if a required one is short.
    Check,
    /// Print what `apply` would change (current -> new).
    Diff,
    /// Save the current values to the state file, then write the recommendations (root only).
    Apply,
    /// Restore the values saved by `apply` and remove the state file.
    Revert,
}

impl TuneArgs {
    /// The server needs described by the flags, if `--connections` was given.
    pub fn needs(&self) -> anyhow::Result<Option<ServerNeeds>> {
        let Some(connections_max) = self.connections else {
            return Ok(None);
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shards = self
            .shards
            .unwrap_or_else(|| u32::try_from(cpus).unwrap_or(u32::MAX));
        let needs = ServerNeeds {
            connections_max,
            connections_per_shard_max: self.connections_per_shard,
            shards,
            engine: self.engine,
            listen_backlog: self.listen_backlog,
            memlock_bytes: self.memlock_bytes,
        };
        needs.validate().context("invalid --connections/--shards")?;
        Ok(Some(needs))
    }
}

/// Runs a `tune` subcommand, printing to stdout.
pub fn run(args: &TuneArgs) -> anyhow::Result<ExitCode> {
    run_with_output(args, &mut std::io::stdout().lock())
}

/// [`run`], printing to `out`.
pub fn run_with_output(args: &TuneArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let tree = ProcSysTree::new(&args.proc_root);
    run_on_tree(args, &tree, out)
}

/// [`run`] against any [`SysctlTree`] (tests use a read-only one).
pub fn run_on_tree(
    args: &TuneArgs,
    tree: &dyn SysctlTree,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let settings = args
        .profile
        .settings()
        .context("shipped profile does not parse")?;
    let needs = args.needs()?;
    let requirements = check::requirements(&settings, needs.as_ref());
    let findings = check::evaluate(&requirements, tree);
    let changes = changes::plan(&requirements, &findings, tree);
    match args.command {
        TuneCommand::Check => print_check(args, needs.as_ref(), findings, out),
        TuneCommand::Diff => {
            write!(out, "{}", report::changes_table(&changes))?;
            if let Some(first) = changes
                .first()
                .filter(|change| !tree.is_writable(&change.key))
            {
                writeln!(
                    out,
                    "note: {} is read-only here (container?): apply would fail",
                    first.key
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TuneCommand::Apply => apply(args, tree, &changes, out),
        TuneCommand::Revert => revert(args, tree, out),
    }
}

fn print_check(
    args: &TuneArgs,
    needs: Option<&ServerNeeds>,
    mut findings: Vec<Finding>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    if let Some(needs) = needs {
        let limits = ProcessLimits::current().context("reading this process's resource limits")?;
        findings.extend(check::limit_findings(needs, &limits));
    }
    writeln!(
        out,
        "profile {} against {}",
        args.profile,
        args.proc_root.display()
    )?;
    write!(out, "{}", report::findings_table(&findings))?;
    let failing: Vec<&str> = findings
        .iter()
        .filter(|f| f.fails_check())
        .map(|f| f.key.as_str())
        .collect();
    if failing.is_empty() {
        writeln!(out, "result: ok (no required setting is short)")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "result: required setting(s) short: {}",
        failing.join(", ")
    )?;
    Ok(ExitCode::from(EXIT_SHORT))
}

fn apply(
    args: &TuneArgs,
    tree: &dyn SysctlTree,
    changes: &[changes::Change],
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    if let Some(refusal) = root_refusal(args) {
        writeln!(out, "{refusal}: cannot apply, showing what would change")?;
        write!(out, "{}", report::changes_table(changes))?;
        return Ok(ExitCode::from(EXIT_SHORT));
    }
    match changes::apply(changes, tree, &args.state_file) {
        Ok(applied) => {
            write!(out, "{}", report::changes_table(changes))?;
            for error in &applied.rejected {
                writeln!(out, "not applied: {error}")?;
            }
            let written = applied.written.len();
            let saved = args.state_file.display();
            writeln!(
                out,
                "applied {written} change(s); previous values saved in {saved}"
            )?;
            let code = if applied.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_SHORT)
            };
            Ok(code)
        }
        Err(ChangeError::ReadOnly) => {
            writeln!(out, "{}", ChangeError::ReadOnly)?;
            write!(out, "{}", report::changes_table(changes))?;
            Ok(ExitCode::from(EXIT_SHORT))
        }
        Err(error) => Err(error).context("tune apply"),
    }
}

fn revert(args: &TuneArgs, tree: &dyn SysctlTree, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    if let Some(refusal) = root_refusal(args) {
        writeln!(out, "{refusal}: cannot revert")?;
        return Ok(ExitCode::from(EXIT_SHORT));
    }
    match changes::revert(tree, &args.state_file) {
        Ok(restored) => {
            write!(out, "{}", report::changes_table(&restored))?;
            writeln!(
                out,
                "restored {} value(s) from {}",
                restored.len(),
                args.state_file.display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ ChangeError::NothingSaved { .. }) => {
            writeln!(out, "{error}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ ChangeError::ReadOnly) => {
            writeln!(out, "{error}")?;
            Ok(ExitCode::from(EXIT_SHORT))
        }
        Err(error) => Err(error).context("tune revert"),
    }
}

/// Why this process may not write the real `/proc/sys`, if it may not.
///
/// Only the real tree needs root: a `--proc-root` elsewhere (a test tree) is writable by its owner.
fn root_refusal(args: &TuneArgs) -> Option<String> {
    if args.proc_root != std::path::Path::new(PROC_SYS_ROOT) {
        return None;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    (euid != 0).then(|| format!("not root (euid {euid})"))
}
