//! Running vendir v0.44.0 (the reference for the non-OCI sources) side by side with
//! vendoras: an isolated environment (no user git/hg config, no user credentials, no
//! inherited `VENDIR_*`/`IMGPKG_*`/`GITHUB_*` variables), a work directory per run,
//! and a semantic comparison of two lock files.
//!
//! Environment vendir v0.44.0 reads itself: `VENDIR_CACHE_DIR` (unset = no cache),
//! `VENDIR_MAX_CACHE_SIZE`, `VENDIR_GITHUB_API_TOKEN`, `VENDIR_HELM_BINARY`; the
//! `git`, `hg` and `helm` it runs inherit the whole environment; imgpkg reads
//! `IMGPKG_*` registry credentials; Go's HTTP client honours `HTTPS_PROXY`/`NO_PROXY`
//! and `SSL_CERT_FILE`.

use super::*;

pub fn vendir_path() -> PathBuf {
    let p = tools_dir().join("vendir");
    require_program(&p, "vendir v0.44.0 (scripts/install-vendir.sh)");
    p
}

/// Variables removed from every reference run, so the host cannot change results.
const SCRUBBED_PREFIXES: &[&str] = &["VENDIR_", "IMGPKG_", "GIT_", "HG", "HELM_", "SSL_CERT_"];
const SCRUBBED: &[&str] = &[
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "SSH_AUTH_SOCK",
    "SSH_ASKPASS",
];

