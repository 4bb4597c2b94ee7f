//! The expansion-ratio guard: a compressed layer or archive that expands
//! past [`Limits::ratio_floor`] bytes at more than [`Limits::max_ratio`]
//! bytes per compressed byte is refused while it is being decompressed.
//!
//! [`Counted`] sits under the decoder and counts compressed bytes;
//! [`Guarded`] sits over it and counts what comes out. Both share one
//! [`Meter`], which remembers the ratio that tripped so the caller can turn
//! the I/O error the readers return into a refusal that explains itself.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use super::archive::{ExtractError, Limits};

/// The counts shared by a [`Counted`] and a [`Guarded`] reader.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meter(Rc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    compressed: Cell<u64>,
    /// `(expanded, compressed)` when the ratio was exceeded.
    tripped: Cell<Option<(u64, u64)>>,
}

impl Meter {
    /// `err` as a ratio refusal when this meter tripped, else unchanged.
    pub(crate) fn explain(&self, err: ExtractError, limits: &Limits) -> ExtractError {
        match self.0.tripped.get() {
            Some((expanded, compressed)) => ExtractError {
                entry: err.entry,
                reason: ratio_reason(expanded, compressed, limits),
            },
            None => err,
        }
    }
}

/// Why an archive was refused for its expansion ratio.
pub(crate) fn ratio_reason(expanded: u64, compressed: u64, limits: &Limits) -> String {
    format!(
        "expands {}:1 ({expanded} bytes from {compressed} compressed bytes so far), beyond the \
         {}:1 allowed once past {} bytes: a decompression bomb? raise --max-expansion-ratio if \
         this archive is trusted",
        expanded / compressed.max(1),
        limits.max_ratio,
        limits.ratio_floor
    )
}

/// Whether `expanded` bytes out of `compressed` break `limits`' ratio.
pub(crate) fn exceeds(expanded: u64, compressed: u64, limits: &Limits) -> bool {
    limits.max_ratio != 0
        && expanded > limits.ratio_floor
        && expanded > compressed.saturating_mul(limits.max_ratio)
}

/// Counts the compressed bytes a decoder reads.
pub(crate) struct Counted<R> {
    inner: R,
    meter: Meter,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R, meter: &Meter) -> Counted<R> {
        Counted {
            inner,
            meter: meter.clone(),
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let c = &self.meter.0.compressed;
        c.set(c.get() + n as u64);
        Ok(n)
    }
}

/// Counts the bytes a decoder yields and fails once the ratio is broken.
pub(crate) struct Guarded<R> {
    inner: R,
    meter: Meter,
    expanded: u64,
    limits: Limits,
}

impl<R> Guarded<R> {
    pub(crate) fn new(inner: R, meter: &Meter, limits: &Limits) -> Guarded<R> {
        Guarded {
            inner,
            meter: meter.clone(),
            expanded: 0,
            limits: *limits,
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let bomb = || io::Error::other("decompression bomb: expansion ratio exceeded");
        if self.meter.0.tripped.get().is_some() {
            return Err(bomb());
        }
        let n = self.inner.read(buf)?;
        self.expanded += n as u64;
        let compressed = self.meter.0.compressed.get();
        if exceeds(self.expanded, compressed, &self.limits) {
            self.meter.0.tripped.set(Some((self.expanded, compressed)));
            return Err(bomb());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_counts_only_past_the_floor() {
        let limits = Limits {
            max_ratio: 10,
            ratio_floor: 100,
            ..Limits::default()
        };
        assert!(!exceeds(100, 1, &limits), "at the floor");
        assert!(exceeds(101, 10, &limits));
        assert!(!exceeds(101, 11, &limits));
        let off = Limits {
            max_ratio: 0,
            ..limits
        };
        assert!(!exceeds(u64::MAX, 1, &off));
    }

    #[test]
    fn a_guarded_reader_trips_and_the_meter_explains() {
        let limits = Limits {
            max_ratio: 4,
            ratio_floor: 1000,
            ..Limits::default()
        };
        let meter = Meter::default();
        // 100 "compressed" bytes standing for 10,000 expanded ones.
        let mut counted = Counted::new(&[7u8; 100][..], &meter);
        io::copy(&mut counted, &mut io::sink()).unwrap();
        let mut guarded = Guarded::new(io::repeat(0).take(10_000), &meter, &limits);
        let err = io::copy(&mut guarded, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("bomb"), "{err}");
        let e = meter.explain(
            ExtractError {
                entry: "big.bin".into(),
                reason: err.to_string(),
            },
            &limits,
        );
        assert_eq!(e.entry, "big.bin");
        assert!(
            e.reason
                .contains("beyond the 4:1 allowed once past 1000 bytes")
                && e.reason.contains("--max-expansion-ratio"),
            "{e}"
        );
    }
}
