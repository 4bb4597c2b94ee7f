//! vendir's path filtering: `includePaths`, `excludePaths`, `legalPaths`,
//! `ignorePaths` and `newRootPath`, on `/`-separated paths relative to a
//! content's root.
//!
//! # What is matched from vendir
//!
//! Reference: carvel-dev/vendir (`pkg/vendir/directory/`, `pkg/vendir/config/`).
//!
//! * [`ContentFilter::keep`] is `FileFilter.Apply` (`directory/file_filter.go`)
//!   for one file: a file is kept when there are no include patterns or one
//!   matches; then an exclude match drops it; then a legal match keeps it
//!   *again*. So, exactly as vendir does it, the result is
//!   `(includes empty || include) && !exclude || legal` — legal paths win
//!   over `excludePaths` (and over a non-matching `includePaths`).
//! * `FileFilter.Apply` runs on every regular file *and symlink*
//!   (`filepath.Walk` stats with `Lstat`; only directories are skipped), so
//!   the caller must ask `keep` for symlinks too. Directories are never
//!   matched; afterwards vendir's `deleteEmptyDirs` removes every directory
//!   that holds no file (recursively — also directories that were empty in
//!   the source), and fails with "Expected to find at least one file within
//!   directory" when the content root ends up with no file at all. The sync
//!   engine implements that part: a directory is kept iff it contains a kept
//!   file (or symlink), and a content with no kept file is an error.
//! * vendir skips the filter for `manual` contents (`directory.go`,
//!   `skipFileFilter`), and so should the caller.
//! * Defaults for `legalPaths` are `DefaultLegalPaths` from
//!   `config/directory.go`, used when `legalPaths` is absent
//!   (`LegalPathsWithDefaults`); `legalPaths: []` means none.
//! * Patterns are joined to the content directory with Go's `filepath.Join`
//!   (`scopePatterns`), which cleans them lexically: `./a/`, `/a` and `a//b/..`
//!   mean `a`; we clean the same way (see the deviations for `..`).
//! * Matching is `doublestar.PathMatch` from bmatcuk/doublestar v1.2.1 (the
//!   version vendir's `go.mod` pins): `*` and `?` stay within one path
//!   component, `**` as a whole component matches zero or more components
//!   (`a/**/b` matches `a/b`; `a/**` does *not* match `a` itself), `**`
//!   inside a component is a plain `*`, `{a,b}` alternation (empty
//!   alternatives allowed, as the legal defaults need), `[...]` classes and
//!   `\` escapes. Here that is [`globset`] with `literal_separator`,
//!   `backslash_escape` and `empty_alternates` on.
//! * [`IgnoreMatcher`] is `StagingDir.CopyExistingFiles` / `isPathIgnored`
//!   (`directory/staging_dir.go`): existing files in the destination whose
//!   path matches an `ignorePaths` pattern are copied over the freshly
//!   fetched content (so they win over a fetched file of the same name).
//! * [`new_root`] is `SubPath.Extract` (`directory/sub_path.go`): after
//!   filtering, the subdirectory `newRootPath` becomes the content root and
//!   everything outside it is dropped. vendir fails with "Expected directory
//!   '…' (subpath) to exist" when it is missing; the caller reports that when
//!   no path maps.
//!
//! # Deviations (on purpose)
//!
//! * Patterns are compiled up front, so a malformed pattern is an error at
//!   config load time naming the pattern; doublestar only notices while
//!   matching (and only if matching reaches the bad part).
//! * Character-class negation: doublestar v1 negates only with `[^...]`;
//!   globset also negates with `[!...]` (where doublestar matches a literal
//!   `!`). We keep globset's reading, the common glob convention.
//! * A pattern whose `..` climbs out of the content directory never matches.
//!   In vendir, `filepath.Join(dir, "../x/f")` may land back inside `dir`
//!   when `dir`'s own name is `x`; depending on the staging directory's name
//!   is an accident, not a feature.
//! * `ignorePaths` are matched against file (and symlink) paths only. vendir
//!   also matches directories, and then fails because it cannot copy a
//!   directory ("is not a regular file"); to keep a whole directory write
//!   `dir/**`.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// vendir's default `legalPaths` (`DefaultLegalPaths` in
/// `pkg/vendir/config/directory.go`), kept even when excluded.
pub fn default_legal_paths() -> Vec<String> {
    vec![
        "{LICENSE,LICENCE,License,Licence}{,.md,.txt,.rst}".to_string(),
        "{COPYRIGHT,Copyright}{,.md,.txt,.rst}".to_string(),
        "{NOTICE,Notice}{,.md,.txt,.rst}".to_string(),
    ]
}

