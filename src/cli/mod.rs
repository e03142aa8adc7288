//! The command line: flags in, a validated action, exit codes out (see `cli.md`).

mod admin_cmd;
mod fmt;
mod lint;
mod load;
mod progress;
mod route;
mod run;
mod test;

use crate::admin::{CdrQuery, CodeCommand, ExtCommand, VmCommand};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// Exit codes shared by every command.
pub mod exit {
    /// Success, including idempotent no-ops.
    pub const OK: i32 = 0;
    /// The check failed: lint errors, failing sessions.
    pub const FAILED: i32 = 1;
    /// Bad usage or unreadable/invalid input.
    pub const USAGE: i32 = 2;
    /// Unknown extension or code.
    pub const UNKNOWN: i32 = 3;
    /// The database could not be opened or stayed busy.
    pub const DATABASE: i32 = 4;
}

/// pbxctl: dialplans, recorded-session tests and PBX administration.
#[derive(Debug, Parser)]
#[command(name = "pbxctl", version, about, long_about = None, after_help = "Exit codes: 0 ok, 1 check failed, 2 bad input, 3 unknown extension or code, 4 database unavailable.")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats of `lint`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LintFormat {
    /// rustc-style diagnostics.
    Human,
    /// One JSON document.
    Json,
    /// GitHub Actions annotations.
    Github,
}

/// Output formats of `test`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TestFormat {
    /// A line per session and a closing count.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML.
    Junit,
}

/// Options every store-backed command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The configuration file.
    #[arg(long, default_value = "pbx.yaml", env = "PBXCTL_CONFIG", global = true)]
    pub config: PathBuf,
    /// The database, instead of the one the config names.
    #[arg(long, env = "PBXCTL_DB", global = true)]
    pub db: Option<PathBuf>,
    /// Print no progress while provisioning the directory.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl StoreArgs {
    /// The database in use: `--db`, else the one the config names.
    pub fn database(&self, config: &crate::directory::Config) -> PathBuf {
        self.db.clone().unwrap_or_else(|| config.database.clone())
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check dialplans and configuration files.
    #[command(
        after_help = "Every code, with a bad and a good example: docs/lint.md. A warning is silenced by\n`# lint: allow(CODE)` on its own line above it; an allow that silences nothing is reported.\n\nExamples:\n  pbxctl lint dialplans/default.pbx\n  pbxctl lint --deny-warnings pbx.yaml     # the plan and the directory it serves\n  pbxctl lint --format json pbx.yaml"
    )]
    Lint {
        /// Dialplans (.pbx) and configs (.yaml); default: ./pbx.yaml.
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: LintFormat,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Format dialplans in place; `--check` for CI.
    #[command(
        after_help = "Examples:\n  pbxctl fmt dialplans/default.pbx\n  pbxctl fmt --check dialplans examples tests\n  pbxctl fmt - < plan.pbx > canonical.pbx"
    )]
    Fmt {
        /// Dialplans (.pbx) or folders searched for them; `-` reads standard input
        /// and writes the canonical form to standard output.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: print a diff of what would change and exit 1 if any
        /// file is not in canonical form.
        #[arg(long)]
        check: bool,
    },
    /// Replay recorded sessions against a dialplan.
    #[command(
        after_help = "Coverage: --coverage adds, per dialplan file, the rules, branches (ok/locked/invalid,\nif/else, retry, alert busy), hooks and lines the sessions ran, and lists what never\nran as file:line. --coverage-lcov and --coverage-cobertura write it to files for CI,\nwith or without --coverage. Exit codes stay those of the sessions.\n\nExamples:\n  pbxctl test tests/sessions\n  pbxctl test tests/sessions --filter PP- --format junit\n  pbxctl test tests/sessions --coverage --coverage-lcov lcov.info"
    )]
    Test {
        /// Session files or folders (searched recursively for .yaml).
        #[arg(default_value = "tests/sessions")]
        paths: Vec<PathBuf>,
        /// Use this dialplan instead of each session's own.
        #[arg(long)]
        dialplan: Option<PathBuf>,
        /// Only sessions whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: TestFormat,
        /// Rewrite each session's `expect` steps from what happened.
        #[arg(long)]
        update: bool,
        /// Report what of the dialplans the sessions ran and what never ran.
        #[arg(long)]
        coverage: bool,
        /// Write the coverage to FILE as an lcov tracefile.
        #[arg(long, value_name = "FILE")]
        coverage_lcov: Option<PathBuf>,
        /// Write the coverage to FILE as Cobertura XML.
        #[arg(long, value_name = "FILE")]
        coverage_cobertura: Option<PathBuf>,
    },
    /// Explain what dialed digits do from an extension, without a running server.
    #[command(
        after_help = "The rules the digits meet and why each did or did not take them, the class and\n\
                      state checks, the hooks, what the caller hears, and where the call ends up,\n\
                      run on an in-memory copy of the database: the database is never changed.\n\n\
                      Examples:\n  pbxctl route 95551234 --from 102\n  pbxctl route 102 --from 101 --at 2026-03-01T09:00:00Z --json"
    )]
    Route {
        /// The digits dialed (`0`-`9`, `*`, `#`).
        digits: String,
        /// The calling extension.
        #[arg(long, value_name = "EXT")]
        from: String,
        /// When: RFC 3339, or HH:MM today in the local time zone (default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Serve the dialplan over SIP/RTP.
    #[command(
        after_help = "Signals: SIGTERM or Ctrl-C stops taking calls and waits up to sip.drain for\nrunning calls; SIGHUP reloads config, plan and prompts for new calls.\nPBXCTL_LOG sets the log filter (default info).\n\nExample:\n  pbxctl run --config examples/pbx.yaml"
    )]
    Run {
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
        /// Write each call as a session file in DIR (secrets replaced by stand-ins),
        /// for `pbxctl test`.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
    /// Administer extensions.
    #[command(
        after_help = "Examples:\n  pbxctl ext lock 101\n  pbxctl ext pin-reset 101\n  pbxctl ext list --json"
    )]
    Ext {
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
        /// The action.
        #[command(subcommand)]
        action: ExtCommand,
    },
    /// A mailbox's messages: list, export, delete (the passcode on stdin).
    #[command(
        after_help = "Examples:\n  printf 2580 | pbxctl vm list 101\n  printf 2580 | pbxctl vm export 101 3 -o message.wav\n  printf 2580 | pbxctl vm delete 101 3"
    )]
    Vm {
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
        /// The action.
        #[command(subcommand)]
        action: VmCommand,
    },
    /// Administer verification codes.
    #[command(after_help = "Examples:\n  pbxctl code unlock 1111\n  pbxctl code pin-reset 1111")]
    Code {
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
        /// The action.
        #[command(subcommand)]
        action: CodeCommand,
    },
    /// List call records, oldest first (CDR-2).
    #[command(
        after_help = "Examples:\n  pbxctl cdr --since 2026-03-01 --type outbound\n  pbxctl cdr --number 101 --json\n  pbxctl cdr --since 2026-03-01T09:00:00Z --until 2026-03-31 --csv > march.csv"
    )]
    Cdr {
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
        /// Which records, and how.
        #[command(flatten)]
        query: CdrQuery,
    },
    /// Show the audit log of admin actions.
    #[command(after_help = "Examples:\n  pbxctl audit\n  pbxctl audit --json")]
    Audit {
        /// Store options.
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  pbxctl completions bash > /etc/bash_completion.d/pbxctl")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  pbxctl man > /usr/local/share/man/man1/pbxctl.1")]
    Man,
}

