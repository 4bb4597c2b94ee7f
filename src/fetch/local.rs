//! Local sources: `manual` (keep what is there), `directory` (copy a local
//! directory) and `inline` (files written in the config or taken from
//! Secrets and ConfigMaps).

use std::fs;
use std::io;
use std::path::Path;

use super::{FetchContext, Fetched, Source};
use crate::config::{Inline as InlineConfig, InlineFrom};
use crate::error::{Error, Result};
use crate::extract::{RelPath, Root};
use crate::lock::{Empty, LockContent};

/// `manual: {}`: the files already in the content path are kept as they are.
pub struct Manual;

impl Source for Manual {
    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        let bytes = match ctx.current {
            Some(current) if current.exists() => link_tree(current, dest, &RelPath::root())?,
            _ => 0,
        };
        Ok(Fetched {
            lock: LockContent {
                manual: Some(Empty {}),
                ..LockContent::default()
            },
            bytes,
            summary: "manual (kept)".into(),
            ..Fetched::default()
        })
    }
}

/// `directory: {path}`: a copy of a local directory.
pub struct Directory<'a> {
    pub path: &'a str,
    /// Subtrees of `path` this sync already replaced: (where inside `path`,
    /// the staged tree to read instead). vendir would find them in place.
    pub overlays: &'a [(RelPath, std::path::PathBuf)],
}

impl Source for Directory<'_> {
    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        let src = ctx.workdir.join(self.path);
        if !src.is_dir() && self.overlays.is_empty() {
            return Err(Error::setting(
                "directory.path",
                Some(&src.display().to_string()),
                "not a directory",
            ));
        }
        let skip: Vec<&RelPath> = self.overlays.iter().map(|(rel, _)| rel).collect();
        let mut bytes = 0;
        if src.is_dir() {
            bytes += transfer_tree(&src, dest, &RelPath::root(), false, Some(&skip))?;
        }
        for (rel, staged) in self.overlays {
            if staged.is_dir() {
                bytes += copy_tree(staged, dest, rel)?;
            }
        }
        Ok(Fetched {
            lock: LockContent {
                directory: Some(Empty {}),
                ..LockContent::default()
            },
            bytes,
            summary: format!("directory {}", self.path),
            ..Fetched::default()
        })
    }
}

/// `inline: {paths, pathsFrom}`.
pub struct Inline<'a> {
    pub cfg: &'a InlineConfig,
}

impl Source for Inline<'_> {
    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        let mut files: Vec<(String, Vec<u8>)> = self
            .cfg
            .paths
            .iter()
            .map(|(p, c)| (p.to_string(), c.clone().into_bytes()))
            .collect();
        for from in &self.cfg.paths_from {
            match from {
                InlineFrom::Secret(r) => {
                    let secret = ctx.loaded.secrets.get(&r.name).ok_or_else(|| {
                        Error::setting(
                            "inline.pathsFrom.secretRef",
                            Some(&r.name),
                            "no such Secret",
                        )
                    })?;
                    for (k, v) in &secret.data {
                        files.push((join_opt(&r.directory_path, k), v.clone()));
                    }
                }
                InlineFrom::ConfigMap(r) => {
                    let cm = ctx.loaded.config_maps.get(&r.name).ok_or_else(|| {
                        Error::setting(
                            "inline.pathsFrom.configMapRef",
                            Some(&r.name),
                            "no such ConfigMap",
                        )
                    })?;
                    for (k, v) in &cm.data {
                        files.push((join_opt(&r.directory_path, k), v.clone().into_bytes()));
                    }
                }
            }
        }
        let mut bytes = 0;
        for (path, content) in files {
            let rel = RelPath::normalize(&path)
                .filter(|r| !r.is_root())
                .ok_or_else(|| {
                    Error::entry(
                        format!("inline path {path:?}"),
                        "must be relative and stay inside the content",
                    )
                })?;
            let mut f = dest
                .create_file(&rel, 0o600, Some(0o755))
                .map_err(|e| Error::io(&path, e))?;
            io::Write::write_all(&mut f, &content).map_err(|e| Error::io(&path, e))?;
            crate::extract::root::set_mode(&f, 0o644).map_err(|e| Error::io(&path, e))?;
            bytes += content.len() as u64;
        }
        Ok(Fetched {
            lock: LockContent {
                inline: Some(Empty {}),
                ..LockContent::default()
            },
            bytes,
            summary: "inline".into(),
            ..Fetched::default()
        })
    }
}

fn join_opt(dir: &RelPath, name: &str) -> String {
    if dir.is_root() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Hard-links (or copies, across file systems) the tree at `src` into
/// `dest` at `rel`. Used to carry kept files (manual, lazy, ignorePaths)
/// from the current tree into staging without copying their bytes.
pub fn link_tree(src: &Path, dest: &Root, rel: &RelPath) -> Result<u64> {
    transfer_tree(src, dest, rel, true, None)
}

fn copy_tree(src: &Path, dest: &Root, rel: &RelPath) -> Result<u64> {
    transfer_tree(src, dest, rel, false, None)
}

/// Transfers `src` to `rel`. A `directory:` source passes `skip`: paths
/// (relative to `dest`) to leave out, and staging directories are left out
/// too (its path may be a parent of directories being synced).
fn transfer_tree(
    src: &Path,
    dest: &Root,
    rel: &RelPath,
    link: bool,
    skip: Option<&[&RelPath]>,
) -> Result<u64> {
    let meta = fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        dest.create_dir(rel, 0o755).map_err(|e| Error::io(src, e))?;
        let mut total = 0;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(|e| Error::io(src, e))?
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io(src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = rel
                .join(&name)
                .filter(|c| c.components().len() == rel.components().len() + 1);
            let Some(child) = child else { continue };
            if skip.is_some_and(|s| s.contains(&&child) || name.starts_with(crate::stage::PREFIX)) {
                continue;
            }
            total += transfer_tree(&entry.path(), dest, &child, link, skip)?;
        }
        return Ok(total);
    }
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(|e| Error::io(src, e))?;
        dest.symlink(rel, &target.to_string_lossy(), Some(0o755))
            .map_err(|e| Error::io(src, e))?;
        return Ok(0);
    }
    if !ft.is_file() {
        return Ok(0);
    }
    let target = rel.to_path(dest.path());
    if link && dest.link_from(src, rel, Some(0o755)).is_ok() {
        return Ok(meta.len());
    }
    let mut from = fs::File::open(src).map_err(|e| Error::io(src, e))?;
    let mut to = dest
        .create_file(rel, 0o600, Some(0o755))
        .map_err(|e| Error::io(&target, e))?;
    io::copy(&mut from, &mut to).map_err(|e| Error::io(&target, e))?;
    use std::os::unix::fs::PermissionsExt;
    crate::extract::root::set_mode(&to, meta.permissions().mode())
        .map_err(|e| Error::io(&target, e))?;
    Ok(meta.len())
}