/// Checks that `pattern` is a valid glob; the error names the pattern.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    build_glob(pattern).map(|_| ())
}

/// Lexically cleans a pattern as `filepath.Join(contentDir, pattern)` would,
/// relative to the content directory. `None`: the pattern names the content
/// directory itself (`""`, `.`) or climbs out of it, so it matches no file.
fn clean_pattern(pattern: &str) -> Option<String> {
    match crate::relpath::resolve(pattern.split('/')) {
        (0, parts) if !parts.is_empty() => Some(parts.join("/")),
        _ => None,
    }
}

/// Normalises a path to be matched: drops empty and `.` components.
fn clean_path(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn build_glob(pattern: &str) -> Result<Option<globset::Glob>, String> {
    let Some(cleaned) = clean_pattern(pattern) else {
        return Ok(None);
    };
    GlobBuilder::new(&cleaned)
        .literal_separator(true)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
        .map(Some)
        .map_err(|e| format!("invalid glob pattern `{pattern}`: {}", e.kind()))
}

fn build_set(patterns: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Some(glob) = build_glob(pattern)? {
            builder.add(glob);
        }
    }
    builder
        .build()
        .map_err(|e| format!("invalid glob patterns: {e}"))
}

/// A content's `includePaths` / `excludePaths` / `legalPaths`, compiled.
///
/// See the module documentation for the exact vendir semantics.
#[derive(Debug, Clone)]
pub struct ContentFilter {
    has_include: bool,
    include: GlobSet,
    exclude: GlobSet,
    legal: GlobSet,
    /// The patterns as cleaned, for [`ContentFilter::never_keeps_below`].
    written: [Vec<String>; 3],
}

impl ContentFilter {
    /// Compiles the patterns. `legal: None` means vendir's defaults
    /// ([`default_legal_paths`]); `Some(&[])` means no legal paths. A bad
    /// glob is an error naming the pattern.
    pub fn new(
        include: &[String],
        exclude: &[String],
        legal: Option<&[String]>,
    ) -> Result<ContentFilter, String> {
        let legal = match legal {
            Some(l) => l.to_vec(),
            None => default_legal_paths(),
        };
        let cleaned = |l: &[String]| l.iter().filter_map(|p| clean_pattern(p)).collect();
        Ok(ContentFilter {
            // vendir tests `len(includePaths) == 0` on the list as written.
            has_include: !include.is_empty(),
            include: build_set(include)?,
            exclude: build_set(exclude)?,
            legal: build_set(&legal)?,
            written: [cleaned(include), cleaned(exclude), cleaned(&legal)],
        })
    }

    /// Whether every path is kept (no includePaths, no excludePaths), so a
    /// fetched tree can be moved into place whole.
    pub fn keeps_everything(&self) -> bool {
        !self.has_include && self.exclude.is_empty()
    }

    /// Whether the file (or symlink) at `rel_path` (relative to the content
    /// root, `/`-separated) stays: `(no includePaths || an include matches)
    /// && no exclude matches`, or a legal path matches (vendir's
    /// `FileFilter.Apply`). Not meant for directories: a directory stays iff
    /// it ends up holding a kept file.
    pub fn keep(&self, rel_path: &str) -> bool {
        let path = clean_path(rel_path);
        let mut matched = !self.has_include || self.include.is_match(&path);
        if matched && self.exclude.is_match(&path) {
            matched = false;
        }
        if !matched && self.legal.is_match(&path) {
            matched = true;
        }
        matched
    }