/// Runs the command line; returns the process exit code.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    match cli.command {
        Command::Lint {
            files,
            format,
            deny_warnings,
        } => lint::run(&files, format, deny_warnings),
        Command::Fmt { files, check } => fmt::run(&files, check),
        Command::Test {
            paths,
            dialplan,
            filter,
            format,
            update,
            coverage,
            coverage_lcov,
            coverage_cobertura,
        } => test::run(
            &paths,
            dialplan.as_deref(),
            filter.as_deref(),
            format,
            update,
            &test::CoverageArgs {
                report: coverage,
                lcov: coverage_lcov,
                cobertura: coverage_cobertura,
            },
        ),
        Command::Route {
            digits,
            from,
            at,
            json,
            store,
        } => route::run(&store, &digits, &from, at.as_deref(), json),
        Command::Run { store, record } => run::run(&store, record.as_deref()),
        Command::Ext { store, action } => admin_cmd::ext(&store, &action),
        Command::Code { store, action } => admin_cmd::code(&store, &action),
        Command::Vm { store, action } => admin_cmd::vm(&store, &action),
        Command::Cdr { store, query } => admin_cmd::cdr(&store, &query),
        Command::Audit { store, json } => admin_cmd::audit(&store, json),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "pbxctl",
                &mut out,
            );
            print(&String::from_utf8_lossy(&out));
            exit::OK
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out) {
                Ok(()) => {
                    print(&String::from_utf8_lossy(&out));
                    exit::OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::USAGE
                }
            }
        }
    }
}

/// Every file under a folder whose extension is one of `extensions`, depth first in
/// name order, so runs and reports list files the same way each time.
fn files_under(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, extensions, found)?;
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| extensions.contains(&x))
        {
            found.push(p);
        }
    }
    Ok(())
}

/// Writes to stdout; a closed pipe (`pbxctl ... | head`) is not an error.
fn print(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}
