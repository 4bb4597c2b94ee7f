//! `vendoras update`: move references in `vendir.yml` (edited in place,
//! every other byte kept), then sync just those contents and relock them.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use vendoras::config::edit::{self, Field};
use vendoras::config::Input;
use vendoras::lock::LockConfig;
use vendoras::outdated::{self, OutdatedOptions, Row};
use vendoras::sync::{self, SyncOptions};
use vendoras::Op;

#[derive(Args)]
pub struct UpdateArgs {
    /// Contents to update (as `sync -d` names them: directory path joined with content path, or a directory's path); none = every content
    contents: Vec<String>,
    /// Move to this tag, ref or version (one content at a time)
    #[arg(long, value_name = "VERSION", conflicts_with = "latest")]
    to: Option<String>,
    /// Move exact references to the newest release (`outdated`'s LATEST), not only within their constraint
    #[arg(long)]
    latest: bool,
    /// Print what would change; write nothing
    #[arg(long)]
    dry_run: bool,
    /// Config file
    #[arg(short = 'f', long = "file", default_value = "vendir.yml")]
    file: PathBuf,
    /// Lock file
    #[arg(long, default_value = "vendir.lock.yml")]
    lock_file: PathBuf,
    /// Change to this directory first
    #[arg(long)]
    chdir: Option<PathBuf>,
    /// Blob cache directory [default: as sync's]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

/// One planned change.
struct Plan {
    row: Row,
    /// The new text, or `None` to re-resolve in place (a range, a branch,
    /// `latest: true`).
    to: Option<String>,
}

pub fn run(args: UpdateArgs, op: &Arc<Op>) -> anyhow::Result<()> {
    if let Some(dir) = &args.chdir {
        std::env::set_current_dir(dir).with_context(|| format!("--chdir {}", dir.display()))?;
    }
    let workdir = std::env::current_dir().context("current directory")?;
    let name = args.file.display().to_string();
    let original = std::fs::read_to_string(&args.file)
        .map_err(|e| vendoras::Error::io(&args.file, e))
        .context("read config")?;
    let input = |text: &str| -> anyhow::Result<Vec<Input>> {
        Ok(vec![Input::from_bytes(
            name.clone(),
            text.as_bytes().to_vec(),
        )
        .map_err(vendoras::Error::from)?])
    };
    if args.to.is_some() && args.contents.len() != 1 {
        bail!("--to moves one content: name exactly one");
    }
    let cache_dir = args.cache_dir.clone().or_else(sync::default_cache_dir);
    let mut opts = OutdatedOptions::new(&workdir, input(&original)?);
    opts.lock_file = args.lock_file.clone();
    opts.only = args.contents.clone();
    opts.cache_dir = cache_dir.clone();
    opts.stall_timeout = vendoras::registry::stall_timeout_from_env()?;
    opts.mirrors = super::load_mirrors(None)?;
    let rows = outdated::outdated(&opts, op, &|_, _| {})?;

    let mut plans = Vec::new();
    for row in rows {
        if let Some(e) = &row.error {
            bail!("{}: {e}", row.path);
        }
        let target = match (&args.to, args.latest) {
            (Some(v), _) => Some(v.clone()),
            (None, true) => row.latest.clone(),
            (None, false) => row.wanted.clone(),
        };
        let plan = match row.selection {
            "exact" => match target {
                Some(t) if t != row.current => Some(Some(t)),
                _ => None,
            },
            "branch" if args.to.is_some() => Some(target),
            "range" | "newest" | "branch" if args.to.is_some() => bail!(
                "{}: its config selects {} ({}); edit that to move it",
                row.path,
                if row.selection == "range" {
                    "a semver range"
                } else {
                    "the newest release"
                },
                row.current
            ),
            // Re-resolved within the config's own selection.
            "range" | "newest" if row.wanted.is_some() && row.wanted != row.locked => Some(None),
            "branch" => Some(None),
            _ => None,
        };
        if let Some(to) = plan {
            plans.push(Plan { row, to });
        }
    }
    if plans.is_empty() {
        println!("Nothing to update");
        return Ok(());
    }

    // Edit the config, one scalar at a time.
    let mut text = original.clone();
    for p in &plans {
        let Some(to) = &p.to else { continue };
        let r = &p.row;
        let field = |source, field| Field {
            dir: &r.directory,
            content: &r.content,
            source,
            field,
        };
        let (at, old, new) = match r.kind.as_str() {
            "ociArtifact" if edit::has_field(&text, &field("ociArtifact", "tag")) => {
                (field("ociArtifact", "tag"), r.current.clone(), to.clone())
            }
            "ociArtifact" => {
                let at = field("ociArtifact", "image");
                let (old, new) = tag_edit(&text, &at, &r.current, to);
                (at, old, new)
            }
            "image" => {
                let at = field("image", "url");
                let (old, new) = tag_edit(&text, &at, &r.current, to);
                (at, old, new)
            }
            "imgpkgBundle" => {
                let at = field("imgpkgBundle", "image");
                let (old, new) = tag_edit(&text, &at, &r.current, to);
                (at, old, new)
            }
            "helmChart" => (field("helmChart", "version"), r.current.clone(), to.clone()),
            "githubRelease" => (field("githubRelease", "tag"), r.current.clone(), to.clone()),
            "git" => (field("git", "ref"), r.current.clone(), to.clone()),
            "hg" => (field("hg", "ref"), r.current.clone(), to.clone()),
            other => bail!("{}: a {other} content has no version to move", r.path),
        };
        text = edit::replace_in_scalar(&text, &at, &old, &new)
            .map_err(|e| anyhow::anyhow!("{}: {name}: {e}", r.path))?;
    }

    // Versions come from remotes (tags, release names): shown escaped.
    let shown = |p: &Plan| {
        super::shown(&match &p.to {
            Some(to) => format!("{} → {to}", p.row.current),
            None => format!(
                "{} → {} (within {})",
                p.row.locked.as_deref().unwrap_or("-"),
                p.row.wanted.as_deref().unwrap_or("the branch head"),
                p.row.current
            ),
        })
    };
    if args.dry_run {
        for p in &plans {
            println!("{}: {} (dry run)", p.row.path, shown(p));
        }
        return Ok(());
    }

    // Write, then sync just these contents, relocking them; on failure the
    // config goes back as it was.
    write(&args.file, &text)?;
    let mut sync_opts = SyncOptions::new(&workdir, input(&text)?);
    sync_opts.lock_file = args.lock_file.clone();
    sync_opts.only = plans.iter().map(|p| (p.row.path.clone(), None)).collect();
    sync_opts.relock_changed = true;
    sync_opts.relock = plans.iter().map(|p| p.row.path.clone()).collect();
    sync_opts.cache_dir = cache_dir;
    sync_opts.stall_timeout = opts.stall_timeout;
    sync_opts.mirrors = opts.mirrors.clone();
    let synced = sync::sync(&sync_opts, op, &|e| {
        if let sync::Event::Warning { id, message } = e {
            eprintln!("vendoras: warning: {id}: {message}");
        }
    });
    if let Err(e) = synced {
        write(&args.file, &original)?;
        return Err(anyhow::Error::from(e).context(format!(
            "sync after the edit failed; {name} is back as it was"
        )));
    }
    let lock = LockConfig::read(&workdir.join(&args.lock_file))?;
    for p in &plans {
        let pinned = lock
            .as_ref()
            .and_then(|l| l.content(&p.row.directory, &p.row.content))
            .and_then(|c| c.pinned())
            .unwrap_or_default();
        println!("{}: {} ({pinned})", p.row.path, shown(p));
    }
    Ok(())
}

/// The edit of a `repo:tag` reference's tag: `:current` becomes `:to`; a reference
/// written without a tag (`latest` implied) gets `:to` appended.
fn tag_edit(text: &str, at: &Field<'_>, current: &str, to: &str) -> (String, String) {
    let tagged = edit::scalar(text, at).is_none_or(|reference| {
        let name = reference.rsplit('/').next().unwrap_or_default();
        name.contains(':')
    });
    let old = if tagged {
        format!(":{current}")
    } else {
        String::new()
    };
    (old, format!(":{to}"))
}

/// Replaces `path` whole (a temporary file beside it, renamed over it).
fn write(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| vendoras::Error::io(dir, e))
        .context("write config")?;
    std::fs::write(tmp.path(), text).map_err(|e| vendoras::Error::io(tmp.path(), e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(path)
        .map_err(|e| vendoras::Error::io(path, e.error))
        .context("write config")?;
    Ok(())
}
