//! `git:` — a commit checked out with the installed `git`, `.git` kept, as
//! vendir v0.44.0 does it (docs/dev/vendir-reference.md, "git").
//!
//! - probe: `git ls-remote` resolves the ref (or `refSelection`) to a sha
//!   without fetching objects; the title and `git describe` of a commit
//!   seen before come from the cache's facts, so an unchanged ref yields
//!   its exact lock entry and the directory is kept untouched.
//! - fetch: objects come from a bare mirror per URL in the cache
//!   (`<cache>/git/<sha256(url)>`), fetched from the remote only when it
//!   lacks the pinned commit; the checkout is a `git clone --local` of it
//!   (object files hard-linked where possible) with `origin` pointing at
//!   the real URL, so submodules with relative URLs and a later `git fetch`
//!   in the vendored tree work as in vendir's checkout. `depth` fetches
//!   shallowly from the remote, as vendir does (a mirror is full history).
//! - partial: when the content's filters can keep nothing below `.git`
//!   (`includePaths: [config/**/*]`, the common shape), the vendored tree
//!   cannot show how it was fetched, so the mirror (or the shallow fetch) is
//!   a partial clone (`--filter=blob:none`: commits and trees), and the
//!   checkout is sparse, naming exactly the paths the filters keep; git
//!   fetches just those blobs, in one request, as it checks them out. A
//!   server without filter support sends everything (git warns and goes
//!   on). A later content that needs the whole tree makes the mirror full
//!   again.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use self::gpg::Signed;

use super::vcs::{self, Area, Facts, Failure, Runner};
use super::{FetchContext, Fetched, Probed, Source};
use crate::config::{Git as GitConfig, GitRef};
use crate::error::{Error, Result};
use crate::extract::Root;
use crate::filter::ContentPaths;
use crate::lock::{LockContent, LockGit};

mod gpg;

/// The `git` source.
pub struct GitSource<'a> {
    pub cfg: &'a GitConfig,
}

/// One ref from `git ls-remote`.
struct RemoteRef {
    sha: String,
    name: String,
}

/// What a configured ref resolved to.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// A commit, and the branch vendir's `git checkout` creates for it
    /// (a branch ref gives `HEAD: ref: refs/heads/<name>`).
    Commit { sha: String, branch: Option<String> },
    /// An abbreviated sha: only the objects can tell.
    Abbreviated(String),
}

/// Title and describe of a commit (see [`Facts`]).
#[derive(Serialize, Deserialize)]
struct CommitFacts {
    tags: Vec<String>,
    commit_title: String,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl GitSource<'_> {
    fn url(&self) -> String {
        vcs::redact_url(&self.cfg.url)
    }

    fn ref_text(&self) -> String {
        match &self.cfg.reference {
            GitRef::Named(r) => r.clone(),
            GitRef::Semver { constraints, .. } => format!("refSelection {constraints}"),
        }
    }

