//! Layer extraction: safe-by-construction file operations ([`root`]) and a
//! streaming tar extractor ([`archive`]) on top of them.

pub mod archive;
pub mod download;
pub mod image;
pub mod layer;
mod overlap;
pub(crate) mod ratio;
pub mod root;

pub(crate) use archive::ExtractError;
pub use archive::{Limits, Modes, Options, Report};
pub use root::{RelPath, Root};
