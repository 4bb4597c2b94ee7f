//! vendoras vendors OCI artifacts into a directory tree, vendir-style.
//!
//! Registry I/O and signature checks are oras-go (and sigstore) code in a Go
//! c-archive (`go/`, ABI in `docs/ffi.md`), reached only through [`ffi`];
//! [`registry`] is the safe, typed API over it. Everything that touches the
//! user's disk is Rust: [`extract`] (confined, streaming) and [`pull`]
//! (`oras pull` parity).

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(unnameable_types)]

pub(crate) mod cache;
pub mod config;
pub mod digest;
pub mod error;
pub(crate) mod extract;
pub(crate) mod fetch;
#[allow(unsafe_code)]
pub(crate) mod ffi;
pub(crate) mod filter;
pub(crate) mod http;
pub mod lock;
pub mod oci;
pub mod pull;
pub mod reference;
pub mod registry;
pub(crate) mod relpath;
pub(crate) mod resolve;
pub(crate) mod stage;
pub mod sync;
pub mod verify;
pub(crate) mod workers;

pub use error::{Error, Result};
pub use extract::Limits;
pub use ffi::signal;
pub use ffi::Op;
