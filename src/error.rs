//! The library's error type.

use std::path::PathBuf;

pub use crate::ffi::{ErrorKind, ShimError};

/// Everything that can go wrong in vendoras' library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry or OCI layout said no (from oras-go, via the shim).
    #[error("{context}: {source}")]
    Registry {
        /// What we were doing, e.g. `resolve localhost:5000/hello:v1`.
        context: String,
        /// The shim's error.
        #[source]
        source: ShimError,
    },
    /// Content did not match what its descriptor promised.
    #[error("{what}: {detail}")]
    Verify {
        /// The blob, e.g. `layer sha256:… (application/vnd.oci.image.layer.v1.tar)`.
        what: String,
        /// The mismatch.
        detail: String,
    },
    /// Local file system trouble.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The user asked for something that cannot be done (bad flag values,
    /// a refused title, a hostile archive entry, ...).
    #[error("{0}")]
    Refused(String),
    /// The operation was interrupted (Ctrl-C or SIGTERM).
    #[error("interrupted")]
    Cancelled,
}

impl Error {
    /// Wraps a shim error with what we were doing; cancellation stays
    /// recognisable.
    pub fn registry(context: impl Into<String>, source: ShimError) -> Error {
        if source.kind == ErrorKind::Cancelled {
            return Error::Cancelled;
        }
        Error::Registry {
            context: context.into(),
            source,
        }
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this error is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
