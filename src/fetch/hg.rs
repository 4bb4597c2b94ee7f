//! `hg:` — a changeset checked out with the installed `hg`, `.hg` kept, as
//! vendir v0.44.0 does it (docs/dev/vendir-reference.md, "hg").
//!
//! - probe: `hg identify -r REF URL` resolves the ref to a node without
//!   pulling; the title of a node seen before comes from the cache's facts.
//! - fetch: a clone per URL in the cache (`<cache>/hg/<sha256(url)>`) is
//!   pulled only when it lacks the node; the checkout is an `hg clone` of
//!   it whose `.hg/hgrc` is exactly vendir's (`[paths] default = URL`).

use std::os::unix::fs::PermissionsExt;

use serde::{Deserialize, Serialize};

use super::vcs::{self, Area, Facts, Failure, Runner};
use super::{FetchContext, Fetched, Probed, Source};
use crate::config::Hg as HgConfig;
use crate::error::{Error, Result};
use crate::extract::Root;
use crate::lock::{LockContent, LockHg};

/// The `hg` source.
pub struct HgSource<'a> {
    pub cfg: &'a HgConfig,
}

#[derive(Serialize, Deserialize)]
struct NodeFacts {
    title: String,
}

impl HgSource<'_> {
    fn remote(&self) -> vcs::Remote<'_> {
        vcs::Remote {
            tool: "hg",
            url: &self.cfg.url,
            reference: self.cfg.reference.clone(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        self.remote().error(reason)
    }

    fn failed(&self, f: Failure) -> Error {
        self.remote().failed(f)
    }

    /// The runner with vendir's hgrc (evolve, `[auth]`, `[ui] ssh`) in a
    /// private file named by `HGRCPATH`: no user config, no secret in
    /// arguments.
    fn runner(&self, ctx: &FetchContext<'_>) -> Result<Runner> {
        let (auth, mut r) = self.remote().runner(ctx, self.cfg.secret_ref.as_ref())?;
        let mut rc = String::new();
        if self.cfg.evolve {
            rc.push_str("[extensions]\nevolve =\ntopic =\n");
        }
        if let Some((user, password)) = auth.basic() {
            let rest = &self.cfg.url["https://".len()..];
            let host = &rest[..rest.find('/').unwrap_or(rest.len())];
            rc.push_str(&format!(
                "[auth]\nhgauth.prefix = https://{host}\nhgauth.username = {user}\nhgauth.password = {password}\n"
            ));
        }
        if auth.is_present() {
            let ssh = auth.ssh_command(r.dir())?;
            rc.push_str(&format!("[ui]\nssh = {ssh}\n"));
        }
        let path = r.dir().join("hgrc");
        vcs::write_private(&path, rc.as_bytes())?;
        r.set("HGRCPATH", path);
        Ok(r)
    }

    fn facts_key(&self, node: &str) -> String {
        format!("{}\0{node}", self.cfg.url)
    }
}

