//! Lexical path normalising, in one place.
//!
//! Config paths, glob patterns, archive entry names, layer titles and `pull`
//! output paths all resolve `.`, `..` and empty components the same way:
//! [`resolve`]. What differs is only what a `..` above the start means, and
//! each caller decides that from the count `resolve` returns:
//!
//! * [`RelPath`] refuses it (archive entries, titles, content paths): the
//!   result never leaves its start;
//! * `filter` treats such a pattern as matching nothing;
//! * `config` keeps the leading `..` of a directory path, then checks the
//!   result stays inside the project;
//! * [`clean_absolute`] stops at `/` (Go's `filepath.Clean`).
//!
//! This is lexical only. Extraction safety does not rest on it: `extract`
//! walks every path one component at a time with `openat(O_NOFOLLOW)` from
//! the root's fd (see `extract/root.rs`); a `RelPath` only guarantees that
//! no `..` or `/` component ever reaches that walk.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Resolves `.`, `..` and empty components of `/`-separated `components`:
/// returns how many `..` climbed above the start, and what is left.
/// `a/../../b` → `(1, [b])`; `./a//b/` → `(0, [a, b])`.
pub fn resolve<'a, T, I>(components: I) -> (usize, Vec<&'a T>)
where
    T: AsRef<[u8]> + ?Sized + 'a,
    I: IntoIterator<Item = &'a T>,
{
    let mut ups = 0;
    let mut parts: Vec<&T> = Vec::new();
    for c in components {
        match c.as_ref() {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    ups += 1;
                }
            }
            _ => parts.push(c),
        }
    }
    (ups, parts)
}

/// Lexical cleaning of an absolute path, like Go's `filepath.Clean`: `..`
/// at the root stays at the root.
pub fn clean_absolute(path: &Path) -> PathBuf {
    let bytes = path.as_os_str().as_bytes();
    let (_, parts) = resolve(bytes.split(|b| *b == b'/'));
    let mut out = PathBuf::from("/");
    out.extend(parts.into_iter().map(OsStr::from_bytes));
    out
}

/// A normalised relative path: no empty, `.` or `..` components, never
/// absolute. Displays `/`-joined (the root as `.`).
///
/// ```
/// use vendoras::config::RelPath;
///
/// let p = RelPath::normalize("a/./b//c/../d").unwrap();
/// assert_eq!(p.to_string(), "a/b/d");
/// assert_eq!(RelPath::normalize("../x"), None);
/// assert_eq!(RelPath::normalize("/etc"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RelPath(Vec<String>);

impl RelPath {
    /// The empty path (the root itself).
    pub fn root() -> RelPath {
        RelPath(Vec::new())
    }

    /// Normalises `name` lexically. `None` when it is absolute, climbs above
    /// its start with `..`, or contains a NUL byte.
    pub fn normalize(name: &str) -> Option<RelPath> {
        if name.starts_with('/') || name.contains('\0') {
            return None;
        }
        Self::root().join(name)
    }

    /// Joins a relative `name` onto this path, normalising; `None` if it
    /// climbs above the root.
    pub fn join(&self, name: &str) -> Option<RelPath> {
        let (ups, tail) = resolve(name.split('/'));
        let keep = self.0.len().checked_sub(ups)?;
        let mut parts = self.0[..keep].to_vec();
        parts.extend(tail.into_iter().map(str::to_string));
        Some(RelPath(parts))
    }

    /// The path components.
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// The first `n` components.
    pub(crate) fn prefix(&self, n: usize) -> RelPath {
        RelPath(self.0[..n.min(self.0.len())].to_vec())
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent path (the root's parent is the root).
    pub fn parent(&self) -> RelPath {
        let mut p = self.0.clone();
        p.pop();
        RelPath(p)
    }

    /// The last component.
    pub fn file_name(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// Whether `self` is `prefix` or lies beneath it.
    pub fn starts_with(&self, prefix: &RelPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// Whether one of the two is the other or lies beneath it.
    pub fn overlaps(&self, other: &RelPath) -> bool {
        self.starts_with(other) || other.starts_with(self)
    }

    /// Length in bytes of the `/`-joined form.
    pub(crate) fn byte_len(&self) -> usize {
        self.0
            .iter()
            .map(|c| c.len() + 1)
            .sum::<usize>()
            .saturating_sub(1)
    }

    /// Appends the path to a real path.
    pub fn to_path(&self, base: &Path) -> PathBuf {
        let mut p = base.to_path_buf();
        p.extend(&self.0);
        p
    }
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        f.write_str(&self.0.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_counts_climbs_and_drops_dots() {
        assert_eq!(resolve("a/./b/".split('/')), (0, vec!["a", "b"]));
        assert_eq!(resolve("./a//b".split('/')), (0, vec!["a", "b"]));
        assert_eq!(resolve("a/x/../b".split('/')), (0, vec!["a", "b"]));
        assert_eq!(resolve("a/..".split('/')), (0, vec![]));
        assert_eq!(resolve("../../x/..".split('/')), (2, vec![]));
        assert_eq!(resolve("a/../../b".split('/')), (1, vec!["b"]));
    }

    #[test]
    fn relpath_never_climbs() {
        assert_eq!(RelPath::normalize("a/./b/").unwrap().to_string(), "a/b");
        assert_eq!(RelPath::normalize("a/..").unwrap().to_string(), ".");
        assert!(RelPath::normalize("/usr").is_none());
        assert!(RelPath::normalize("../x").is_none());
        assert!(RelPath::normalize("a/../../x").is_none());
        assert!(RelPath::normalize("a\0b").is_none());
        let ab = RelPath::normalize("a/b").unwrap();
        assert_eq!(ab.join("../c").unwrap().to_string(), "a/c");
        assert!(ab.join("../../../c").is_none());
        assert!(ab.overlaps(&RelPath::normalize("a").unwrap()));
        assert!(!ab.overlaps(&RelPath::normalize("a/bc").unwrap()));
    }

    #[test]
    fn absolute_paths_clean_like_go() {
        assert_eq!(
            clean_absolute(Path::new("/a/../../b/./c/")),
            Path::new("/b/c")
        );
        assert_eq!(clean_absolute(Path::new("/..")), Path::new("/"));
    }
}
