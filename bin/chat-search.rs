//! `chat-search`: index and search linechat's CSV room archives from the command line.
//!
//! Thin front end: argument parsing here, everything else in `linechat::search::cli`.
//! Exit codes: 0 success (also with zero hits), 1 runtime error, 2 usage or bad query.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use linechat::search::cli;
use linechat::search::output::Format;
use linechat::search::{QueryError, Scope, SearchRequest, SortOrder};

/// Index and search linechat's room archives (history_<room>.csv).
///
/// The index lives in <log-dir>/.index unless --index-dir says otherwise. While
/// chat-server runs it keeps the index current itself and holds its writer lock:
/// `query` and `stats` work then, `index` and `rebuild` refuse.
#[derive(Parser)]
#[command(name = "chat-search", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Dirs {
    /// Directory holding the history_<room>.csv archives.
    #[arg(long, env = "LINECHAT_LOG_DIR", default_value = "./logs")]
    log_dir: PathBuf,
    /// Index directory [default: <log-dir>/.index].
    #[arg(long)]
    index_dir: Option<PathBuf>,
}

impl Dirs {
    fn index_dir(&self) -> PathBuf {
        self.index_dir
            .clone()
            .unwrap_or_else(|| cli::default_index_dir(&self.log_dir))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Add new messages from the archives to the index (only complete rows not yet
    /// indexed; truncated and rotated files are detected). Creates the index if needed.
    Index(Dirs),
    /// Delete the index and build it again from all archives.
    Rebuild(Dirs),
    /// Search messages.
    ///
    /// Query language: words must all match (case-insensitive, no stemming);
    /// "a phrase" matches adjacent words; -word excludes; deploy* matches words starting
    /// with deploy; a OR b matches either; user:alice and room:#general (or room:general)
    /// filter, several of one kind are OR-ed; since:DATE and until:DATE bound the time.
    /// Japanese/Chinese/Korean words match inside longer text; C++, C#, .NET, node.js
    /// and emoji are searchable as written. docs/search.md has the exact rules.
    ///
    /// Example: chat-search query 'deploy -staging "is done"' --room general --since 2026-11-01
    Query(QueryArgs),
    /// Show message counts per room and over time (per day, or per week or month for
    /// long ranges) as bar charts, and when the index was last updated.
    Stats {
        #[command(flatten)]
        dirs: Dirs,
        /// Only this room (with or without #).
        #[arg(long)]
        room: Option<String>,
        /// From this date (2026-11-01, today, yesterday, in --tz) or RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Up to this date (inclusive: all of that day, in --tz) or RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Time zone for days: UTC, an offset like +09:00 or -05:00, or a name like Asia/Tokyo.
        #[arg(long, default_value = "UTC", allow_hyphen_values = true)]
        tz: String,
    },
}

#[derive(Args)]
struct QueryArgs {
    /// The query (see above); empty lists the newest messages in scope. It may start
    /// with a `-` exclusion (`'-the' --room general`).
    #[arg(default_value = "", allow_hyphen_values = true)]
    query: String,
    #[command(flatten)]
    dirs: Dirs,
    /// Only this room (with or without #).
    #[arg(long)]
    room: Option<String>,
    /// Only messages by this user.
    #[arg(long)]
    user: Option<String>,
    /// From this date (2026-11-01, today, yesterday: whole days, in --tz) or RFC 3339
    /// time, inclusive.
    #[arg(long)]
    since: Option<String>,
    /// Up to this date (inclusive: all of that day, in --tz) or RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// Time zone for dates without an offset: UTC, an offset like +09:00, -05:00 or
    /// -0500, or a zone name like Asia/Tokyo (daylight saving applied).
    #[arg(long, default_value = "UTC", allow_hyphen_values = true)]
    tz: String,
    /// time: the newest --limit matches, printed oldest first; relevance: best first.
    #[arg(long, value_enum, default_value_t = Sort::Time)]
    sort: Sort,
    /// Most results to print.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    limit: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
    /// With --format csv: prefix `'` to fields starting with = + - @ TAB or CR, so a
    /// spreadsheet shows them as text instead of running them as formulas.
    #[arg(long)]
    csv_safe: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sort {
    Time,
    Relevance,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Text,
    Json,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-search: {e:#}");
            if e.downcast_ref::<QueryError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let stderr = &mut std::io::stderr();
    let progress = std::io::stderr().is_terminal();
    match cli.command {
        Command::Index(dirs) => {
            let summary = cli::index(&dirs.log_dir, &dirs.index_dir(), progress, stderr)?;
            println!("{}", summary.line());
        }
        Command::Rebuild(dirs) => {
            let summary = cli::rebuild(&dirs.log_dir, &dirs.index_dir(), progress, stderr)?;
            println!("{}", summary.line());
        }
        Command::Query(q) => {
            let req = SearchRequest {
                query: q.query,
                scope: Scope {
                    room: q.room,
                    rooms: Vec::new(),
                    user: q.user,
                    since: q.since,
                    until: q.until,
                    tz: Some(q.tz),
                },
                sort: match q.sort {
                    Sort::Time => SortOrder::Time,
                    Sort::Relevance => SortOrder::Relevance,
                },
                limit: usize::try_from(q.limit).unwrap_or(usize::MAX),
            };
            let format = match q.format {
                OutFormat::Text => Format::Text,
                OutFormat::Json => Format::Json,
                OutFormat::Csv if q.csv_safe => Format::CsvSafe,
                OutFormat::Csv => Format::Csv,
            };
            if q.csv_safe && !matches!(format, Format::CsvSafe) {
                anyhow::bail!("--csv-safe goes with --format csv");
            }
            let stdout = std::io::stdout();
            let highlight = stdout.is_terminal();
            let mut out = stdout.lock();
            cli::query(
                &q.dirs.index_dir(),
                &req,
                format,
                highlight,
                &mut out,
                stderr,
            )?;
            out.flush()?;
        }
        Command::Stats {
            dirs,
            room,
            since,
            until,
            tz,
        } => {
            let index_dir = dirs.index_dir();
            let filter = linechat::search::stats::Filter {
                tz,
                room,
                since,
                until,
            };
            cli::stats(
                Path::new(&index_dir),
                &filter,
                &mut std::io::stdout().lock(),
            )?;
        }
    }
    Ok(())
}
