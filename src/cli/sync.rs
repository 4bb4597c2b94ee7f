//! `vendoras sync`: vendir's flags, progress on a terminal, plain lines or a
//! JSON summary otherwise.

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use vendoras::config::Input;
use vendoras::sync::{self, Event, SyncOptions};
use vendoras::Op;

use super::shown;

#[derive(Args)]
pub struct SyncArgs {
    /// Config file (repeatable; `-` reads stdin)
    #[arg(short = 'f', long = "file", default_value = "vendir.yml")]
    files: Vec<String>,
    /// Lock file
    #[arg(long, default_value = "vendir.lock.yml")]
    lock_file: PathBuf,
    /// Sync only this content (its directory's path joined with its path); `path=local-dir` takes it from a local directory (lock not saved)
    #[arg(short = 'd', long = "directory")]
    directories: Vec<String>,
    /// Pull exactly what the lock file records
    #[arg(short = 'l', long)]
    locked: bool,
    /// Re-resolve only the contents whose config changed since the lock was written; pull all others exactly as the lock pins them (the post-upgrade step for Renovate)
    #[arg(long, conflicts_with = "locked")]
    relock_changed: bool,
    /// Honour `lazy: true` (`--lazy=false` fetches lazy contents too)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    lazy: bool,
    /// Change to this directory first
    #[arg(long)]
    chdir: Option<PathBuf>,
    /// Contents resolved and fetched at once
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Print a JSON summary (or, on failure, `{"error": {...}}`)
    #[arg(long)]
    pub(super) json: bool,
    /// Blob cache directory (default: $VENDORAS_CACHE_DIR, $XDG_CACHE_HOME/vendoras or ~/.cache/vendoras)
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not use the blob cache
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Most bytes one layer may expand to (suffixes K, M, G, T)
    #[arg(long, value_parser = parse_size, default_value = "32G")]
    max_layer_bytes: u64,
    /// Most entries one layer may hold
    #[arg(long, default_value_t = 1_000_000)]
    max_layer_entries: u64,
    /// Most bytes one compressed layer or archive may expand to per compressed byte, once past 100 MiB (0: no limit)
    #[arg(long, value_name = "RATIO", default_value_t = 200)]
    max_expansion_ratio: u64,
    /// Refuse config keys vendir ignores (by default they are warnings)
    #[arg(long)]
    strict: bool,
    /// Let directory paths be absolute or leave the project (the enclosing git work tree, else the working directory)
    #[arg(long)]
    allow_outside_paths: bool,
    /// Abandon (then retry) a transfer that makes no progress for this long, e.g. 60s, 2m [default: $VENDORAS_STALL_TIMEOUT or 60s]
    #[arg(long, value_name = "DURATION", value_parser = vendoras::registry::parse_stall_timeout)]
    stall_timeout: Option<std::time::Duration>,
    /// Mirrors file (registries.conf v2 [[registry]] tables, [[url]] rewrites for git and http) [default: $VENDORAS_MIRRORS]
    #[arg(long, value_name = "FILE")]
    mirrors: Option<std::path::PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512M or 32G"))?;
    let shift = match unit
        .trim_end_matches(['i', 'B'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

pub fn run(args: SyncArgs, op: &Arc<Op>) -> anyhow::Result<()> {
    if let Some(dir) = &args.chdir {
        std::env::set_current_dir(dir).with_context(|| format!("--chdir {}", dir.display()))?;
    }
    let workdir = std::env::current_dir().context("current directory")?;
    let mut inputs = Vec::new();
    for f in &args.files {
        let bytes = if f == "-" {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("read config from stdin")?;
            b
        } else {
            std::fs::read(f)
                .map_err(|e| vendoras::Error::io(f, e))
                .context("read config")?
        };
        inputs.push(Input::from_bytes(f.clone(), bytes).map_err(vendoras::Error::from)?);
    }
    let only = args
        .directories
        .iter()
        .map(|d| match d.split_once('=') {
            Some((dir, local)) => (dir.to_string(), Some(expand_home(local))),
            None => (d.clone(), None),
        })
        .collect();
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let mut opts = SyncOptions::new(workdir, inputs);
    opts.lock_file = args.lock_file.clone();
    opts.only = only;
    opts.locked = args.locked;
    opts.relock_changed = args.relock_changed;
    opts.lazy = args.lazy;
    opts.jobs = args.jobs;
    opts.cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(sync::default_cache_dir)
    };
    opts.limits.max_bytes = args.max_layer_bytes;
    opts.limits.max_entries = args.max_layer_entries;
    opts.limits.max_ratio = args.max_expansion_ratio;
    opts.strict = args.strict;
    opts.allow_outside_paths = args.allow_outside_paths;
    opts.stall_timeout = match args.stall_timeout {
        Some(t) => Some(t),
        None => vendoras::registry::stall_timeout_from_env()?,
    };
    opts.mirrors = super::load_mirrors(args.mirrors.as_deref())?;

    let progress = Progress::new(!args.json && std::io::stderr().is_terminal());
    let report = sync::sync(&opts, op, &|e| progress.event(e))?;
    progress.finish();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "Synced {} content(s); lock {}",
            report.contents.len(),
            if report.lock_written {
                "updated"
            } else {
                "unchanged"
            }
        );
    }
    Ok(())
}

