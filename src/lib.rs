//! vendoras vendors OCI artifacts into a directory tree, vendir-style, and
//! gives Rust programs oras-go's registry behaviour.
//!
//! Registry I/O and cosign checks are oras-go and sigstore-go code in a Go
//! archive linked into this crate; everything that touches your disk
//! (extraction, staging, the lock) is Rust. The public surface:
//!
//! * [`registry`]: open a remote repository or an OCI image layout;
//!   resolve, fetch manifests, stream blobs, list tags.
//! * [`pull`]: `oras pull` — the files of an artifact, into a directory.
//! * [`sync`]: `vendir sync` — a `vendir.yml` into its directories, with
//!   progress [`sync::Event`]s.
//! * [`config`] and [`lock`]: `vendir.yml` and `vendir.lock.yml` as types.
//! * [`verify`]: cosign signature checks on a resolved manifest.
//! * [`Error`] (one enum for everything), [`digest`], [`reference`](mod@reference),
//!   [`oci`] (descriptors and manifests).
//! * [`Op`]: the cancellation handle every call that does I/O takes, and
//!   [`signal`] to cancel it on Ctrl-C.
//!
//! `docs/library.md` in the repository is a one-page tour.
//!
//! # Example
//!
//! The files of the tag `v1.0.0` in the OCI layout of `examples/quickstart`,
//! pulled as `oras pull --oci-layout` would:
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use vendoras::pull::{self, PullOptions};
//! use vendoras::registry::Repository;
//! use vendoras::Op;
//!
//! # fn main() -> vendoras::Result<()> {
//! let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/layout");
//! let repo = Repository::open_layout(&layout)?;
//! let out = tempfile::tempdir().unwrap();
//!
//! let op = Arc::new(Op::new());
//! let report = pull::pull(&repo, "v1.0.0", &PullOptions::new(out.path()), &op, &|_, _| {})?;
//!
//! assert_eq!(report.files.len(), 1);
//! assert_eq!(report.files[0].title, "NOTICE");
//! assert!(out.path().join("NOTICE").is_file());
//! # Ok(())
//! # }
//! ```
//!
//! # Threads and cancellation
//!
//! Every call blocks its thread; [`Repository`](registry::Repository) is
//! `Send + Sync` and cheap to clone, and [`pull::pull`] and [`sync::sync`]
//! run their own worker threads. [`Op::cancel`] (from any thread, or from
//! [`signal::on_interrupt`]) makes every call holding that `Op` return
//! [`Error::Cancelled`] promptly, and a cancelled pull or sync leaves the
//! previous files as they were.
#![deny(missing_docs)]
// `unsafe` lives only in `ffi`, the seam to the Go archive.
#![deny(unsafe_code)]

pub(crate) mod atomic;
pub mod attestation;
pub(crate) mod cache;
pub mod config;
pub(crate) mod config_error;
pub mod digest;
pub mod error;
pub(crate) mod extract;
pub(crate) mod fetch;
#[allow(unsafe_code)]
pub(crate) mod ffi;
pub(crate) mod filter;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod goyaml;
pub(crate) mod http;
pub mod lock;
pub mod mirrors;
pub mod oci;
pub mod outdated;
pub mod pull;
pub mod redact;
pub mod reference;
pub mod registry;
pub(crate) mod relpath;
pub(crate) mod resolve;
pub(crate) mod semver_range;
pub(crate) mod stage;
pub mod sync;
pub mod verify;
pub(crate) mod workers;

pub use error::{Error, Result};
pub use extract::Limits;
pub use ffi::signal;
pub use ffi::Op;