    /// Whether no file below the top-level directory `dir` (`dir/...`) can be
    /// kept, judged from the patterns alone, so a fetcher may leave that
    /// directory's contents out (git's `.git`). True when no legal pattern can
    /// reach below `dir` and either no include pattern can, or an exclude is
    /// `dir/**`. Conservative: a pattern it cannot judge counts as reaching.
    pub fn never_keeps_below(&self, dir: &str) -> bool {
        let [include, exclude, legal] = &self.written;
        if legal.iter().any(|p| may_match_below(p, dir)) {
            return false;
        }
        let excluded = exclude.iter().any(|p| *p == format!("{dir}/**"));
        let not_included = self.has_include && !include.iter().any(|p| may_match_below(p, dir));
        excluded || not_included
    }
}

/// Whether the cleaned `pattern` could match a path below the top-level
/// directory `dir`: only through its first component (or a leading `**`).
fn may_match_below(pattern: &str, dir: &str) -> bool {
    if pattern == "**" || pattern.contains('\\') {
        return true;
    }
    let Some((first, _)) = pattern.split_once('/') else {
        // One component that is not `**` matches top-level entries only.
        return false;
    };
    // An alternative may hold a `/`; `**` spans components.
    if first.contains('{') || first == "**" {
        return true;
    }
    match build_glob(first) {
        Ok(Some(glob)) => glob.compile_matcher().is_match(dir),
        _ => true,
    }
}

/// A content's `ignorePaths`: files already in the destination that sync must
/// keep (vendir's `StagingDir.CopyExistingFiles`).
#[derive(Debug, Clone)]
pub struct IgnoreMatcher {
    set: GlobSet,
    empty: bool,
}

impl IgnoreMatcher {
    /// Compiles the patterns; a bad glob is an error naming the pattern.
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        Ok(IgnoreMatcher {
            set: build_set(patterns)?,
            empty: patterns.is_empty(),
        })
    }

    /// Whether the existing file at `rel_path` (relative to the content root)
    /// must be kept. Match file (and symlink) paths only; a pattern matching
    /// a directory name does not cover the files in it (use `dir/**`).
    pub fn is_ignored(&self, rel_path: &str) -> bool {
        !self.empty && self.set.is_match(clean_path(rel_path))
    }
}

/// Where a fetched file lands, in vendir's order (`Directory.Sync`): the
/// filters judge the path as fetched (`FileFilter.Apply`), then `newRootPath`
/// re-roots what they kept (`SubPath.Extract`). This is the one place that
/// order is written; `stage::place` asks it for every fetched file.
#[derive(Debug, Clone)]
pub struct ContentPaths {
    filter: ContentFilter,
    new_root: Option<String>,
}

impl ContentPaths {
    /// The content's filters and its `newRootPath` (`None`, or `.`, keeps the root).
    pub fn new(filter: ContentFilter, new_root_path: Option<&str>) -> ContentPaths {
        let new_root = new_root_path
            .map(clean_path)
            .filter(|root| !root.is_empty());
        ContentPaths { filter, new_root }
    }

    /// Whether every fetched path lands where it was fetched (no filter, no
    /// new root), so a tree can be moved into place whole.
    pub fn keeps_everything(&self) -> bool {
        self.filter.keeps_everything() && self.new_root.is_none()
    }

    /// The `newRootPath`, cleaned, if there is one.
    pub fn new_root(&self) -> Option<&str> {
        self.new_root.as_deref()
    }

    /// See [`ContentFilter::never_keeps_below`].
    pub fn never_keeps_below(&self, dir: &str) -> bool {
        self.filter.never_keeps_below(dir)
    }

    /// Whether the filters keep the fetched file at `fetched` (before any
    /// re-rooting).
    pub fn filtered_in(&self, fetched: &str) -> bool {
        self.filter.keep(fetched)
    }