    fn remote(&self) -> vcs::Remote<'_> {
        vcs::Remote {
            tool: "git",
            url: &self.cfg.url,
            reference: self.ref_text(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        self.remote().error(reason)
    }

    fn failed(&self, f: Failure) -> Error {
        self.remote().failed(f)
    }

    /// The runner with vendir's environment for this content: ssh command,
    /// credential store or header, TLS and LFS switches, stall limits.
    fn runner(&self, ctx: &FetchContext<'_>) -> Result<Runner> {
        self.runner_with(ctx, self.cfg.secret_ref.as_ref())
    }

    /// [`Self::runner`] with the credentials of `secret` (none for a mirror:
    /// the content's secret belongs to its own remote).
    fn runner_with(
        &self,
        ctx: &FetchContext<'_>,
        secret: Option<&crate::config::SecretRef>,
    ) -> Result<Runner> {
        let (auth, mut r) = self.remote().runner(ctx, secret)?;
        let mut config: Vec<(String, String)> = vec![
            // Start from no helper at all: only ours may answer.
            ("credential.helper".into(), String::new()),
            ("advice.detachedHead".into(), "false".into()),
            ("http.lowSpeedLimit".into(), "1".into()),
            ("http.lowSpeedTime".into(), r.stall_secs().to_string()),
        ];
        if auth.is_present() {
            let ssh = auth.ssh_command(r.dir())?;
            r.set("GIT_SSH_COMMAND", ssh);
        }
        if let Some((user, password)) = auth.basic() {
            if self.cfg.force_http_basic_auth {
                use base64::Engine as _;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                r.scrub(vec![token.clone()]);
                // Scoped to the URL (not every host git may be sent to),
                // and in the environment, not in the kept .git/config.
                config.push((
                    format!("http.{}.extraHeader", self.cfg.url),
                    format!("Authorization: Basic {token}"),
                ));
            } else {
                let store = r.dir().join("git-credentials");
                let rest = &self.cfg.url["https://".len()..];
                let host = &rest[..rest.find('/').unwrap_or(rest.len())];
                let host = host.rsplit('@').next().unwrap_or(host);
                let line = format!(
                    "https://{}:{}@{host}\n",
                    vcs::percent_encode(user),
                    vcs::percent_encode(password)
                );
                vcs::write_private(&store, line.as_bytes())?;
                config.push((
                    "credential.helper".into(),
                    format!("store --file={}", store.display()),
                ));
            }
        }
        if self.cfg.lfs_skip_smudge {
            r.set("GIT_LFS_SKIP_SMUDGE", "1");
        }
        if self.cfg.dangerous_skip_tls_verify {
            r.set("GIT_SSL_NO_VERIFY", "true");
        }
        r.set("GIT_CONFIG_COUNT", config.len().to_string());
        for (i, (k, v)) in config.into_iter().enumerate() {
            r.set(&format!("GIT_CONFIG_KEY_{i}"), k);
            r.set(&format!("GIT_CONFIG_VALUE_{i}"), v);
        }
        Ok(r)
    }

    /// Runs a network command that names this content's remote: at each
    /// mirror in order (`[[url]]` rules, applied as git's own
    /// `url.<mirror>.insteadOf=<prefix>` so the remote keeps its URL), then
    /// at the remote itself unless the rule is `mirror-only`. A mirror gets
    /// no credentials of the content's secret; what it serves is checked as
    /// from the remote (the commit named by the ref or the lock must be
    /// there, and verification runs on it).
    fn network(
        &self,
        ctx: &FetchContext<'_>,
        r: &Runner,
        dir: &Path,
        args: &[&str],
    ) -> Result<String> {
        let rewrites: Vec<Option<(String, String)>> = match ctx.mirrors {
            Some(m) => m
                .url_candidates(&self.cfg.url)
                .into_iter()
                .map(|c| c.rewrite)
                .collect(),
            None => vec![None],
        };
        let mut last = None;
        for rewrite in rewrites {
            let out = match &rewrite {
                None => r.network(dir, args),
                Some((prefix, to)) => {
                    let bare = self.runner_with(ctx, None)?;
                    let route = format!("url.{to}.insteadOf={prefix}");
                    let mut routed = vec!["-c", route.as_str()];
                    routed.extend_from_slice(args);
                    bare.network(dir, &routed)
                }
            };
            match out {
                Ok(s) => return Ok(s),
                Err(f) if ctx.op.is_cancelled() => return Err(self.failed(f)),
                Err(f) => last = Some(self.failed(f)),
            }
        }
        Err(last.unwrap_or_else(|| self.error("no remote to try")))
    }

    fn ls_remote(&self, ctx: &FetchContext<'_>, r: &Runner) -> Result<Vec<RemoteRef>> {
        let out = self.network(ctx, r, r.dir(), &ls_remote_args(&self.cfg.url))?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let (sha, name) = l.split_once('\t')?;
                Some(RemoteRef {
                    sha: sha.trim().to_string(),
                    name: name.trim().to_string(),
                })
            })
            .collect())
    }

    /// Resolves the ref as vendir's `git fetch` + `git checkout REF` would.
    fn resolve(&self, refs: &[RemoteRef]) -> Result<Resolved> {
        let find = |name: &str| refs.iter().find(|r| r.name == name).map(|r| &r.sha);
        // A tag's commit: the peeled `^{}` line of an annotated tag.
        let tag = |t: &str| {
            find(&format!("refs/tags/{t}^{{}}"))
                .or_else(|| find(&format!("refs/tags/{t}")))
                .cloned()
        };
        let commit = |sha: String, branch: Option<String>| Ok(Resolved::Commit { sha, branch });
        let name = match &self.cfg.reference {
            GitRef::Semver {
                constraints,
                prerelease_identifiers,
            } => {
                let tags: Vec<String> = refs
                    .iter()
                    .filter_map(|r| r.name.strip_prefix("refs/tags/"))
                    .filter(|t| !t.ends_with("^{}"))
                    .map(str::to_string)
                    .collect();
                let chosen = crate::resolve::select_tag(
                    &tags,
                    constraints,
                    prerelease_identifiers.as_deref(),
                )
                .map_err(|e| match e {
                    Error::Setting { reason, .. } => self.error(format!(
                        "refSelection.semver.constraints {constraints:?}: {reason}"
                    )),
                    other => other,
                })?;
                let sha = tag(&chosen).expect("selected from the listed tags");
                return commit(sha, None);
            }
            GitRef::Named(n) => n.as_str(),
        };
        if let Some(b) = name.strip_prefix("origin/") {
            // vendir fetches only `b`, then checks out `b`: a tag of that
            // name wins (detached), else git creates the branch.
            if let Some(sha) = tag(b) {
                return commit(sha, None);
            }
            if let Some(sha) = find(&format!("refs/heads/{b}")) {
                return commit(sha.clone(), Some(b.to_string()));
            }
        } else {
            if name.len() == 40 && is_hex(name) {
                return commit(name.to_ascii_lowercase(), None);
            }
            if let Some(t) = name.strip_prefix("refs/tags/") {
                if let Some(sha) = tag(t) {
                    return commit(sha, None);
                }
            }
            if let Some(b) = name.strip_prefix("refs/remotes/origin/") {
                if let Some(sha) = find(&format!("refs/heads/{b}")) {
                    return commit(sha.clone(), None);
                }
            }
            if let Some(sha) = tag(name) {
                return commit(sha, None);
            }
            if let Some(sha) = find(&format!("refs/heads/{name}")) {
                return commit(sha.clone(), Some(name.to_string()));
            }
            if name.len() >= 4 && is_hex(name) {
                return Ok(Resolved::Abbreviated(name.to_ascii_lowercase()));
            }
        }
        let mut branches: Vec<&str> = refs
            .iter()
            .filter_map(|r| r.name.strip_prefix("refs/heads/"))
            .collect();
        branches.truncate(10);
        let mut tags: Vec<&str> = refs
            .iter()
            .filter_map(|r| r.name.strip_prefix("refs/tags/"))
            .filter(|t| !t.ends_with("^{}"))
            .collect();
        tags.truncate(10);
        Err(self.error(format!(
            "no branch, tag or commit {name:?} in the repository (branches: {}; tags: {})",
            list(&branches),
            list(&tags)
        )))
    }

    /// The key of a commit's facts: everything `git describe` depends on
    /// (the tags, as `<object> refs/tags/<name>` lines, peeled lines left
    /// out so the remote's listing and a local one agree).
    fn facts_key<'r>(&self, sha: &str, tags: impl Iterator<Item = (&'r str, &'r str)>) -> String {
        let mut tags: Vec<String> = tags
            .filter(|(_, n)| n.starts_with("refs/tags/") && !n.ends_with("^{}"))
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        tags.sort();
        let tags =
            crate::digest::Digest::of(crate::digest::Algorithm::Sha256, tags.join("\n").as_bytes());
        format!(
            "{}\0{sha}\0{}\0{}",
            self.cfg.url,
            self.cfg.depth,
            tags.hex()
        )
    }
}

