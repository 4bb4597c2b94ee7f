//! Decompressing on one thread while another unpacks: a compressed layer's
//! inflate (and the hashes over what it reads and yields) overlaps with
//! parsing the tar and writing its files, instead of taking turns with them
//! on one thread. On a large layer these are the two halves of the time.
//!
//! The decoder stays on the calling thread (it owns the stream from the
//! registry, the cache tee and the ratio [`Meter`](super::ratio::Meter),
//! none of which need to move); the unpacker runs on a scoped thread and
//! reads the decoded bytes through [`Decoded`]. At most [`IN_FLIGHT`] chunks
//! of [`CHUNK`] bytes wait between them, so memory stays bounded.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};

use super::archive::ExtractError;
use super::layer::read_error;

/// Bytes per hand-over.
const CHUNK: usize = 256 * 1024;
/// Chunks queued between the threads (2 MiB).
const IN_FLIGHT: usize = 8;

enum Msg {
    Data(Vec<u8>),
    /// The decoder reached its end.
    End,
    /// The decoder failed: the unpacker sees the error where it was
    /// reading, so its answer names the entry it was writing.
    Failed(io::Error),
}

/// Reads `decoded` to its end on this thread while `unpack` consumes the
/// same bytes on another. `unpack` must read to the end (or fail): the
/// decoder is read to the end either way, so the compressed stream is
/// consumed and hashed whole. A read error of `decoded` reaches `unpack`
/// as its own read error, so the answer is what it would be on one thread.
pub(crate) fn overlapped<T: Send>(
    decoded: &mut dyn Read,
    unpack: impl FnOnce(&mut Decoded) -> Result<T, ExtractError> + Send,
) -> Result<T, ExtractError> {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    // Spent buffers come back for reuse; the unpacker never waits on this.
    let (spent_tx, spent_rx) = sync_channel(IN_FLIGHT + 2);
    std::thread::scope(|s| {
        let unpacker = s.spawn(move || {
            let mut reader = Decoded {
                rx,
                spent: spent_tx,
                current: Vec::new(),
                pos: 0,
                ended: false,
                failed: false,
            };
            unpack(&mut reader)
        });
        let produced = produce(decoded, &tx, &spent_rx);
        drop(tx);
        let unpacked = unpacker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        match (produced, unpacked) {
            // An unpacker that swallowed the read error does not hide it.
            (Err(Stop::Read(e)), Ok(_)) => Err(read_error(&e)),
            // Finished, or stopped: the unpacker's answer says why.
            (_, unpacked) => unpacked,
        }
    })
}

enum Stop {
    Read(io::Error),
    HungUp,
}

fn produce(
    decoded: &mut dyn Read,
    tx: &SyncSender<Msg>,
    spent: &Receiver<Vec<u8>>,
) -> Result<(), Stop> {
    loop {
        let mut buf = match spent.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(CHUNK),
        };
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        while filled < CHUNK {
            match decoded.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // What came before the error first, so the unpacker
                    // fails where a single thread would have.
                    if filled > 0 {
                        buf.truncate(filled);
                        tx.send(Msg::Data(buf)).map_err(|_| Stop::HungUp)?;
                    }
                    let copy = io::Error::new(e.kind(), e.to_string());
                    let _ = tx.send(Msg::Failed(e));
                    return Err(Stop::Read(copy));
                }
            }
        }
        if filled == 0 {
            return tx.send(Msg::End).map_err(|_| Stop::HungUp);
        }
        buf.truncate(filled);
        tx.send(Msg::Data(buf)).map_err(|_| Stop::HungUp)?;
    }
}

/// The decoded bytes, as the unpacking thread reads them.
pub(crate) struct Decoded {
    rx: Receiver<Msg>,
    spent: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    ended: bool,
    failed: bool,
}

impl Read for Decoded {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.failed {
                return Err(io::Error::other("the decompressed stream failed"));
            }
            if self.ended || out.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(next)) => {
                    let done = std::mem::replace(&mut self.current, next);
                    self.pos = 0;
                    let _ = self.spent.try_send(done);
                }
                Ok(Msg::End) => {
                    self.ended = true;
                    return Ok(0);
                }
                Ok(Msg::Failed(e)) => {
                    self.ended = true;
                    self.failed = true;
                    return Err(e);
                }
                Err(_) => return Err(io::Error::other("the decompressed stream failed")),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `data` in uneven pieces, then fails when `fail` is set.
    struct Uneven<'a> {
        data: &'a [u8],
        fail: bool,
    }

    impl Read for Uneven<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return if self.fail {
                    Err(io::Error::other("connection reset"))
                } else {
                    Ok(0)
                };
            }
            let n = out.len().min(self.data.len()).min(77_777);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn the_unpacker_reads_every_byte_in_order() {
        for len in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            CHUNK * IN_FLIGHT * 3 + 12_345,
        ] {
            let data = sample(len);
            let mut src = Uneven {
                data: &data,
                fail: false,
            };
            let got = overlapped(&mut src, |r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).map_err(|e| read_error(&e))?;
                Ok(v)
            })
            .unwrap();
            assert!(got == data, "{len} bytes");
        }
    }

    #[test]
    fn a_read_error_reaches_the_unpacker_and_is_not_lost() {
        let data = sample(CHUNK * 3);
        let mut src = Uneven {
            data: &data,
            fail: true,
        };
        let err = overlapped(&mut src, |r| {
            io::copy(r, &mut io::sink()).map_err(|e| ExtractError {
                entry: "big.bin".into(),
                reason: e.to_string(),
            })
        })
        .unwrap_err();
        assert_eq!(
            (err.entry.as_str(), err.reason.as_str()),
            ("big.bin", "connection reset")
        );

        // Every byte read before the error reaches the unpacker first, also
        // those of a chunk the error cut short.
        let data = sample(CHUNK * 2 + 1000);
        let mut src = Uneven {
            data: &data,
            fail: true,
        };
        let err = overlapped(&mut src, |r| {
            let mut got = Vec::new();
            let e = r.read_to_end(&mut got).unwrap_err();
            Err::<(), _>(ExtractError {
                entry: got.len().to_string(),
                reason: e.to_string(),
            })
        })
        .unwrap_err();
        assert_eq!(err.entry, data.len().to_string());

        // An unpacker that ignores the error still fails the layer.
        let mut src = Uneven {
            data: &data,
            fail: true,
        };
        let err = overlapped(&mut src, |r| {
            let _ = io::copy(r, &mut io::sink());
            Ok(())
        })
        .unwrap_err();
        assert!(err.reason.contains("connection reset"), "{}", err.reason);
    }

    #[test]
    fn an_unpacker_that_stops_early_stops_the_decoder() {
        let data = sample(CHUNK * IN_FLIGHT * 10);
        let mut src = Uneven {
            data: &data,
            fail: false,
        };
        let err = overlapped(&mut src, |r| -> Result<(), ExtractError> {
            let mut first = [0u8; 10];
            r.read_exact(&mut first).unwrap();
            Err(ExtractError {
                entry: "evil".into(),
                reason: "outside of the root".into(),
            })
        })
        .unwrap_err();
        assert_eq!(err.reason, "outside of the root");
        // The decoder stopped once the unpacker hung up, well before the end.
        assert!(
            src.data.len() > CHUNK * IN_FLIGHT * 5,
            "{} left",
            src.data.len()
        );
    }
}
