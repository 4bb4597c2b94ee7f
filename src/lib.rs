//! vendoras vendors OCI artifacts into a directory tree, vendir-style.
//!
//! Registry I/O and signature checks are oras-go (and sigstore) code in a Go
//! c-archive (`go/`, ABI in `docs/ffi.md`), reached only through [`ffi`];
//! [`registry`] is the safe, typed API over it. Everything that touches the
//! user's disk is Rust: [`extract`] (confined, streaming) and [`pull`]
//! (`oras pull` parity).

#![deny(missing_docs)]

pub mod cache;
pub mod config;
pub mod digest;
pub mod error;
pub mod extract;
pub mod fetch;
pub mod ffi;
pub mod filter;
pub mod http;
pub mod lock;
pub mod oci;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod relpath;
pub mod resolve;
pub mod stage;
pub mod sync;
pub mod verify;
pub mod workers;

pub use error::{Error, Result};