/// Progress bars on a terminal, one line per content otherwise.
struct Progress {
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
}

impl Progress {
    fn new(terminal: bool) -> Progress {
        Progress {
            bars: terminal.then(|| (MultiProgress::new(), Mutex::new(HashMap::new()))),
        }
    }

    fn event(&self, e: Event<'_>) {
        match (&self.bars, e) {
            (_, Event::Waiting) => {
                eprintln!("vendoras: waiting for another sync in this directory to finish")
            }
            (Some((multi, bars)), Event::Started { id }) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix} {bytes} ({bytes_per_sec}) {elapsed}",
                    )
                    .expect("valid template"),
                );
                bar.set_prefix(shown(id));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bars.lock().unwrap().insert(id.to_string(), bar);
            }
            (Some((_, bars)), Event::Expect { id, total }) => {
                if let Some(bar) = bars.lock().unwrap().get(id) {
                    bar.set_length(total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                }
            }
            (Some((_, bars)), Event::Bytes { id, n }) => {
                if let Some(bar) = bars.lock().unwrap().get(id) {
                    bar.inc(n);
                }
            }
            (Some((_, bars)), Event::Finished { report }) => {
                if let Some(bar) = bars.lock().unwrap().remove(&report.path) {
                    bar.finish_with_message("done");
                    bar.finish_and_clear();
                }
                eprintln!("{}", shown(&line(report)));
            }
            (Some((multi, _)), Event::Warning { id, message }) => {
                let _ = multi.println(shown(&format!("warning: {id}: {message}")));
            }
            (None, Event::Finished { report }) => eprintln!("{}", shown(&line(report))),
            (Some((multi, _)), Event::Note { id, message }) => {
                let _ = multi.println(shown(&format!("{id}: {message}")));
            }
            (None, Event::Note { id, message }) => {
                eprintln!("{}", shown(&format!("{id}: {message}")))
            }
            (None, Event::Warning { id, message }) => {
                eprintln!("vendoras: warning: {}", shown(&format!("{id}: {message}")))
            }
            // Bytes and sizes are only drawn as bars; events added later
            // have nothing to show yet.
            _ => {}
        }
    }

    fn finish(&self) {
        if let Some((multi, _)) = &self.bars {
            let _ = multi.clear();
        }
    }
}

fn line(r: &sync::ContentReport) -> String {
    if r.skipped {
        return format!("{}: {} (lazy, unchanged)", r.path, r.reference);
    }
    format!(
        "{}: {} ({} files, {} bytes downloaded, {:.2}s)",
        r.path, r.reference, r.files, r.bytes, r.seconds
    )
}

/// `~` at the start of a `-d` local directory is the home directory, as
/// in vendir (which does not support `~user`).
fn expand_home(local: &str) -> PathBuf {
    match (local.strip_prefix('~'), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest.trim_start_matches('/')),
        _ => PathBuf::from(local),
    }
}
