//! `vendoras outdated`: a table (or `--json`) of contents with a newer
//! version, as `npm outdated` shows packages.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use vendoras::outdated::{self, OutdatedOptions, Row};
use vendoras::Op;

#[derive(Args)]
pub struct OutdatedArgs {
    /// Config file (repeatable)
    #[arg(short = 'f', long = "file", default_value = "vendir.yml")]
    files: Vec<String>,
    /// Lock file
    #[arg(long, default_value = "vendir.lock.yml")]
    lock_file: PathBuf,
    /// Only this content (its directory's path joined with its path) or directory (repeatable)
    #[arg(short = 'd', long = "directory")]
    directories: Vec<String>,
    /// Print the rows as JSON
    #[arg(long)]
    pub(super) json: bool,
    /// Exit 1 when anything is outdated (for CI)
    #[arg(long)]
    exit_code: bool,
    /// Change to this directory first
    #[arg(long)]
    chdir: Option<PathBuf>,
    /// Lookups at once
    #[arg(long, default_value_t = 16)]
    jobs: usize,
    /// Cache directory (the hg mirror is kept there) [default: as sync's]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Mirrors file [default: $VENDORAS_MIRRORS]
    #[arg(long, value_name = "FILE")]
    mirrors: Option<PathBuf>,
    /// Let directory paths be absolute or leave the project
    #[arg(long)]
    allow_outside_paths: bool,
}

/// `Ok(true)` when `--exit-code` and something is outdated.
pub fn run(args: OutdatedArgs, op: &Arc<Op>) -> anyhow::Result<bool> {
    if let Some(dir) = &args.chdir {
        std::env::set_current_dir(dir).with_context(|| format!("--chdir {}", dir.display()))?;
    }
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let workdir = std::env::current_dir().context("current directory")?;
    let mut inputs = Vec::new();
    for f in &args.files {
        let bytes = std::fs::read(f)
            .map_err(|e| vendoras::Error::io(f, e))
            .context("read config")?;
        inputs.push(
            vendoras::config::Input::from_bytes(f.clone(), bytes).map_err(vendoras::Error::from)?,
        );
    }
    let mut opts = OutdatedOptions::new(workdir, inputs);
    opts.lock_file = args.lock_file.clone();
    opts.only = args.directories.clone();
    opts.jobs = args.jobs;
    opts.cache_dir = args
        .cache_dir
        .clone()
        .or_else(vendoras::sync::default_cache_dir);
    opts.stall_timeout = vendoras::registry::stall_timeout_from_env()?;
    opts.mirrors = super::load_mirrors(args.mirrors.as_deref())?;
    opts.allow_outside_paths = args.allow_outside_paths;

    let terminal = !args.json && std::io::stderr().is_terminal();
    let show = |done: usize, total: usize| {
        if terminal {
            eprint!("\r\x1b[2Kchecking {done}/{total}");
            let _ = std::io::stderr().flush();
        }
    };
    let rows = outdated::outdated(&opts, op, &show)?;
    if terminal {
        eprint!("\r\x1b[2K");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| r.error.is_some()).collect();
    for r in &failed {
        eprintln!(
            "vendoras: warning: {}: {}",
            r.path,
            super::shown(r.error.as_deref().unwrap_or_default())
        );
    }
    if !failed.is_empty() {
        bail!("{} of {} lookups failed (above)", failed.len(), rows.len());
    }
    Ok(args.exit_code && rows.iter().any(|r| r.outdated))
}

/// Aligned columns; a row that is outdated is marked `*`. Versions come from
/// remotes (tags, release names, chart indexes), so every cell is shown escaped.
fn table(rows: &[Row]) -> String {
    let dash =
        |v: &Option<String>| vendoras::redact::escape(v.as_deref().unwrap_or("-")).into_owned();
    let mut lines: Vec<[String; 7]> = vec![[
        "".into(),
        "KIND".into(),
        "PATH".into(),
        "CURRENT".into(),
        "LOCKED".into(),
        "WANTED".into(),
        "LATEST".into(),
    ]];
    for r in rows {
        lines.push([
            if r.outdated { "*" } else { " " }.into(),
            r.kind.clone(),
            vendoras::redact::escape(&r.path).into_owned(),
            vendoras::redact::escape(&r.current).into_owned(),
            dash(&r.locked),
            if r.pinned {
                "(pinned)".into()
            } else {
                dash(&r.wanted)
            },
            dash(&r.latest),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(cells.join(" ").trim_end());
        out.push('\n');
    }
    out
}
