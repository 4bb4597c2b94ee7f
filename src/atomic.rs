//! Replacing a file whole: a temporary file in the same directory, then a
//! rename, so a reader (or a crash) sees the old bytes or the new ones,
//! never part of them.

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` by temp file + rename. `durable` (the lock, the
/// commit journal) adds an fsync of the file before the rename and of the
/// directory after it, so the new bytes survive a power cut once this
/// returns; the cache's notes skip both.
pub(crate) fn write(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".vendoras-tmp-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    if durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if durable {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
