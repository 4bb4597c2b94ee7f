//! Local sources: `manual` (keep what is there), `directory` (copy a local
//! directory) and `inline` (files written in the config or taken from
//! Secrets and ConfigMaps).

use std::io;

use super::{FetchContext, Fetched, Source};
use crate::config::{Inline as InlineConfig, InlineFrom};
use crate::error::{Error, Result};
use crate::extract::{RelPath, Root};
use crate::lock::{Empty, LockContent};
use crate::stage::{copy_tree, copy_tree_except};

/// `manual: {}` whose path does not exist yet: an empty directory. (What is
/// there is kept by the sync itself, file or directory, without a fetch.)
pub struct Manual;

impl Source for Manual {
    fn fetch(&self, _: &FetchContext<'_>, _: &Root) -> Result<Fetched> {
        Ok(Fetched {
            lock: LockContent {
                manual: Some(Empty {}),
                ..LockContent::default()
            },
            summary: "manual (new, empty)".into(),
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
            bytes += copy_tree_except(&src, dest, &skip)?;
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
