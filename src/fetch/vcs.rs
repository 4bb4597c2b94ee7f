//! Running the installed `git` and `hg` for the `git:` and `hg:` sources,
//! the way vendir does (docs/dev/vendir-reference.md), but isolated:
//!
//! - no user or system config is read (`GIT_CONFIG_GLOBAL=/dev/null`,
//!   `GIT_CONFIG_NOSYSTEM=1`, `HGRCPATH` = our own file) and `HOME` is a
//!   throwaway directory, so nothing leaks in from, or out to, the user's
//!   setup; prompts are off;
//! - credentials live in files in that throwaway directory (0600: a git
//!   credential store, an ssh key and known-hosts file, an hgrc `[auth]`
//!   section) or in the child's environment — never in its arguments, which
//!   any user can read with `ps`;
//! - every network command runs under a watchdog that kills its process
//!   group when it prints nothing for the stall timeout, or when the sync is
//!   cancelled.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::FetchContext;
use crate::config::{Loaded, SecretRef};
use crate::error::{Error, Result};
use crate::ffi::Op;

/// Credentials from a git/hg `secretRef` (vendir's four keys).
#[derive(Default)]
pub(crate) struct Auth {
    pub private_key: Option<String>,
    pub known_hosts: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Auth {
    /// Reads the Secret (validated to hold only the four keys).
    pub fn load(loaded: &Loaded, secret: Option<&SecretRef>) -> Auth {
        let mut auth = Auth::default();
        let Some(s) = secret.and_then(|r| loaded.secrets.get(&r.name)) else {
            return auth;
        };
        let text = |k: &str| {
            s.data
                .get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        auth.private_key = text("ssh-privatekey");
        auth.known_hosts = text("ssh-knownhosts");
        auth.username = text("username");
        auth.password = text("password");
        auth
    }

    /// Whether any key was given (vendir then sets up ssh too).
    pub fn is_present(&self) -> bool {
        self.private_key.is_some()
            || self.known_hosts.is_some()
            || self.username.is_some()
            || self.password.is_some()
    }

    /// Username and password, when both are given.
    pub fn basic(&self) -> Option<(&str, &str)> {
        Some((self.username.as_deref()?, self.password.as_deref()?))
    }

    /// Values that must never be shown (scrubbed from the tools' output).
    pub fn secrets(&self) -> Vec<String> {
        [&self.private_key, &self.password]
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 3)
            .cloned()
            .collect()
    }

    /// vendir's refusal: basic auth only over https (checked before any
    /// command runs).
    pub fn check_scheme(&self, tool: &'static str, url: &str) -> Result<()> {
        if self.basic().is_some() && !url.starts_with("https://") {
            return Err(Error::Vcs {
                tool,
                url: redact_url(url),
                reference: None,
                reason: "Username/password authentication is only supported for https remotes"
                    .into(),
            });
        }
        Ok(())
    }

    /// The ssh command vendir builds, with the key and known-hosts files
    /// written (0600) into `dir`.
    pub fn ssh_command(&self, dir: &Path) -> Result<String> {
        let mut cmd = String::from("ssh -o ServerAliveInterval=30 -o ForwardAgent=no -F /dev/null");
        if let Some(key) = &self.private_key {
            let path = dir.join("private-key");
            // vendir appends a newline: ssh rejects a key without one.
            write_private(&path, format!("{key}\n").as_bytes())?;
            cmd.push_str(&format!(" -i {} -o IdentitiesOnly=yes", shell_quote(&path)));
        }
        match &self.known_hosts {
            Some(hosts) => {
                let path = dir.join("known-hosts");
                write_private(&path, hosts.as_bytes())?;
                cmd.push_str(&format!(
                    " -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                    shell_quote(&path)
                ));
            }
            None => cmd.push_str(" -o StrictHostKeyChecking=no"),
        }
        Ok(cmd)
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(data).map_err(|e| Error::io(path, e))
}

/// A git or hg remote as its content names it: what the two sources share
/// for their errors and for setting up a runner.
pub(crate) struct Remote<'a> {
    /// `git` or `hg`.
    pub tool: &'static str,
    /// The URL as written (it may hold credentials).
    pub url: &'a str,
    /// The ref as messages show it.
    pub reference: String,
}

impl Remote<'_> {
    /// An [`Error::Vcs`] about this remote, its URL without credentials.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Vcs {
            tool: self.tool,
            url: redact_url(self.url),
            reference: Some(self.reference.clone()),
            reason: reason.into(),
        }
    }

    /// A failed command as an error; an interrupted one is a cancellation.
    pub fn failed(&self, f: Failure) -> Error {
        if f.status == "interrupted" {
            return Error::Cancelled;
        }
        self.error(f.reason())
    }

    /// The content's credentials, and a runner that scrubs them and the
    /// URL's userinfo from all it shows. A username/password needs https.
    pub fn runner(
        &self,
        ctx: &FetchContext<'_>,
        secret: Option<&SecretRef>,
    ) -> Result<(Auth, Runner)> {
        let auth = Auth::load(ctx.loaded, secret);
        auth.check_scheme(self.tool, self.url).map_err(|_| {
            self.error("Username/password authentication is only supported for https remotes")
        })?;
        let mut r = Runner::new(self.tool, ctx.op, ctx.stall_timeout)?;
        r.scrub(auth.secrets());
        r.scrub(userinfo(self.url).into_iter().collect());
        Ok((auth, r))
    }
}

