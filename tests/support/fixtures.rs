//! Fixture builders for the non-registry sources: git and hg repositories made with
//! the real CLIs (fixed identities and dates, so runs are reproducible), tar/tgz/zip
//! archives, a helm chart repository made with `helm package` / `helm repo index`,
//! and images pushed with `crane append` / `crane index append`.

use super::*;

/// A fixed date for commits and changesets: the same content gives the same ids.
const FIXED_DATE: &str = "2024-01-02T03:04:05Z";

/// git with no system/global config, a fixed identity and fixed dates.
pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new(require_on_path("git"));
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", isolated_home())
        .env("GIT_AUTHOR_NAME", "Vendoras Test")
        .env("GIT_AUTHOR_EMAIL", "test@vendoras.invalid")
        .env("GIT_COMMITTER_NAME", "Vendoras Test")
        .env("GIT_COMMITTER_EMAIL", "test@vendoras.invalid")
        .env("GIT_AUTHOR_DATE", FIXED_DATE)
        .env("GIT_COMMITTER_DATE", FIXED_DATE)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    c
}

/// Runs git in `dir`; panics with its output on failure; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = run(git_cmd(dir).args(args)).ok();
    out.stdout.trim().to_string()
}

/// A git work tree under construction; [`GitRepo::publish`] makes the bare copy that
/// servers export.
pub struct GitRepo {
    pub work: PathBuf,
}

impl GitRepo {
    /// `git init` in `work` on branch `main`.
    pub fn init(work: &Path) -> GitRepo {
        fs::create_dir_all(work).unwrap();
        git(work, &["init", "-q", "-b", "main"]);
        GitRepo {
            work: work.to_path_buf(),
        }
    }

    /// Writes `files` (path, bytes; an `exec:` path prefix makes it 0755), stages
    /// everything and commits with `message`; returns the commit sha.
    pub fn commit(&self, files: &[(&str, &[u8])], message: &str) -> String {
        for (name, data) in files {
            let (name, exec) = match name.strip_prefix("exec:") {
                Some(n) => (n, true),
                None => (*name, false),
            };
            let p = self.work.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, data).unwrap();
            set_mode(&p, if exec { 0o755 } else { 0o644 });
        }
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// `git checkout -q -B name` (create or reset a branch at HEAD and switch to it).
    pub fn branch(&self, name: &str) {
        git(&self.work, &["checkout", "-q", "-B", name]);
    }

    pub fn checkout(&self, name: &str) {
        git(&self.work, &["checkout", "-q", name]);
    }

    pub fn tag_lightweight(&self, tag: &str) {
        git(&self.work, &["tag", tag]);
    }

    pub fn tag_annotated(&self, tag: &str, message: &str) {
        git(&self.work, &["tag", "-a", tag, "-m", message]);
    }

    /// Adds `sub` (a published bare repo) as submodule at `path`, recorded in
    /// `.gitmodules` with the relative URL `../<name>.git`, so a clone over any
    /// transport finds it next to the superproject on the same server.
    pub fn add_submodule(&self, sub_bare: &Path, path: &str) {
        let name = sub_bare.file_name().unwrap().to_string_lossy().into_owned();
        git(
            &self.work,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                &sub_bare.display().to_string(),
                path,
            ],
        );
        git(
            &self.work,
            &[
                "config",
                "-f",
                ".gitmodules",
                &format!("submodule.{path}.url"),
                &format!("../{name}"),
            ],
        );
    }

    /// (Re)publishes all branches and tags to the bare repository `bare` (created on
    /// first use) — what the servers export. Returns `bare`.
    pub fn publish(&self, bare: &Path) -> PathBuf {
        if !bare.exists() {
            fs::create_dir_all(bare).unwrap();
            git(bare, &["init", "-q", "--bare", "-b", "main"]);
        }
        git(
            &self.work,
            &[
                "push",
                "-q",
                "--force",
                &bare.display().to_string(),
                "refs/heads/*:refs/heads/*",
                "refs/tags/*:refs/tags/*",
            ],
        );
        bare.to_path_buf()
    }
}

