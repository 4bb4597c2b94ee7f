//! `make bench` helper: microseconds per resolve through the Rust → Go bridge
//! (JSON request, cgo call, oras-go `Resolve`, JSON answer), to set beside
//! the Go benchmark `BenchmarkResolve` doing the same with oras-go alone.
//!
//! Usage: `cargo run --release --example bench_resolve -- HOST/REPO:TAG [N]`

use std::time::Instant;

use vendoras::reference::Reference;
use vendoras::registry::{RemoteOptions, Repository};
use vendoras::Op;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let reference: Reference = args
        .next()
        .ok_or("usage: bench_resolve HOST/REPO:TAG [N]")?
        .parse()?;
    let n: u32 = args.next().map_or(Ok(200), |s| s.parse())?;
    let mut options = RemoteOptions::default();
    options.plain_http = Some(true);
    let repo = Repository::open_remote(&reference.repository_url(), &options)?;
    let op = Op::new();
    let object = reference
        .object()
        .ok_or("reference needs a tag or digest")?;
    repo.resolve(&op, &object, None)?; // warm the connection
    let start = Instant::now();
    for _ in 0..n {
        repo.resolve(&op, &object, None)?;
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("BenchmarkResolveBridge\t{n}\t{per:.0} us/op");
    Ok(())
}