/// `scheme://user:pass@host/…` → `scheme://host/…`: a URL as shown to the
/// user never carries credentials, even when the config wrote them there.
pub(crate) fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// The `user:pass@` part of a URL written with credentials, if any: it is
/// scrubbed from everything shown.
pub(crate) fn userinfo(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some(rest[..=at].to_string())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A command's failure: what ran and what it said.
#[derive(Debug)]
pub(crate) struct Failure {
    /// `git fetch origin` (the arguments, never a secret).
    pub command: String,
    /// `exit status 128`, `stalled: no progress for 60s`, ...
    pub status: String,
    /// The tail of its stderr (secrets removed).
    pub stderr: String,
}

impl Failure {
    /// The failure as the user sees it.
    pub fn reason(&self) -> String {
        let mut s = format!("`{}`: {}", self.command, self.status);
        let err = self.stderr.trim();
        if !err.is_empty() {
            s.push_str(&format!(" (stderr: {err})"));
        }
        s
    }
}

/// One tool (`git` or `hg`) with its isolated environment and a throwaway
/// directory (HOME, credential files) removed on drop.
pub(crate) struct Runner {
    tool: &'static str,
    env: Vec<(OsString, Option<OsString>)>,
    scrub: Vec<String>,
    stall: Duration,
    op: Arc<Op>,
    home: tempfile::TempDir,
}

/// Inherited variables that steer git itself (not its transport): removed,
/// so a `GIT_DIR` in the user's shell cannot point our commands elsewhere.
fn drops_git_var(k: &str) -> bool {
    const KEEP: &[&str] = &[
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_CERT",
        "GIT_SSL_KEY",
        "GIT_SSL_NO_VERIFY",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_PROXY_COMMAND",
        "GIT_PROXY_SSL_CAINFO",
        "GIT_HTTP_USER_AGENT",
        "GIT_HTTP_LOW_SPEED_LIMIT",
        "GIT_HTTP_LOW_SPEED_TIME",
    ];
    k.starts_with("GIT_") && !KEEP.contains(&k)
}

impl Runner {
    /// A runner for `tool` with a fresh throwaway home.
    pub fn new(tool: &'static str, op: &Arc<Op>, stall: Option<Duration>) -> Result<Runner> {
        let home = tempfile::Builder::new()
            .prefix(&format!("vendoras-{tool}-"))
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let mut env: Vec<(OsString, Option<OsString>)> = Vec::new();
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if drops_git_var(&name) || name == "SSH_ASKPASS" || name.starts_with("HG") {
                env.push((k.clone(), None));
            }
        }
        let h = home.path().as_os_str().to_owned();
        for (k, v) in [
            ("HOME", h.clone()),
            ("XDG_CONFIG_HOME", home.path().join(".config").into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("GCM_INTERACTIVE", "never".into()),
            ("HGPLAIN", "1".into()),
            ("LC_ALL", "C".into()),
        ] {
            env.push((k.into(), Some(v)));
        }
        Ok(Runner {
            tool,
            env,
            scrub: Vec::new(),
            stall: stall.unwrap_or(crate::registry::DEFAULT_STALL_TIMEOUT),
            op: op.clone(),
            home,
        })
    }

    /// The throwaway directory (for credential files).
    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    /// The stall timeout in whole seconds (at least 1).
    pub fn stall_secs(&self) -> u64 {
        self.stall.as_secs().max(1)
    }

    /// Sets a variable for every command.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.env.push((key.into(), Some(value.into())));
    }

    /// Values to remove from anything shown.
    pub fn scrub(&mut self, secrets: Vec<String>) {
        self.scrub.extend(secrets);
    }

    fn clean(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.scrub {
            t = t.replace(s.as_str(), "***");
        }
        t
    }

    /// Runs a local command (no watchdog needed, still cancellable).
    pub fn local(&self, dir: &Path, args: &[&str]) -> std::result::Result<String, Failure> {
        self.run(dir, args, false)
    }

    /// Runs a command that talks to the network, under the watchdog.
    pub fn network(&self, dir: &Path, args: &[&str]) -> std::result::Result<String, Failure> {
        self.run(dir, args, true)
    }

    fn run(&self, dir: &Path, args: &[&str], watch: bool) -> std::result::Result<String, Failure> {
        let command = format!("{} {}", self.tool, args.join(" "));
        let fail = |status: String, stderr: &str| Failure {
            command: self.clean(&command),
            status,
            stderr: self.clean(&tail(stderr, 2000)),
        };
        let mut cmd = Command::new(self.tool);
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // Its own process group: the watchdog kills helpers (ssh,
        // git-remote-https) too, and a terminal's Ctrl-C reaches vendoras,
        // which cancels, rather than the tools directly.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            fail(
                format!(
                    "cannot run {} ({e}); is it installed and on PATH?",
                    self.tool
                ),
                "",
            )
        })?;
        let activity = Arc::new((Mutex::new(Activity::new()), Condvar::new()));
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let activity = activity.clone();
            std::thread::spawn(move || pump(r, i, &activity))
        })
        .collect();
        let pgid = rustix::process::Pid::from_child(&child);
        let mut killed: Option<String> = None;
        {
            let (lock, cv) = &*activity;
            let mut a = lock.lock().unwrap();
            while a.open > 0 {
                let (next, _) = cv.wait_timeout(a, Duration::from_millis(200)).unwrap();
                a = next;
                if a.open == 0 {
                    break;
                }
                let why = if self.op.is_cancelled() {
                    Some("interrupted".to_string())
                } else if watch && a.last.elapsed() >= self.stall {
                    Some(format!(
                        "stalled: no progress for {}s (--stall-timeout)",
                        self.stall.as_secs()
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    let _ =
                        rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
                    killed = Some(why);
                    break;
                }
            }
        }
        let status = child.wait();
        for r in readers {
            let _ = r.join();
        }
        let a = activity.0.lock().unwrap();
        let stdout = String::from_utf8_lossy(&a.out[0]).into_owned();
        let stderr = String::from_utf8_lossy(&a.out[1]).into_owned();
        if let Some(why) = killed {
            if self.op.is_cancelled() {
                return Err(fail("interrupted".into(), ""));
            }
            return Err(fail(why, &stderr));
        }
        match status {
            Ok(s) if s.success() => Ok(stdout),
            Ok(s) => Err(fail(s.to_string(), &stderr)),
            Err(e) => Err(fail(e.to_string(), &stderr)),
        }
    }
}