/// A ready-made pair of bare repositories under `root`: `lib.git` (one commit) and
/// `app.git` with
/// - branch `main`: three commits, the last with a two-line message;
/// - branch `feature`: one commit beyond `main`'s first;
/// - lightweight tags `v1.0.0`, `v1.1.0-rc.1`, `v2.0.0-beta.1`, annotated `v1.1.0`;
/// - submodule `vendor/lib` -> `../lib.git` (added in main's second commit).
pub struct GitFixture {
    pub root: PathBuf,
    pub app: GitRepo,
    pub lib: GitRepo,
    /// Commit shas by name: "first", "second", "third", "feature", "lib".
    pub commits: BTreeMap<&'static str, String>,
}

impl GitFixture {
    pub fn build(root: &Path) -> GitFixture {
        let lib = GitRepo::init(&root.join("src/lib"));
        let lib_sha = lib.commit(&[("lib.txt", b"lib v1\n")], "lib: first");
        let lib_bare = lib.publish(&root.join("lib.git"));

        let app = GitRepo::init(&root.join("src/app"));
        let mut commits = BTreeMap::new();
        commits.insert("lib", lib_sha);
        commits.insert(
            "first",
            app.commit(
                &[
                    ("README.md", b"app v1\n"),
                    ("exec:bin/run.sh", b"#!/bin/sh\necho run\n"),
                ],
                "first commit",
            ),
        );
        app.tag_lightweight("v1.0.0");
        app.branch("feature");
        commits.insert(
            "feature",
            app.commit(&[("feature.txt", b"feature\n")], "feature work"),
        );
        app.checkout("main");
        app.add_submodule(&lib_bare, "vendor/lib");
        commits.insert(
            "second",
            app.commit(&[("README.md", b"app v1.1\n")], "second commit"),
        );
        app.tag_lightweight("v1.1.0-rc.1");
        app.tag_annotated("v1.1.0", "release 1.1.0");
        commits.insert(
            "third",
            app.commit(
                &[("README.md", b"app v2 beta\n")],
                "third commit\n\nwith a body line",
            ),
        );
        app.tag_lightweight("v2.0.0-beta.1");
        app.publish(&root.join("app.git"));
        GitFixture {
            root: root.to_path_buf(),
            app,
            lib,
            commits,
        }
    }

    /// Moves `main` forward by one commit and republishes; returns the new sha.
    pub fn advance_main(&self, message: &str) -> String {
        self.app.checkout("main");
        let sha = self
            .app
            .commit(&[("moved.txt", message.as_bytes())], message);
        self.app.publish(&self.root.join("app.git"));
        sha
    }
}

// ---------------------------------------------------------------------------------------
// Mercurial
// ---------------------------------------------------------------------------------------

/// hg with no user config, a fixed user and dates.
pub fn hg_cmd(dir: &Path) -> Command {
    let mut c = Command::new(require_on_path("hg"));
    c.current_dir(dir)
        .env("HGRCPATH", empty_rc())
        .env("HGUSER", "Vendoras Test <test@vendoras.invalid>")
        .env("HGPLAIN", "1")
        .env("HOME", isolated_home())
        .stdin(Stdio::null());
    c
}

/// An empty rc file shared by the test process (hg reads HGRCPATH instead of ~/.hgrc).
pub fn empty_rc() -> &'static Path {
    static RC: OnceLock<PathBuf> = OnceLock::new();
    RC.get_or_init(|| {
        let p = isolated_home().join("empty.rc");
        fs::create_dir_all(isolated_home()).unwrap();
        fs::write(&p, "").unwrap();
        p
    })
}

pub fn hg(dir: &Path, args: &[&str]) -> String {
    run(hg_cmd(dir).args(args)).ok().stdout.trim().to_string()
}

/// An hg repository: `default` with two changesets (tag `v1.0.0` on the first, the
/// second with a two-line description) and a named branch `stable` off the first.
pub struct HgFixture {
    pub repo: PathBuf,
    /// Full changeset ids by name: "first", "second", "stable".
    pub changesets: BTreeMap<&'static str, String>,
}