    /// Where the fetched file (or symlink) at `fetched` lands, relative to
    /// the content root; `None` when the filters drop it or it lies outside
    /// the new root.
    pub fn map(&self, fetched: &str) -> Option<String> {
        if !self.filter.keep(fetched) {
            return None;
        }
        match &self.new_root {
            Some(root) => new_root(fetched, root),
            None => Some(clean_path(fetched)).filter(|p| !p.is_empty()),
        }
    }
}

/// vendir's `newRootPath` (`SubPath.Extract`): the path re-rooted at
/// `new_root_path`, or `None` when it lies outside (it is dropped). The new
/// root itself also maps to `None` (it becomes the content root, which always
/// exists). Both arguments are cleaned lexically first; an empty or `.` new
/// root is a no-op. Apply after [`ContentFilter::keep`], as vendir does.
pub fn new_root(rel_path: &str, new_root_path: &str) -> Option<String> {
    let path = clean_path(rel_path);
    let root = clean_path(new_root_path);
    if root.is_empty() {
        return if path.is_empty() { None } else { Some(path) };
    }
    path.strip_prefix(&root)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn no_patterns_keeps_everything() {
        let f = ContentFilter::new(&[], &[], None).unwrap();
        assert!(f.keep("a"));
        assert!(f.keep("a/b/c.yaml"));
    }

    #[test]
    fn include_only() {
        let f = ContentFilter::new(
            &s(&["crds/*.yaml", "charts/**/values.yaml"]),
            &[],
            Some(&[]),
        )
        .unwrap();
        assert!(f.keep("crds/a.yaml"));
        assert!(!f.keep("crds/sub/a.yaml"), "* must not cross /");
        assert!(f.keep("charts/values.yaml"), "** matches zero dirs");
        assert!(f.keep("charts/x/y/values.yaml"));
        assert!(!f.keep("README.md"));
    }

    #[test]
    fn exclude_wins_over_include() {
        let f = ContentFilter::new(&s(&["**/*.yaml"]), &s(&["test/**"]), Some(&[])).unwrap();
        assert!(f.keep("a/b.yaml"));
        assert!(f.keep("b.yaml"));
        assert!(!f.keep("test/b.yaml"));
        assert!(!f.keep("test/x/b.yaml"));
        assert!(!f.keep("b.json"));
    }

    #[test]
    fn legal_paths_win_over_exclude_and_include() {
        // vendir file_filter.go: the legal check comes last and sets matched.
        let f = ContentFilter::new(&s(&["src/**"]), &s(&["**/*"]), None).unwrap();
        assert!(f.keep("LICENSE"));
        assert!(f.keep("NOTICE.txt"));
        assert!(f.keep("Copyright.md"));
        assert!(f.keep("Licence.rst"));
        assert!(!f.keep("src/a.go"), "excluded");
        assert!(!f.keep("LICENSE.pdf"));
        assert!(!f.keep("sub/LICENSE"), "defaults are root-only");
        assert!(!f.keep("license"), "case-sensitive");
    }

    #[test]
    fn explicit_empty_legal_paths_disable_defaults() {
        let f = ContentFilter::new(&s(&["a"]), &[], Some(&[])).unwrap();
        assert!(!f.keep("LICENSE"));
        let f = ContentFilter::new(&s(&["a"]), &[], Some(&s(&["COPYING"]))).unwrap();
        assert!(f.keep("COPYING"));
        assert!(!f.keep("LICENSE"));
    }

    #[test]
    fn default_legal_paths_exact() {
        assert_eq!(
            default_legal_paths(),
            s(&[
                "{LICENSE,LICENCE,License,Licence}{,.md,.txt,.rst}",
                "{COPYRIGHT,Copyright}{,.md,.txt,.rst}",
                "{NOTICE,Notice}{,.md,.txt,.rst}",
            ])
        );
    }

    #[test]
    fn patterns_are_cleaned_like_filepath_join() {
        let f = ContentFilter::new(&s(&["./a/", "/b", "c//d/../e"]), &[], Some(&[])).unwrap();
        assert!(f.keep("a"));
        assert!(f.keep("b"));
        assert!(f.keep("c/e"));
        assert!(!f.keep("c/d/e"));
        // names the directory itself or climbs out: matches nothing, but
        // still counts as "includePaths given".
        let f = ContentFilter::new(&s(&[".", "../x"]), &[], Some(&[])).unwrap();
        assert!(!f.keep("x"));
        assert!(!f.keep("a"));
        // paths are cleaned too
        let f = ContentFilter::new(&s(&["a/b"]), &[], Some(&[])).unwrap();
        assert!(f.keep("./a/b"));
    }

    #[test]
    fn doublestar_details() {
        let f = ContentFilter::new(&s(&["a/**"]), &[], Some(&[])).unwrap();
        assert!(!f.keep("a"), "doublestar v1: a/** does not match a");
        assert!(f.keep("a/b"));
        let f = ContentFilter::new(
            &s(&["x**y", "{p,q}/*.{yml,yaml}", "f?.txt"]),
            &[],
            Some(&[]),
        )
        .unwrap();
        assert!(f.keep("xzzy"));
        assert!(!f.keep("xz/zy"), "** inside a component is *");
        assert!(f.keep("p/a.yml"));
        assert!(f.keep("q/a.yaml"));
        assert!(!f.keep("r/a.yaml"));
        assert!(f.keep("f1.txt"));
        assert!(!f.keep("f12.txt"));
        let f = ContentFilter::new(&s(&["**"]), &[], Some(&[])).unwrap();
        assert!(f.keep(".hidden/x"), "no special dotfile handling");
        let f = ContentFilter::new(&s(&[r"a\*b"]), &[], Some(&[])).unwrap();
        assert!(f.keep("a*b"));
        assert!(!f.keep("axb"));
    }

    #[test]
    fn bad_glob_names_pattern() {
        let e = ContentFilter::new(&s(&["ok", "a[b"]), &[], None).unwrap_err();
        assert!(e.contains("`a[b`"), "{e}");
        let e = ContentFilter::new(&[], &s(&["{a,b"]), None).unwrap_err();
        assert!(e.contains("`{a,b`"), "{e}");
        let e = ContentFilter::new(&[], &[], Some(&s(&["[z-a]"]))).unwrap_err();
        assert!(e.contains("`[z-a]`"), "{e}");
        assert!(check_pattern("a/**/b").is_ok());
        assert!(check_pattern("a[").is_err());
        assert!(IgnoreMatcher::new(&s(&["x{"]))
            .unwrap_err()
            .contains("`x{`"));
    }

    #[test]
    fn ignore_matcher() {
        let m = IgnoreMatcher::new(&s(&["local/**", "*.local.yaml"])).unwrap();
        assert!(m.is_ignored("local/a"));
        assert!(m.is_ignored("local/a/b"));
        assert!(m.is_ignored("x.local.yaml"));
        assert!(!m.is_ignored("sub/x.local.yaml"));
        assert!(!m.is_ignored("other"));
        let m = IgnoreMatcher::new(&[]).unwrap();
        assert!(!m.is_ignored("anything"));
    }

    fn paths(
        include: &[&str],
        exclude: &[&str],
        legal: Option<&[&str]>,
        root: Option<&str>,
    ) -> ContentPaths {
        let legal = legal.map(s);
        let filter = ContentFilter::new(&s(include), &s(exclude), legal.as_deref()).unwrap();
        ContentPaths::new(filter, root)
    }

    #[test]
    fn filters_judge_fetched_paths_then_new_root_re_roots() {
        // The most common real shape: one folder of a repository, re-rooted.
        let p = paths(&["config/**/*"], &[], None, Some("config"));
        assert_eq!(p.map("config/a.yml").as_deref(), Some("a.yml"));
        assert_eq!(p.map("config/sub/b.yml").as_deref(), Some("sub/b.yml"));
        assert_eq!(p.map("other/c.yml"), None, "not included");
        // LICENSE is kept by the default legal paths, then dropped by the
        // re-root: it is outside `config/`.
        assert!(p.filtered_in("LICENSE"));
        assert_eq!(p.map("LICENSE"), None);
        // An include pattern written against the re-rooted path matches
        // nothing: vendir filters first.
        let p = paths(&["*.yml"], &[], Some(&[]), Some("config"));
        assert_eq!(p.map("config/a.yml"), None);
        assert_eq!(p.map("a.yml"), None, "outside the new root");
    }

    #[test]
    fn every_rule_of_a_real_content_together() {
        // includePaths + excludePaths + legalPaths + newRootPath, as in
        // `charts/app/**/*` minus its tests, keeping `charts/app/LICENSE`.
        let p = paths(
            &["charts/app/**/*"],
            &["charts/app/tests/**/*", "**/*.md"],
            Some(&["charts/app/LICENSE"]),
            Some("./charts/app/"),
        );
        assert_eq!(
            p.map("charts/app/Chart.yaml").as_deref(),
            Some("Chart.yaml")
        );
        assert_eq!(
            p.map("charts/app/templates/deploy.yaml").as_deref(),
            Some("templates/deploy.yaml")
        );
        assert_eq!(p.map("charts/app/tests/t.yaml"), None, "excluded");
        assert_eq!(p.map("charts/app/README.md"), None, "excluded");
        assert_eq!(
            p.map("charts/app/LICENSE").as_deref(),
            Some("LICENSE"),
            "legal wins"
        );
        assert_eq!(p.map("charts/other/Chart.yaml"), None);
        assert_eq!(p.map("LICENSE"), None, "legalPaths given: no defaults");
        assert!(!p.keeps_everything());
        assert!(paths(&[], &[], None, Some(".")).keeps_everything());
        assert!(!paths(&[], &[], None, Some("x")).keeps_everything());
        assert_eq!(
            paths(&[], &[], None, None).map("./a//b").as_deref(),
            Some("a/b")
        );
    }

    #[test]
    fn new_root_paths() {
        assert_eq!(
            new_root("charts/app/values.yaml", "charts/app"),
            Some("values.yaml".into())
        );
        assert_eq!(
            new_root("charts/app/t/a.yaml", "./charts/app/"),
            Some("t/a.yaml".into())
        );
        assert_eq!(new_root("charts/app", "charts/app"), None);
        assert_eq!(new_root("charts/application/x", "charts/app"), None);
        assert_eq!(new_root("README.md", "charts/app"), None);
        assert_eq!(new_root("a/b", "."), Some("a/b".into()));
        assert_eq!(new_root("a/b", ""), Some("a/b".into()));
    }

    #[test]
    fn never_keeps_below_judges_git_dirs_from_the_patterns() {
        let never = |inc: &[&str], exc: &[&str], legal: Option<&[&str]>| {
            let legal = legal.map(s);
            ContentFilter::new(&s(inc), &s(exc), legal.as_deref())
                .unwrap()
                .never_keeps_below(".git")
        };
        // The common shapes: one folder, by literal first components.
        assert!(never(&["config/**/*"], &[], None));
        assert!(never(&["./charts/app/**", "README.md"], &[], None));
        assert!(never(&["c*/**/*"], &[], None));
        assert!(never(&[], &[".git/**"], None));
        // Anything that could reach `.git/...` keeps the whole fetch.
        assert!(!never(&[], &[], None));
        assert!(!never(&["**/*.yaml"], &[], None));
        assert!(!never(&["*/HEAD"], &[], None));
        assert!(!never(&[".git/HEAD"], &[], None));
        assert!(!never(&["{.git/HEAD,a}"], &[], None));
        assert!(!never(&["config/**"], &[".git/*"], Some(&["**/LICENSE"])));
        // One component matches top-level files only.
        assert!(never(&["*.yaml"], &[], None));
        // Each answer agrees with `keep` on a path below `.git`.
        for inc in [&["config/**/*"][..], &["*.yaml"], &["c*/**/*"]] {
            let f = ContentFilter::new(&s(inc), &[], None).unwrap();
            assert!(!f.keep(".git/config") && !f.keep(".git/refs/heads/x.yaml"));
        }
    }
}
