//! `make bench` helper: inflate-only baseline for `vendoras sync`.
//!
//! Reads a gzip blob from a file and inflates it with flate2's
//! `MultiGzDecoder` (what `src/extract/layer.rs` uses), discarding the
//! output: the decoder's cost alone, with no tar parsing and no file writes.
//! Built as an example it links the crate's own flate2 (zlib-rs backend);
//! `scripts/bench/inflate/` builds the same file against zlib-rs and zlib-ng.
//!
//! Usage: `cargo run --release --example bench_inflate -- BLOB [LABEL]`
//! Prints `LABEL<TAB>seconds<TAB>compressed_bytes<TAB>inflated_bytes<TAB>MiB/s(out)`.

use std::fs::File;
use std::io::{self, Read};
use std::time::Instant;

use flate2::read::MultiGzDecoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: bench_inflate BLOB [LABEL]")?;
    let label = args.next().unwrap_or_else(|| "inflate".to_string());
    let file = File::open(&path)?;
    let compressed = file.metadata()?.len();
    let start = Instant::now();
    let mut gz = MultiGzDecoder::new(file);
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = 0u64;
    loop {
        match gz.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label}\t{secs:.3}\t{compressed}\t{out}\t{:.0}",
        out as f64 / (1 << 20) as f64 / secs
    );
    Ok(())
}