/// Output seen so far and when the last of it came.
struct Activity {
    out: [Vec<u8>; 2],
    last: Instant,
    open: usize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            out: [Vec::new(), Vec::new()],
            last: Instant::now(),
            open: 2,
        }
    }
}

/// Keeps stdout whole (it is parsed) and the last 64 KiB of stderr
/// (progress meters can be long).
fn pump(r: Option<Box<dyn Read + Send>>, i: usize, activity: &(Mutex<Activity>, Condvar)) {
    let mut buf = [0u8; 8192];
    if let Some(mut r) = r {
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut a = activity.0.lock().unwrap();
                    a.out[i].extend_from_slice(&buf[..n]);
                    if i == 1 && a.out[1].len() > 128 * 1024 {
                        let cut = a.out[1].len() - 64 * 1024;
                        a.out[1].drain(..cut);
                    }
                    a.last = Instant::now();
                }
            }
        }
    }
    let mut a = activity.0.lock().unwrap();
    a.open -= 1;
    activity.1.notify_all();
}

/// The last `max` bytes of `s`, progress meters (`\r` lines) dropped.
fn tail(s: &str, max: usize) -> String {
    let lines: Vec<&str> = s
        .lines()
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let joined = lines.join("\n");
    if joined.len() <= max {
        return joined;
    }
    let mut start = joined.len() - max;
    while !joined.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &joined[start..])
}

/// Removes empty directories beneath `root` (not `root` itself), as vendir
/// does after every fetch; `keep` names relative paths kept even when empty
/// (a repository's `refs` and `objects` must exist for git to see it).
pub(crate) fn prune_empty_dirs(root: &Path, keep: &[&str]) -> Result<()> {
    fn walk(root: &Path, rel: &Path, keep: &[&str]) -> Result<bool> {
        let dir = root.join(rel);
        let mut has = false;
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            let child = rel.join(entry.file_name());
            if ft.is_dir() {
                let inner = walk(root, &child, keep)?;
                let kept = keep.iter().any(|k| Path::new(k) == child);
                if inner || kept {
                    has = true;
                } else {
                    std::fs::remove_dir(root.join(&child))
                        .map_err(|e| Error::io(root.join(&child), e))?;
                }
            } else {
                has = true;
            }
        }
        Ok(has)
    }
    walk(root, Path::new(""), keep).map(|_| ())
}