impl HgFixture {
    pub fn build(repo: &Path) -> HgFixture {
        fs::create_dir_all(repo).unwrap();
        hg(repo, &["init"]);
        let date = ["-d", "1704164645 0"];
        let node = |repo: &Path| hg(repo, &["log", "-r", ".", "-T", "{node}"]);
        let mut changesets = BTreeMap::new();
        fs::write(repo.join("README.md"), "hg v1\n").unwrap();
        hg(repo, &["add", "README.md"]);
        hg(
            repo,
            &[&["commit", "-m", "hg first"][..], &date[..]].concat(),
        );
        changesets.insert("first", node(repo));
        hg(
            repo,
            &[
                &["tag", "-m", "Added tag v1.0.0", "-r", "0", "v1.0.0"][..],
                &date[..],
            ]
            .concat(),
        );
        fs::write(repo.join("README.md"), "hg v2\n").unwrap();
        hg(
            repo,
            &[&["commit", "-m", "hg second\n\nbody line"][..], &date[..]].concat(),
        );
        changesets.insert("second", node(repo));
        hg(repo, &["update", "-q", "-r", &changesets["first"]]);
        hg(repo, &["branch", "-q", "stable"]);
        fs::write(repo.join("stable.txt"), "stable\n").unwrap();
        hg(repo, &["add", "stable.txt"]);
        hg(
            repo,
            &[&["commit", "-m", "on stable"][..], &date[..]].concat(),
        );
        changesets.insert("stable", node(repo));
        hg(repo, &["update", "-q", "default"]);
        HgFixture {
            repo: repo.to_path_buf(),
            changesets,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Archives
// ---------------------------------------------------------------------------------------

/// A zip of `files` (path, bytes; `exec:` prefix for 0755) made with Info-ZIP `zip`
/// (`-X`: no extra attributes), with a directory entry per parent.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut names = Vec::new();
    for (name, data) in files {
        let (name, exec) = match name.strip_prefix("exec:") {
            Some(n) => (n, true),
            None => (*name, false),
        };
        let p = src.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        set_mode(&p, if exec { 0o755 } else { 0o644 });
        names.push(name.to_string());
    }
    let out = tmp.path().join("out.zip");
    let mut c = Command::new(require_on_path("zip"));
    c.current_dir(&src)
        .arg("-q")
        .arg("-X")
        .arg("-r")
        .arg(&out)
        .arg(".");
    run(&mut c).ok();
    fs::read(out).unwrap()
}

/// A tar (ustar, via [`TarBuilder`]) of `files` (`exec:` prefix for 0755), with
/// directory entries for parents.
pub fn tar_of(files: &[(&str, &[u8])]) -> TarBuilder {
    let mut t = TarBuilder::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (name, _) in files {
        let name = name.strip_prefix("exec:").unwrap_or(name);
        let mut acc = String::new();
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            acc.push_str(part);
            acc.push('/');
            if dirs.insert(acc.clone()) {
                t.dir(acc.trim_end_matches('/'));
            }
        }
    }
    for (name, data) in files {
        match name.strip_prefix("exec:") {
            Some(n) => t.exec(n, data),
            None => t.file(name, data),
        };
    }
    t
}

// ---------------------------------------------------------------------------------------
// Helm
// ---------------------------------------------------------------------------------------

pub fn helm_path() -> PathBuf {
    let p = tools_dir().join("helm");
    require_program(&p, "helm v3.22.0 (scripts/install-registry-clients.sh)");
    p
}

/// helm with its home, cache, config and data under a private directory.
pub fn helm_cmd(home: &Path) -> Command {
    let mut c = Command::new(helm_path());
    isolate(&mut c);
    c.env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"));
    c
}

/// Writes a minimal chart `name`/`version`/`app_version` (Chart.yaml, values.yaml,
/// one template, a .helmignore'd file) under `dir/name`; returns its directory.
pub fn write_chart(dir: &Path, name: &str, version: &str, app_version: &str) -> PathBuf {
    let c = dir.join(format!("{name}-{version}-src")).join(name);
    fs::create_dir_all(c.join("templates")).unwrap();
    fs::write(
        c.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: {name}\ndescription: a vendoras test chart\n\
             type: application\nversion: {version}\nappVersion: \"{app_version}\"\n"
        ),
    )
    .unwrap();
    fs::write(
        c.join("values.yaml"),
        format!("greeting: hello from {version}\n"),
    )
    .unwrap();
    fs::write(
        c.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n\
         data:\n  greeting: {{ .Values.greeting | quote }}\n",
    )
    .unwrap();
    fs::write(c.join(".helmignore"), "*.bak\n").unwrap();
    fs::write(c.join("notes.bak"), "ignored by helm package\n").unwrap();
    c
}