/// A command (vendir or vendoras) with the isolated environment both get in the
/// side-by-side suites: `isolate()`'s HOME/docker config/no proxies, the tools dir
/// first on PATH (vendir finds `helm` there), empty git and hg configs, no prompts.
pub fn isolate_vcs(cmd: &mut Command) {
    isolate(cmd);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if SCRUBBED_PREFIXES.iter().any(|p| k.starts_with(p)) || SCRUBBED.contains(&k.as_ref()) {
            cmd.env_remove(k.as_ref());
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![tools_dir()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", super::fixtures::empty_rc())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("HGRCPATH", super::fixtures::empty_rc())
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
}

/// A work directory for one reference run: `work/` (cwd, vendir.yml, lock) and
/// `cache/` (for `VENDIR_CACHE_DIR` when enabled).
pub struct VendirWork {
    pub _tmp: TempDir,
    pub dir: PathBuf,
    pub cache: PathBuf,
    /// Extra environment for every run (e.g. `SSL_CERT_FILE`, `HTTPS_PROXY`).
    pub env: Vec<(String, String)>,
    /// Whether `VENDIR_CACHE_DIR` is set (vendir's default is no cache).
    pub use_cache: bool,
}

impl VendirWork {
    pub fn new() -> VendirWork {
        let tmp = tempfile::Builder::new()
            .prefix("vendir-ref")
            .tempdir()
            .unwrap();
        let dir = tmp.path().join("work");
        let cache = tmp.path().join("cache");
        fs::create_dir_all(&dir).unwrap();
        VendirWork {
            _tmp: tmp,
            dir,
            cache,
            env: Vec::new(),
            use_cache: false,
        }
    }

    pub fn env(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn config(&self, yaml: &str) {
        fs::write(self.dir.join("vendir.yml"), yaml).unwrap();
    }

    /// `vendir sync ARGS` in the work dir.
    pub fn vendir(&self, args: &[&str]) -> Command {
        let mut c = Command::new(vendir_path());
        isolate_vcs(&mut c);
        c.current_dir(&self.dir).arg("sync").args(args);
        if self.use_cache {
            c.env("VENDIR_CACHE_DIR", &self.cache);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn sync(&self, args: &[&str]) -> Outcome {
        run(&mut self.vendir(args))
    }

    pub fn lock(&self) -> String {
        fs::read_to_string(self.dir.join("vendir.lock.yml")).unwrap_or_default()
    }

    /// The lock parsed (panics when missing or not YAML).
    pub fn lock_value(&self) -> serde_json::Value {
        yaml(&self.lock())
            .unwrap_or_else(|e| panic!("vendir.lock.yml is not YAML ({e}):\n{}", self.lock()))
    }

    /// The lock entry (`contents[]` item) for directory `dir`, content `path`.
    pub fn lock_entry(&self, dir: &str, path: &str) -> serde_json::Value {
        lock_entry(&self.lock_value(), dir, path)
            .unwrap_or_else(|| panic!("no lock entry {dir} / {path} in:\n{}", self.lock()))
    }

    pub fn tree(&self, rel: &str) -> Tree {
        tree_snapshot(&self.dir.join(rel))
    }
}

/// Finds `directories[path=dir].contents[path=path]` in a parsed lock.
pub fn lock_entry(lock: &serde_json::Value, dir: &str, path: &str) -> Option<serde_json::Value> {
    lock.get("directories")?
        .as_array()?
        .iter()
        .find(|d| d.get("path").and_then(|p| p.as_str()) == Some(dir))?
        .get("contents")?
        .as_array()?
        .iter()
        .find(|c| c.get("path").and_then(|p| p.as_str()) == Some(path))
        .cloned()
}

/// A string field of a lock entry's source map, e.g. `field(&e, "git", "sha")`.
pub fn field(entry: &serde_json::Value, source: &str, key: &str) -> Option<String> {
    entry.get(source)?.get(key)?.as_str().map(str::to_string)
}

/// Differences between two lock files compared as data: directories and contents
/// are matched by `path` (order-insensitive), mappings key by key, sequences in
/// order (a lock's `tags` order is meaningful). `ignore` lists dotted keys left out
/// on both sides (e.g. `"configDigest"`). Empty when equivalent.
pub fn lock_diff(left: &str, right: &str, ignore: &[&str]) -> Vec<String> {
    let parse = |name: &str, s: &str| -> serde_json::Value {
        yaml(s).unwrap_or_else(|e| panic!("{name} lock is not YAML ({e}):\n{s}"))
    };
    let (l, r) = (parse("left", left), parse("right", right));
    let mut out = Vec::new();
    value_diff(
        "",
        &normalize_lock(&l),
        &normalize_lock(&r),
        ignore,
        &mut out,
    );
    out
}

/// Panics with both files and the differences unless the locks are equivalent;
/// with nothing in `ignore` they must be byte-identical too (vendir's key order,
/// quoting and line folding).
#[track_caller]
pub fn assert_same_lock(context: &str, left: &str, right: &str, ignore: &[&str]) {
    let diff = lock_diff(left, right, ignore);
    if !diff.is_empty() {
        panic!(
            "{context}: locks differ\n{}\n--- left:\n{left}\n--- right:\n{right}",
            diff.join("\n")
        );
    }
    if ignore.is_empty() && left != right {
        let line = left
            .lines()
            .zip(right.lines())
            .position(|(l, r)| l != r)
            .unwrap_or_else(|| left.lines().count().min(right.lines().count()));
        panic!(
            "{context}: locks hold the same data but their bytes differ from line {}\n--- left:\n{left}\n--- right:\n{right}",
            line + 1
        );
    }
}

/// Turns `directories[]` and `contents[]` into mappings keyed by `path`, so order
/// does not matter for them.
fn normalize_lock(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map as Mapping, Value as Y};
    let by_path = |seq: &Y, inner: &dyn Fn(&Y) -> Y| -> Y {
        let mut m = Mapping::new();
        for item in seq.as_array().into_iter().flatten() {
            let key = item
                .get("path")
                .and_then(|p| p.as_str())
                .unwrap_or_default()
                .to_string();
            m.insert(key, inner(item));
        }
        Y::Object(m)
    };
    let mut top = v.as_object().cloned().unwrap_or_default();
    if let Some(dirs) = top.get("directories").cloned() {
        let dirs = by_path(&dirs, &|d: &Y| {
            let mut d = d.as_object().cloned().unwrap_or_default();
            if let Some(c) = d.get("contents").cloned() {
                d.insert("contents".into(), by_path(&c, &|c: &Y| c.clone()));
            }
            Y::Object(d)
        });
        top.insert("directories".into(), dirs);
    }
    Y::Object(top)
}

fn value_diff(
    at: &str,
    l: &serde_json::Value,
    r: &serde_json::Value,
    ignore: &[&str],
    out: &mut Vec<String>,
) {
    use serde_json::Value as Y;
    let last = at.rsplit('.').next().unwrap_or(at);
    if ignore.contains(&last) || ignore.contains(&at) {
        return;
    }
    match (l, r) {
        (Y::Object(a), Y::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let name = k.clone();
                let path = if at.is_empty() {
                    name
                } else {
                    format!("{at}.{name}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => value_diff(&path, x, y, ignore, out),
                    (Some(x), None) => {
                        let last = path.rsplit('.').next().unwrap();
                        if !ignore.contains(&last) && !ignore.contains(&path.as_str()) {
                            out.push(format!("  only left: {path} = {}", brief(x)))
                        }
                    }
                    (None, Some(y)) => {
                        let last = path.rsplit('.').next().unwrap();
                        if !ignore.contains(&last) && !ignore.contains(&path.as_str()) {
                            out.push(format!("  only right: {path} = {}", brief(y)))
                        }
                    }
                    (None, None) => unreachable!(),
                }
            }
        }
        (Y::Array(a), Y::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                value_diff(&format!("{at}[{i}]"), x, y, ignore, out);
            }
        }
        _ if l == r => {}
        _ => out.push(format!("  differs: {at}: {} vs {}", brief(l), brief(r))),
    }
}

fn brief(v: &serde_json::Value) -> String {
    v.to_string()
}

/// Parses YAML (a lock) into JSON values: lock keys are all strings.
pub fn yaml(s: &str) -> Result<serde_json::Value, serde_saphyr::Error> {
    serde_saphyr::from_str(s)
}

/// A `Config` document with `directories` given as ready YAML items (each starting
/// with "- path:"), plus extra documents (Secrets, ...) after `---`.
pub fn vendir_config(directories: &[String], extra_docs: &[String]) -> String {
    let mut s = String::from("apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n");
    for d in directories {
        s.push_str(d);
        if !d.ends_with('\n') {
            s.push('\n');
        }
    }
    for doc in extra_docs {
        s.push_str("---\n");
        s.push_str(doc);
        if !doc.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// One directory item with a single content at `.` whose source is `source_yaml`
/// (the source key and its fields, e.g. "git:\n  url: ...\n  ref: main").
pub fn one_content(dir: &str, source_yaml: &str) -> String {
    let body: String = source_yaml
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect::<String>();
    format!("- path: {dir}\n  contents:\n  - path: .\n{body}")
}

/// A `v1` Secret document with `stringData`-style values base64-encoded into `data`.
pub fn secret_doc(name: &str, data: &[(&str, &str)]) -> String {
    let mut s = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ndata:\n");
    for (k, v) in data {
        s.push_str(&format!(
            "  {k}: {}\n",
            super::servers::base64_encode(v.as_bytes())
        ));
    }
    s
}