/// A per-repository area of the vendoras cache (`<cache>/<tool>/…`), or a
/// temporary one when the cache is off; held under an exclusive `flock`
/// so concurrent contents and syncs never update one mirror at once.
pub(crate) struct Area {
    /// The mirror's directory (may not exist yet).
    pub path: PathBuf,
    _lock: std::fs::File,
    _tmp: Option<tempfile::TempDir>,
}

impl Area {
    /// Locks the area for `key` (a URL) under `cache`'s `<tool>/` directory.
    pub fn lock(cache: Option<&Path>, tool: &str, key: &str, op: &Op) -> Result<Area> {
        let (base, tmp) = match cache {
            Some(c) => (c.join(tool), None),
            None => {
                let t = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
        let name = crate::digest::Digest::of(crate::digest::Algorithm::Sha256, key.as_bytes())
            .hex()
            .to_string();
        let lock_path = base.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        use rustix::fs::{flock, FlockOperation};
        while flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            if op.is_cancelled() {
                return Err(Error::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Area {
            path: base.join(name),
            _lock: file,
            _tmp: tmp,
        })
    }
}

/// Small facts about a commit that only its objects can tell (its title,
/// `git describe`), remembered in the cache under a key that changes
/// whenever they could: so a probe can give the exact lock entry of an
/// unchanged ref without fetching anything.
pub(crate) struct Facts;

impl Facts {
    fn path(cache: &Path, tool: &str, key: &str) -> PathBuf {
        let d = crate::digest::Digest::of(crate::digest::Algorithm::Sha256, key.as_bytes());
        cache
            .join(tool)
            .join("facts")
            .join(format!("{}.json", d.hex()))
    }

    /// The facts recorded under `key`.
    pub fn read<T: serde::de::DeserializeOwned>(
        cache: Option<&Path>,
        tool: &str,
        key: &str,
    ) -> Option<T> {
        let data = std::fs::read(Self::path(cache?, tool, key)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Best effort: a fact not written only costs a fetch next time.
    pub fn write<T: serde::Serialize>(cache: Option<&Path>, tool: &str, key: &str, value: &T) {
        let Some(cache) = cache else { return };
        let path = Self::path(cache, tool, key);
        if let Some(dir) = path.parent() {
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = crate::atomic::write(
                    &path,
                    &serde_json::to_vec(value).unwrap_or_default(),
                    false,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            redact_url("https://u:p@h.example/x.git"),
            "https://h.example/x.git"
        );
        assert_eq!(redact_url("https://h/x@y"), "https://h/x@y");
        assert_eq!(userinfo("https://u:p@h/x").as_deref(), Some("u:p@"));
        assert_eq!(userinfo("https://h/x@y"), None);
        assert_eq!(redact_url("git@github.com:a/b"), "git@github.com:a/b");
        assert_eq!(percent_encode("a b@c:d/é"), "a%20b%40c%3Ad%2F%C3%A9");
    }

    #[test]
    fn empty_directories_are_pruned_but_kept_names_stay() {
        let t = tempfile::tempdir().unwrap();
        for d in ["a/b/c", "x", ".git/refs/heads", ".git/objects/pack", "f/g"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        std::fs::write(t.path().join("f/g/file"), "x").unwrap();
        prune_empty_dirs(t.path(), &[".git/refs", ".git/objects"]).unwrap();
        let mut left: Vec<String> = walkdir(t.path());
        left.sort();
        assert_eq!(
            left,
            [".git", ".git/objects", ".git/refs", "f", "f/g", "f/g/file"]
        );
    }

    fn walkdir(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for e in std::fs::read_dir(root.join(&rel)).unwrap() {
                let e = e.unwrap();
                let child = rel.join(e.file_name());
                out.push(child.display().to_string());
                if e.file_type().unwrap().is_dir() {
                    stack.push(child);
                }
            }
        }
        out
    }

    #[test]
    fn a_silent_command_is_killed_after_the_stall_timeout() {
        let op = Arc::new(Op::new());
        let mut r = Runner::new("sh", &op, Some(Duration::from_secs(1))).unwrap();
        r.scrub(vec!["hunter2".into()]);
        let f = r
            .network(Path::new("/"), &["-c", "echo hunter2 >&2; sleep 30"])
            .unwrap_err();
        assert!(f.status.contains("stalled"), "{f:?}");
        assert!(!f.reason().contains("hunter2"), "{}", f.reason());
        assert!(f.reason().contains("***"), "{}", f.reason());
        let ok = r.local(Path::new("/"), &["-c", "echo out"]).unwrap();
        assert_eq!(ok, "out\n");
    }
}