/// A chart repository directory: `index.yaml` (relative URLs, `helm repo index`) and
/// one archive per `(name, version, appVersion)` made by `helm package`. Serve it
/// with [`super::servers::HttpServer::files`].
pub fn helm_repo(dir: &Path, charts: &[(&str, &str, &str)]) -> PathBuf {
    let repo = dir.join("chart-repo");
    let home = dir.join("helm-home");
    fs::create_dir_all(&repo).unwrap();
    for (name, version, app) in charts {
        let src = write_chart(dir, name, version, app);
        run(helm_cmd(&home)
            .arg("package")
            .arg(&src)
            .arg("-d")
            .arg(&repo))
        .ok();
    }
    run(helm_cmd(&home).arg("repo").arg("index").arg(&repo)).ok();
    repo
}

// ---------------------------------------------------------------------------------------
// crane
// ---------------------------------------------------------------------------------------

pub fn crane_path() -> PathBuf {
    let p = tools_dir().join("crane");
    require_program(&p, "crane v0.22.1 (scripts/install-registry-clients.sh)");
    p
}

pub fn crane() -> Command {
    let mut c = Command::new(crane_path());
    isolate(&mut c);
    c
}

/// `crane append` of one tar layer per entry of `layers` (in order, onto the empty
/// image) to `reference`; `--platform` sets the config's os/arch. Returns the
/// manifest digest.
pub fn crane_image(reference: &str, layers: &[Vec<u8>], platform: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = crane();
    c.arg("append").arg("-t").arg(reference).arg("--insecure");
    if let Some(p) = platform {
        c.arg("--platform").arg(p);
    }
    for (i, l) in layers.iter().enumerate() {
        let p = tmp.path().join(format!("layer{i}.tar"));
        fs::write(&p, l).unwrap();
        c.arg("-f").arg(p);
    }
    run(&mut c).ok();
    crane_digest(reference)
}

/// `crane index append -m ... -t reference`; returns the index digest.
pub fn crane_index(reference: &str, manifests: &[String]) -> String {
    let mut c = crane();
    c.arg("index")
        .arg("append")
        .arg("-t")
        .arg(reference)
        .arg("--insecure");
    for m in manifests {
        c.arg("-m").arg(m);
    }
    run(&mut c).ok();
    crane_digest(reference)
}

pub fn crane_digest(reference: &str) -> String {
    run(crane().arg("digest").arg("--insecure").arg(reference))
        .ok()
        .stdout
        .trim()
        .to_string()
}

/// imgpkg's `.imgpkg/images.yml` listing `images` (each with a kbld id annotation, as
/// `imgpkg push` writes them).
pub fn images_yml(images: &[String]) -> String {
    let mut s = String::from("---\napiVersion: imgpkg.carvel.dev/v1alpha1\nimages:\n");
    for (i, img) in images.iter().enumerate() {
        s.push_str(&format!(
            "- annotations:\n    kbld.carvel.dev/id: img{i}\n  image: {img}\n"
        ));
    }
    s.push_str("kind: ImagesLock\n");
    s
}

/// Pushes an imgpkg bundle to `reference` as imgpkg lays it out (one layer holding
/// `.imgpkg/bundle.yml`, `.imgpkg/images.yml` listing `images`, and `files`; the
/// `dev.carvel.imgpkg.bundle` label); returns its digest.
pub fn push_bundle(reference: &str, files: &[(&str, &[u8])], images: &[String]) -> String {
    let lock = images_yml(images);
    let mut all: Vec<(&str, &[u8])> = vec![
        (
            ".imgpkg/bundle.yml",
            b"apiVersion: imgpkg.carvel.dev/v1alpha1\nkind: Bundle\n",
        ),
        (".imgpkg/images.yml", lock.as_bytes()),
    ];
    all.extend_from_slice(files);
    crane_image(reference, &[tar_of(&all).finish()], None);
    run(crane()
        .args([
            "mutate",
            "--insecure",
            "--label",
            "dev.carvel.imgpkg.bundle=true",
            "-t",
        ])
        .arg(reference)
        .arg(reference))
    .ok();
    crane_digest(reference)
}