/// The ref listing of `url`: branches and tags, all that resolution reads.
/// Asked for by prefix (protocol v2's `ref-prefix`), so the refs a forge
/// keeps beside them (`refs/pull/*`, `refs/changes/*`: often most of its
/// refs) stay out of the answer. Over `git://`, protocol v0, whose first
/// answer is the listing: git sets no `TCP_NODELAY` there, and v2's second
/// exchange waits out the server's 40 ms delayed ACK on every call.
fn ls_remote_args(url: &str) -> Vec<&str> {
    let mut args = Vec::with_capacity(7);
    if url.starts_with("git://") {
        args.extend(["-c", "protocol.version=0"]);
    }
    // `--heads`, not 2.46's `--branches`: older git knows only the former.
    args.extend(["ls-remote", "--heads", "--tags", "--", url]);
    args
}

fn remote_tags(refs: &[RemoteRef]) -> impl Iterator<Item = (&str, &str)> {
    refs.iter().map(|r| (r.sha.as_str(), r.name.as_str()))
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

impl Source for GitSource<'_> {
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        ctx.memo
            .listing(&format!("git {}", self.cfg.url), || {
                let r = self.runner(ctx)?;
                let refs = self.ls_remote(ctx, &r)?;
                Ok(refs
                    .iter()
                    .filter_map(|r| r.name.strip_prefix("refs/tags/"))
                    .filter(|t| !t.ends_with("^{}"))
                    .map(str::to_string)
                    .collect())
            })
            .map(Some)
    }

    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        if let Some(p) = ctx.pinned.filter(|p| p.git.is_some()) {
            // --locked: vendir checks out the lock's sha; nothing to resolve.
            let r = self.runner(ctx)?;
            if let Some(g) = &p.git {
                self.verify_in_mirror(ctx, &r, &g.sha)?;
            }
            return Ok(Some(Probed {
                lock: p.clone(),
                note: None,
                verified: Vec::new(),
            }));
        }
        let r = self.runner(ctx)?;
        let refs = self.ls_remote(ctx, &r)?;
        let Resolved::Commit { sha, .. } = self.resolve(&refs)? else {
            return Ok(None);
        };
        self.verify_in_mirror(ctx, &r, &sha)?;
        let cache = ctx.cache.map(|c| c.dir());
        let facts: Option<CommitFacts> =
            Facts::read(cache, "git", &self.facts_key(&sha, remote_tags(&refs)));
        let (tags, commit_title) = facts.map(|f| (f.tags, f.commit_title)).unwrap_or_default();
        Ok(Some(Probed {
            lock: LockContent {
                git: Some(LockGit {
                    sha,
                    tags,
                    commit_title,
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
        let pinned = ctx
            .pinned
            .and_then(|p| p.git.as_ref())
            .map(|g| g.sha.clone());
        // Without a pin (an abbreviated sha), resolve now.
        let want = match pinned {
            Some(sha) => Resolved::Commit { sha, branch: None },
            None => self.resolve(&self.ls_remote(ctx, &r)?)?,
        };
        let want_text = match &want {
            Resolved::Commit { sha, .. } | Resolved::Abbreviated(sha) => sha.clone(),
        };
        let git = |args: &[&str]| r.local(work, args).map_err(|f| self.failed(f));
        let net = |args: &[&str]| self.network(ctx, &r, work, args);
        let mut fetched_bytes = 0u64;
        let partial = ctx.keeps.filter(|k| k.never_keeps_below(".git"));
        if self.cfg.depth == 0 {
            let area = Area::lock(ctx.cache.map(|c| c.dir()), "git", &self.cfg.url, ctx.op)?;
            let mirror = &area.path;
            fetched_bytes += self.update_mirror(ctx, &r, mirror, &want_text, partial.is_some())?;
            let mut args = vec!["clone", "-q", "--local", "--no-checkout"];
            let settings: Vec<String> = match is_partial(mirror) {
                // Missing blobs come from the remote as the checkout needs them.
                true => PROMISOR.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                false => Vec::new(),
            };
            for s in std::iter::once("remote.origin.tagOpt=--tags")
                .chain(settings.iter().map(String::as_str))
            {
                args.extend(["-c", s]);
            }
            let mirror = mirror.display().to_string();
            args.extend(["--", &mirror, "."]);
            git(&args)?;
            // `git remote set-url`'s edit, made in the file when the one line
            // it would change is there as clone wrote it: a process fewer.
            if !replace_once(
                &work.join(".git/config"),
                &format!("\turl = {}\n", config_value(&mirror)),
                &format!("\turl = {}\n", config_value(&self.cfg.url)),
            )? {
                git(&["remote", "set-url", "origin", &self.cfg.url])?;
            }
        } else {
            // vendir's steps, shallow: init, remote, fetch --depth N. The
            // remote's lines are the ones `git remote add` and `git config
            // remote.origin.tagOpt --tags` write: two processes fewer.
            git(&["init", "-q"])?;
            append_config(
                &work.join(".git/config"),
                &format!(
                    "[remote \"origin\"]\n\turl = {}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n\ttagOpt = --tags\n",
                    config_value(&self.cfg.url)
                ),
            )?;
            let depth = self.cfg.depth.to_string();
            let mut args = vec!["fetch", "-q", "--progress", "origin"];
            if let GitRef::Named(n) = &self.cfg.reference {
                if let Some(b) = n.strip_prefix("origin/") {
                    args.push(b);
                }
            }
            args.extend(["--depth", &depth]);
            if partial.is_some() {
                args.push("--filter=blob:none");
            }
            net(&args)?;
            if !has_commit(&r, work, &want_text) {
                // The ref moved since it was resolved (or --locked names an
                // older commit): fetch that commit itself.
                let mut args = vec![
                    "fetch",
                    "-q",
                    "--progress",
                    "origin",
                    &want_text,
                    "--depth",
                    &depth,
                ];
                if partial.is_some() {
                    args.push("--filter=blob:none");
                }
                net(&args).map_err(|_| self.missing(&want_text))?;
            }
        }
        let sha = match want {
            Resolved::Commit { sha, .. } => sha,
            Resolved::Abbreviated(a) => {
                git(&["rev-parse", "--verify", "-q", &format!("{a}^{{commit}}")])
                    .map(|s| s.trim().to_string())
                    .map_err(|_| self.missing(&a))?
            }
        };
        // The commit is here: a clone of the mirror holds what the mirror
        // was checked to hold, and the shallow fetch either had it, fetched
        // it by sha, or failed; an abbreviated sha resolved above.
        // Before checkout, as vendir: nothing unverified is staged.
        self.verify(ctx, &r, work, &sha)?;
        // vendir's `git checkout REF`: a branch ref makes the local branch
        // (HEAD symbolic), anything else detaches. The branch is made only
        // when origin's branch is still at the pinned commit (not under
        // --locked after it moved).
        // Every ref of the clone, read once: (sha, name).
        let listing = git(&["for-each-ref", "--format=%(objectname) %(refname)"])?;
        let refs: Vec<(&str, &str)> = listing.lines().filter_map(|l| l.split_once(' ')).collect();
        let named = |name: &str| refs.iter().find(|(_, n)| *n == name).map(|(s, _)| *s);
        let branch = match &self.cfg.reference {
            GitRef::Named(n) => {
                let b = n.strip_prefix("origin/").unwrap_or(n);
                let is_tag = named(&format!("refs/tags/{b}")).is_some();
                let at = named(&format!("refs/remotes/origin/{b}"));
                (!is_tag && at == Some(sha.as_str())).then(|| b.to_string())
            }
            GitRef::Semver { .. } => None,
        };
        if let Some(keeps) = partial {
            self.sparse_checkout(&r, work, &sha, keeps)?;
        }
        // In a partial clone the checkout fetches the blobs it writes.
        let checkout = |args: &[&str]| match partial {
            Some(_) => net(args),
            None => git(args),
        };
        match &branch {
            // origin/<b> is at `sha` (checked above); --track sets the upstream.
            Some(b) => checkout(&["checkout", "-q", "--track", "-B", b, &format!("origin/{b}")])?,
            None => checkout(&["checkout", "-q", "--detach", &sha])?,
        };
        // The clone's own branch (the mirror's HEAD), unless it is ours.
        let others: Vec<&str> = refs
            .iter()
            .filter_map(|(_, n)| n.strip_prefix("refs/heads/"))
            .filter(|l| Some(*l) != branch.as_deref())
            .collect();
        if !others.is_empty() {
            let mut args = vec!["branch", "-q", "-D"];
            args.extend(&others);
            git(&args)?;
        }
        // Without a .gitmodules there is nothing to initialise.
        if !self.cfg.skip_init_submodules && work.join(".gitmodules").exists() {
            net(&[
                "submodule",
                "update",
                "-q",
                "--init",
                "--recursive",
                "--progress",
            ])?;
        }
        let logged = git(&["log", "-n", "1", "--pretty=%H%n%B", "HEAD"])?;
        let (head, message) = logged.split_once('\n').unwrap_or((&logged, ""));
        if head.trim() != sha {
            return Err(self.error(format!("checked out {}, expected {sha}", head.trim())));
        }
        // vendir: `describe --tags` as a one-element list, omitted when it
        // fails; the title is the message's first line, `...` if more.
        let tags = git(&["describe", "--tags", &sha])
            .map(|s| vec![s.trim().to_string()])
            .unwrap_or_default();
        let message = message.trim();
        let commit_title = match message.split_once('\n') {
            Some((first, _)) => format!("{first}..."),
            None => message.to_string(),
        };
        let local_tags = refs
            .iter()
            .filter(|(_, n)| n.starts_with("refs/tags/"))
            .copied();
        Facts::write(
            ctx.cache.map(|c| c.dir()),
            "git",
            &self.facts_key(&sha, local_tags),
            &CommitFacts {
                tags: tags.clone(),
                commit_title: commit_title.clone(),
            },
        );
        vcs::prune_empty_dirs(work, &[".git/refs", ".git/objects"])?;
        fetched_bytes += dir_size(&work.join(".git/objects"));
        Ok(Fetched {
            lock: LockContent {
                git: Some(LockGit {
                    sha: sha.clone(),
                    tags,
                    commit_title,
                }),
                ..LockContent::default()
            },
            bytes: fetched_bytes,
            files: None,
            warnings: Vec::new(),
            summary: format!("{}@{}", self.url(), sha),
            verified: Vec::new(),
        })
    }
}

impl GitSource<'_> {
    /// With `verification.publicKeysSecretRef`, checks the signature of what
    /// the ref names at commit `sha` in the repository at `repo` (a work
    /// tree or the bare mirror).
    fn verify(&self, ctx: &FetchContext<'_>, r: &Runner, repo: &Path, sha: &str) -> Result<()> {
        let Some(keys) = &self.cfg.public_keys else {
            return Ok(());
        };
        // vendir joins every value of the Secret, each followed by a newline.
        let keys: String = ctx
            .loaded
            .secrets
            .get(&keys.name)
            .map(|s| {
                s.data
                    .values()
                    .map(|v| format!("{}\n", String::from_utf8_lossy(v)))
                    .collect()
            })
            .unwrap_or_default();
        let signed = self.signed_object(r, repo, sha)?;
        let g = Runner::new("gpg", ctx.op, ctx.stall_timeout)?;
        gpg::verify(r, &g, repo, &signed, &keys)?.map_err(|why| self.error(why))
    }

    /// Verification at probe time, in the cache's mirror: an unchanged
    /// directory is kept only after its commit or tag verified against the
    /// keys as they are now (they may have changed since the last sync).
    fn verify_in_mirror(&self, ctx: &FetchContext<'_>, r: &Runner, sha: &str) -> Result<()> {
        if self.cfg.public_keys.is_none() {
            return Ok(());
        }
        let area = Area::lock(ctx.cache.map(|c| c.dir()), "git", &self.cfg.url, ctx.op)?;
        // Commits and tags are all it reads: a partial mirror stays partial.
        let partial = is_partial(&area.path);
        self.update_mirror(ctx, r, &area.path, sha, partial)?;
        self.verify(ctx, r, &area.path, sha)
    }

    /// What vendir's verification reads for this ref at commit `sha`: the
    /// annotated tag the ref names (or `refSelection` chose) when it still
    /// points at `sha`, else the commit.
    fn signed_object(&self, r: &Runner, work: &Path, sha: &str) -> Result<Signed> {
        let git = |args: &[&str]| r.local(work, args).map_err(|f| self.failed(f));
        let tag = match &self.cfg.reference {
            GitRef::Named(n) => {
                let n = n.strip_prefix("origin/").unwrap_or(n);
                Some(n.strip_prefix("refs/tags/").unwrap_or(n).to_string())
            }
            GitRef::Semver {
                constraints,
                prerelease_identifiers,
            } => {
                let at = git(&["tag", "--points-at", sha])?;
                let tags: Vec<String> = at.lines().map(|t| t.trim().to_string()).collect();
                crate::resolve::select_tag(&tags, constraints, prerelease_identifiers.as_deref())
                    .ok()
            }
        };
        if let Some(t) = tag {
            let full = format!("refs/tags/{t}");
            let annotated = r
                .local(work, &["cat-file", "-t", &full])
                .is_ok_and(|k| k.trim() == "tag");
            let peeled = r.local(
                work,
                &["rev-parse", "--verify", "-q", &format!("{full}^{{commit}}")],
            );
            if annotated && peeled.is_ok_and(|p| p.trim() == sha) {
                return Ok(Signed::Tag(t));
            }
        }
        Ok(Signed::Commit(sha.to_string()))
    }

    fn missing(&self, sha: &str) -> Error {
        self.error(format!(
            "commit {sha} is not in the repository (was the branch force-pushed, or the sha \
             mistyped?)"
        ))
    }

    /// Limits the checkout of `sha` in `work` to the paths `keeps` keeps
    /// (literal sparse-checkout patterns, from the commit's trees). Leaves
    /// the checkout whole when a kept path cannot be written as a pattern,
    /// when submodules are to be initialised (their `.gitmodules` is read
    /// from the work tree), or when nothing would be kept (the filter's own
    /// error then says so).
    fn sparse_checkout(
        &self,
        r: &Runner,
        work: &Path,
        sha: &str,
        keeps: &ContentPaths,
    ) -> Result<()> {
        let listing = r
            .local(
                work,
                &["ls-tree", "-r", "-z", "--name-only", "--full-tree", sha],
            )
            .map_err(|f| self.failed(f))?;
        let all: Vec<&str> = listing.split('\0').filter(|p| !p.is_empty()).collect();
        if !self.cfg.skip_init_submodules && all.contains(&".gitmodules") {
            return Ok(());
        }
        let Some(patterns) = sparse_patterns(&all, |p| keeps.map(p).is_some()) else {
            return Ok(());
        };
        if patterns.is_empty() {
            return Ok(());
        }
        let info = work.join(".git/info");
        std::fs::create_dir_all(&info).map_err(|e| Error::io(&info, e))?;
        let file = info.join("sparse-checkout");
        std::fs::write(&file, patterns).map_err(|e| Error::io(&file, e))?;
        r.local(work, &["config", "core.sparseCheckout", "true"])
            .map_err(|f| self.failed(f))?;
        Ok(())
    }

    /// Makes sure the bare mirror at `path` has `want` (a sha, or an
    /// abbreviated one), fetching from the remote only when it does not.
    /// `partial`: a new mirror holds commits and trees only (blobs are
    /// fetched by the checkouts that need them); otherwise a partial mirror
    /// is made full again. Returns a rough count of bytes added.
    fn update_mirror(
        &self,
        ctx: &FetchContext<'_>,
        r: &Runner,
        path: &Path,
        want: &str,
        partial: bool,
    ) -> Result<u64> {
        let m = |args: &[&str]| r.local(path, args).map_err(|f| self.failed(f));
        if !partial && path.join("HEAD").exists() && is_partial(path) {
            // A whole checkout would fetch every blob lazily, one commit at a
            // time; fetch them once, as a full mirror.
            std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
        }
        let fresh = !path.join("HEAD").exists();
        if fresh {
            let _ = std::fs::remove_dir_all(path);
            std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
            m(&["init", "-q", "--bare"])?;
            // Written at once rather than by one `git config` each: the file
            // is new and ours (the URL is the cache key).
            let mut config = format!(
                "[remote \"origin\"]\n\turl = {}\n\tfetch = +refs/heads/*:refs/heads/*\n\tfetch = +refs/tags/*:refs/tags/*\n",
                config_value(&self.cfg.url)
            );
            if partial {
                config.push_str(PROMISOR_SECTIONS);
            }
            append_config(&path.join("config"), &config)?;
        }
        // A partial mirror fetches a commit it lacks as soon as it is asked
        // about it (without its refs), so there only a ref's tip counts.
        let present = !fresh
            && match is_partial(path) {
                true => at_a_tip(r, path, want),
                false => has_commit(r, path, want),
            };
        if present {
            return Ok(0);
        }
        let before = dir_size(&path.join("objects"));
        self.network(
            ctx,
            r,
            path,
            &[
                "fetch",
                "-q",
                "--progress",
                "--prune",
                "--no-tags",
                "origin",
            ],
        )?;
        let mut present = has_commit(r, path, want);
        if !present && want.len() == 40 {
            // Not reachable from any ref (a --locked sha of a force-pushed
            // branch): ask for it directly; servers may allow it.
            let _ = self.network(ctx, r, path, &["fetch", "-q", "--progress", "origin", want]);
            present = has_commit(r, path, want);
        }
        if !present {
            return Err(self.missing(want));
        }
        Ok(dir_size(&path.join("objects")).saturating_sub(before))
    }
}

/// The configuration of a partial clone whose missing blobs `origin` serves.
const PROMISOR: [(&str, &str); 3] = [
    ("remote.origin.promisor", "true"),
    ("remote.origin.partialclonefilter", "blob:none"),
    ("extensions.partialClone", "origin"),
];

/// [`PROMISOR`] as the mirror's config file has it.
const PROMISOR_SECTIONS: &str =
    "\tpromisor = true\n\tpartialclonefilter = blob:none\n[extensions]\n\tpartialClone = origin\n";

/// Whether the bare mirror at `dir` is a partial clone: its config (written
/// by [`GitSource::update_mirror`]) names a promisor remote.
fn is_partial(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config"))
        .is_ok_and(|c| c.lines().any(|l| l.trim() == "promisor = true"))
}

/// `value` as git writes it into a config file: quoted only where git
/// quotes (a leading or trailing space, `;` or `#`), with `\`, `"`, tab and
/// newline escaped.
fn config_value(value: &str) -> String {
    let quote = value.starts_with(' ') || value.ends_with(' ') || value.contains([';', '#']);
    let mut out = String::with_capacity(value.len() + 2);
    if quote {
        out.push('"');
    }
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    if quote {
        out.push('"');
    }
    out
}

/// Replaces the one occurrence of `from` in `file` by `to`; false (and the
/// file untouched) when `from` is not there exactly once.
fn replace_once(file: &Path, from: &str, to: &str) -> Result<bool> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let mut at = text.match_indices(from).map(|(i, _)| i);
    let (Some(i), None) = (at.next(), at.next()) else {
        return Ok(false);
    };
    let replaced = format!("{}{to}{}", &text[..i], &text[i + from.len()..]);
    std::fs::write(file, replaced).map_err(|e| Error::io(file, e))?;
    Ok(true)
}

/// Appends `lines` to the config file `file` that `git init` just wrote
/// (and nothing else writes to while vendoras holds the directory).
fn append_config(file: &Path, lines: &str) -> Result<()> {
    let mut written = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    written.push_str(lines);
    std::fs::write(file, written).map_err(|e| Error::io(file, e))
}

/// The sparse-checkout patterns that select, of `all` (a commit's paths,
/// from `ls-tree -r`), exactly those `kept` keeps: a folder whose paths are
/// all kept is one pattern (`/d7/`), not one per file, since git matches
/// every path of the commit against every pattern (200 file patterns over
/// 20,000 paths: 65 ms of the checkout). `None` when a kept name cannot be
/// written as a pattern.
fn sparse_patterns(all: &[&str], kept: impl Fn(&str) -> bool) -> Option<String> {
    let keep: Vec<bool> = all.iter().map(|p| kept(p)).collect();
    // Each folder: whether every path below it is kept.
    let mut whole: HashMap<&str, bool> = HashMap::new();
    for (path, &k) in all.iter().zip(&keep) {
        for (i, _) in path.match_indices('/') {
            *whole.entry(&path[..i]).or_insert(true) &= k;
        }
    }
    let mut written: HashSet<&str> = HashSet::new();
    let mut out = String::new();
    for (path, _) in all.iter().zip(&keep).filter(|(_, &k)| k) {
        let folder = path
            .match_indices('/')
            .map(|(i, _)| &path[..i])
            .find(|f| whole[f]);
        match folder {
            Some(f) if !written.insert(f) => {}
            Some(f) => out.push_str(&sparse_pattern(f, true)?),
            None => out.push_str(&sparse_pattern(path, false)?),
        }
    }
    Some(out)
}

/// `path` as a literal non-cone sparse-checkout pattern (gitignore syntax,
/// anchored; a folder's with a trailing `/`), or `None` when a name cannot
/// be written as one.
fn sparse_pattern(path: &str, folder: bool) -> Option<String> {
    if path.contains(['\n', '\r']) || path.ends_with(' ') {
        return None;
    }
    let mut out = String::with_capacity(path.len() + 3);
    out.push('/');
    for c in path.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    if folder {
        out.push('/');
    }
    out.push('\n');
    Some(out)
}

/// Whether a ref of the repository at `dir` points at `want` (a sha or a
/// prefix of one), directly or through an annotated tag.
fn at_a_tip(r: &Runner, dir: &Path, want: &str) -> bool {
    r.local(
        dir,
        &["for-each-ref", "--format=%(objectname) %(*objectname)"],
    )
    .is_ok_and(|refs| refs.split_whitespace().any(|sha| sha.starts_with(want)))
}

fn has_commit(r: &Runner, dir: &Path, rev: &str) -> bool {
    r.local(
        dir,
        &["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")],
    )
    .is_ok()
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(list: &[(&str, &str)]) -> Vec<RemoteRef> {
        list.iter()
            .map(|(s, n)| RemoteRef {
                sha: s.to_string(),
                name: n.to_string(),
            })
            .collect()
    }

    fn resolve(r: GitRef, refs: &[RemoteRef]) -> Result<Resolved> {
        let cfg = GitConfig {
            url: "https://u:secret@h/x.git".into(),
            reference: r,
            depth: 0,
            skip_init_submodules: false,
            lfs_skip_smudge: false,
            dangerous_skip_tls_verify: false,
            force_http_basic_auth: false,
            secret_ref: None,
            public_keys: None,
        };
        GitSource { cfg: &cfg }.resolve(refs)
    }

    #[test]
    fn sparse_patterns_name_whole_folders_once_and_other_kept_files_each() {
        let all = [
            "README.md",
            "d7/a.txt",
            "d7/sub/b.txt",
            "d8/c.txt",
            "d8/d.txt",
            "w*ld/e.txt",
        ];
        let keep = |p: &str| p.starts_with("d7/") || p == "d8/c.txt" || p.starts_with("w*");
        assert_eq!(
            sparse_patterns(&all, keep).unwrap(),
            "/d7/\n/d8/c.txt\n/w\\*ld/\n"
        );
        assert_eq!(
            sparse_patterns(&all, |p| p == "README.md").unwrap(),
            "/README.md\n"
        );
        assert_eq!(sparse_patterns(&all, |_| false).unwrap(), "");
        // A folder is whole only when nothing below it is left out.
        assert_eq!(
            sparse_patterns(&all, |p| p == "d7/sub/b.txt").unwrap(),
            "/d7/sub/\n"
        );
        assert_eq!(sparse_patterns(&["a\nb/c"], |_| true), None);
    }

    #[test]
    fn replace_once_changes_a_single_occurrence_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        for (text, changed, after) in [
            ("a\n\turl = /m\nb\n", true, "a\n\turl = https://h/r\nb\n"),
            ("a\nb\n", false, "a\nb\n"),
            (
                "\turl = /m\n\turl = /m\n",
                false,
                "\turl = /m\n\turl = /m\n",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let got = replace_once(&file, "\turl = /m\n", "\turl = https://h/r\n").unwrap();
            assert_eq!(got, changed, "{text:?}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), after);
        }
    }

    #[test]
    fn config_values_are_written_as_git_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        for value in [
            "https://example.com/a.git",
            "git://h/a b.git",
            " lead",
            "trail ",
            "https://h/a;b#c",
            "back\\slash \"quoted\"",
            "tab\tnew\nline",
        ] {
            let _ = std::fs::remove_file(&file);
            let status = std::process::Command::new("git")
                .args(["config", "--file"])
                .arg(&file)
                .args(["remote.origin.url", value])
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .unwrap();
            assert!(status.success());
            let git = std::fs::read_to_string(&file).unwrap();
            assert_eq!(
                git,
                format!("[remote \"origin\"]\n\turl = {}\n", config_value(value)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn ls_remote_lists_branches_and_tags_in_one_exchange_over_git_protocol() {
        let tail = ["ls-remote", "--heads", "--tags", "--"];
        let https = ls_remote_args("https://example.com/a.git");
        assert_eq!(https[..4], tail);
        let daemon = ls_remote_args("git://example.com/a.git");
        assert_eq!(daemon[..2], ["-c", "protocol.version=0"]);
        assert_eq!(daemon[2..6], tail);
    }

    #[test]
    fn refs_resolve_as_checkout_would() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        let t = "d".repeat(40);
        let list = refs(&[
            (&a, "HEAD"),
            (&a, "refs/heads/main"),
            (&b, "refs/heads/v1"),
            (&c, "refs/tags/v1"),
            (&t, "refs/tags/v2.0.0"),
            (&b, "refs/tags/v2.0.0^{}"),
            (&c, "refs/tags/v2.1.0-beta.1"),
        ]);
        let named = |n: &str| resolve(GitRef::Named(n.into()), &list);
        let commit = |sha: &str, branch: Option<&str>| Resolved::Commit {
            sha: sha.into(),
            branch: branch.map(str::to_string),
        };
        assert_eq!(named("main").unwrap(), commit(&a, Some("main")));
        assert_eq!(named("origin/main").unwrap(), commit(&a, Some("main")));
        // A tag wins over a branch of the same name.
        assert_eq!(named("v1").unwrap(), commit(&c, None));
        // An annotated tag resolves to its commit.
        assert_eq!(named("v2.0.0").unwrap(), commit(&b, None));
        assert_eq!(named(&c.to_uppercase()).unwrap(), commit(&c, None));
        assert_eq!(
            named("abc1234").unwrap(),
            Resolved::Abbreviated("abc1234".into())
        );
        let e = named("nope").unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("https://h/x.git"),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
        let sel = |pre: Option<Vec<String>>| {
            resolve(
                GitRef::Semver {
                    constraints: ">=1.0.0".into(),
                    prerelease_identifiers: pre,
                },
                &list,
            )
        };
        assert_eq!(sel(None).unwrap(), commit(&b, None));
        assert_eq!(sel(Some(vec!["beta".into()])).unwrap(), commit(&c, None));
    }
}