impl Source for HgSource<'_> {
    /// The tags of the repository, from the mirror the fetch keeps (pulled
    /// first).
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        ctx.memo
            .listing(&format!("hg {}", self.cfg.url), || {
                let r = self.runner(ctx)?;
                let area = Area::lock(ctx.cache.map(|c| c.dir()), "hg", &self.cfg.url, ctx.op)?;
                let mirror = &area.path;
                let m = |args: &[&str]| r.local(mirror, args).map_err(|f| self.failed(f));
                if !mirror.join(".hg").is_dir() {
                    let _ = std::fs::remove_dir_all(mirror);
                    std::fs::create_dir_all(mirror).map_err(|e| Error::io(mirror, e))?;
                    m(&["init", "-q"])?;
                }
                let hgrc = format!("[paths]\ndefault = {}\n", self.cfg.url);
                std::fs::write(mirror.join(".hg/hgrc"), &hgrc)
                    .map_err(|e| Error::io(mirror.join(".hg/hgrc"), e))?;
                r.network(mirror, &["pull", "-q"])
                    .map_err(|f| self.failed(f))?;
                let out = m(&["tags", "-q"])?;
                Ok(out
                    .lines()
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && *t != "tip")
                    .map(str::to_string)
                    .collect())
            })
            .map(Some)
    }

    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        let r = self.runner(ctx)?;
        if let Some(p) = ctx.pinned.filter(|p| p.hg.is_some()) {
            return Ok(Some(Probed {
                lock: p.clone(),
                note: None,
                verified: Vec::new(),
            }));
        }
        let out = r
            .network(
                r.dir(),
                &[
                    "identify",
                    "--debug",
                    "-i",
                    "-r",
                    &self.cfg.reference,
                    "--",
                    &self.cfg.url,
                ],
            )
            .map_err(|f| self.failed(f))?;
        // Over http `--debug` also prints the wire conversation: the node
        // is the line of 40 hex digits.
        let Some(node) = out
            .lines()
            .map(|l| l.trim().trim_end_matches('+'))
            .find(|l| l.len() == 40 && l.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
        else {
            return Ok(None);
        };
        let title =
            Facts::read::<NodeFacts>(ctx.cache.map(|c| c.dir()), "hg", &self.facts_key(&node))
                .map(|f| f.title)
                .unwrap_or_default();
        Ok(Some(Probed {
            lock: LockContent {
                hg: Some(LockHg {
                    sha: node,
                    change_set_title: title,
                }),
                ..LockContent::default()
            },
            note: None,
            verified: Vec::new(),
        }))
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        let r = self.runner(ctx)?;
        let work = dest.path();
        let want = ctx
            .pinned
            .and_then(|p| p.hg.as_ref())
            .map(|h| h.sha.clone())
            .unwrap_or_else(|| self.cfg.reference.clone());
        let area = Area::lock(ctx.cache.map(|c| c.dir()), "hg", &self.cfg.url, ctx.op)?;
        let mirror = &area.path;
        let hgrc = format!("[paths]\ndefault = {}\n", self.cfg.url);
        let m = |args: &[&str]| r.local(mirror, args).map_err(|f| self.failed(f));
        if !mirror.join(".hg").is_dir() {
            let _ = std::fs::remove_dir_all(mirror);
            std::fs::create_dir_all(mirror).map_err(|e| Error::io(mirror, e))?;
            m(&["init", "-q"])?;
        }
        std::fs::write(mirror.join(".hg/hgrc"), &hgrc)
            .map_err(|e| Error::io(mirror.join(".hg/hgrc"), e))?;
        let node_of = |rev: &str| {
            m(&["log", "-r", rev, "-T", "{node}"])
                .ok()
                .map(|n| n.trim().to_string())
                .filter(|n| n.len() == 40)
        };
        // A tag or branch may have moved: pull unless the pin is a node
        // the clone already has.
        let pinned = ctx.pinned.and_then(|p| p.hg.as_ref()).is_some();
        let node = match node_of(&want).filter(|_| pinned) {
            Some(n) => n,
            None => {
                r.network(mirror, &["pull", "-q"])
                    .map_err(|f| self.failed(f))?;
                node_of(&want).ok_or_else(|| {
                    self.error(format!(
                        "no changeset, tag or branch {want:?} in the repository"
                    ))
                })?
            }
        };
        let mirror_text = mirror.display().to_string();
        let h = |args: &[&str]| r.local(work, args).map_err(|f| self.failed(f));
        h(&["clone", "-q", "-U", "--", &mirror_text, "."])?;
        drop(area);
        // 0600, as vendir writes it: an hgrc is where hg keeps `[auth]` credentials.
        let rc_path = work.join(".hg/hgrc");
        std::fs::write(&rc_path, &hgrc).map_err(|e| Error::io(&rc_path, e))?;
        std::fs::set_permissions(&rc_path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(&rc_path, e))?;
        h(&["update", "-q", "-r", &node])?;
        // vendir: `{node}` of `.`, and `{desc|firstline|strip}`.
        let out = h(&["log", "-r", ".", "-T", "{node}\n{desc|firstline|strip}"])?;
        let (sha, title) = out.split_once('\n').unwrap_or((out.as_str(), ""));
        let (sha, title) = (sha.trim().to_string(), title.trim().to_string());
        Facts::write(
            ctx.cache.map(|c| c.dir()),
            "hg",
            &self.facts_key(&sha),
            &NodeFacts {
                title: title.clone(),
            },
        );
        vcs::prune_empty_dirs(work, &[".hg/store"])?;
        Ok(Fetched {
            lock: LockContent {
                hg: Some(LockHg {
                    sha: sha.clone(),
                    change_set_title: title,
                }),
                ..LockContent::default()
            },
            bytes: 0,
            files: None,
            warnings: Vec::new(),
            summary: format!("{}@{sha}", vcs::redact_url(&self.cfg.url)),
            verified: Vec::new(),
        })
    }
}
