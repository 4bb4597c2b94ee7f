//! `oras pull` from Rust, through the vendoras library: the files of an
//! artifact in a registry or an OCI image layout, written into a directory.
//!
//! ```text
//! cargo run --example pull -- ghcr.io/org/repo:v1 out/
//! cargo run --example pull -- --oci-layout examples/quickstart/layout:v1.0.0 out/
//! ```
//!
//! Credentials come from the docker config, as with `oras`; `localhost`
//! registries are reached over plain HTTP. Ctrl-C cancels the pull and
//! leaves `<dir>` as it was. Exit status: 0 pulled, 1 failed, 2 usage,
//! 130 interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use vendoras::oci::Descriptor;
use vendoras::pull::{self, PullOptions, Status};
use vendoras::reference::{split_layout_reference, Reference};
use vendoras::registry::{RemoteOptions, Repository};
use vendoras::Op;

const USAGE: &str = "usage: pull [--oci-layout] <reference> <dir>
  <reference>  registry/repository:tag or @digest; with --oci-layout,
               path/to/layout:tag or path/to/layout@digest";

fn main() -> ExitCode {
    let mut layout = false;
    let mut positional = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--oci-layout" => layout = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') => {
                eprintln!("pull: unknown flag {flag}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => positional.push(arg),
        }
    }
    let [reference, dir] = <[String; 2]>::try_from(positional).unwrap_or_else(|_| {
        eprintln!("{USAGE}");
        std::process::exit(2);
    });

    // One Op for the whole pull: cancelling it stops every download in
    // flight. vendoras' own handler is used because the Go runtime in the
    // library needs SA_ONSTACK on any signal handler.
    let op = Arc::new(Op::new());
    let on_signal = Arc::clone(&op);
    if let Err(e) = vendoras::signal::on_interrupt(move |_| on_signal.cancel()) {
        eprintln!("pull: warning: cannot handle Ctrl-C: {e}");
    }

    match run(layout, &reference, PathBuf::from(dir), &op) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_cancelled() => {
            eprintln!("pull: interrupted; nothing was written");
            ExitCode::from(130)
        }
        Err(e) => {
            // `Display` renders the whole context chain (layer, registry,
            // status); `to_json` would give the same as data.
            eprintln!("pull: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(layout: bool, reference: &str, output: PathBuf, op: &Arc<Op>) -> vendoras::Result<()> {
    let (repo, object) = if layout {
        let (path, object) = split_layout_reference(reference).map_err(usage)?;
        (Repository::open_layout(path.as_ref())?, object)
    } else {
        let parsed: Reference = reference.parse().map_err(usage)?;
        let repo = Repository::open_remote(&parsed.repository_url(), &RemoteOptions::default())?;
        (repo, parsed.object())
    };
    let object = object.ok_or_else(|| usage(format!("{reference}: no tag or digest")))?;

    // Status lines as oras prints them; called from the download threads.
    let print = |status: Status, desc: &Descriptor| {
        let name = desc.title().unwrap_or(&desc.media_type);
        println!("{} {} {}", status.prompt(), desc.digest.short(), name);
    };
    let report = pull::pull(&repo, &object, &PullOptions::new(output), op, &print)?;

    if report.skipped_untitled {
        println!("Skipped pulling layers without file name in \"org.opencontainers.image.title\"");
    }
    println!("Pulled {reference}");
    println!("Digest: {}", report.root.digest);
    Ok(())
}

fn usage(e: impl ToString) -> vendoras::Error {
    vendoras::Error::Usage(e.to_string())
}
