//! Ctrl-C and SIGTERM handling that coexists with the Go runtime.
//!
//! The Go runtime in the linked archive may run a signal handler on any of
//! its threads; Go requires every non-Go handler to carry `SA_ONSTACK` so it
//! runs on the alternate signal stack rather than a small goroutine stack.
//! Crates such as `ctrlc` install handlers without it, so we install our own:
//! the handler only writes the signal number into a pipe (async-signal-safe),
//! and an ordinary thread reads it and calls the user's callback.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

/// Write end of the self-pipe, read by the handler (so a plain atomic int).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static INSTALLED: OnceLock<()> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        // A full pipe just drops the byte: one pending signal is enough.
        unsafe { libc::write(fd, &b as *const u8 as *const libc::c_void, 1) };
    }
}

/// Calls `callback(signal)` on a helper thread for every SIGINT or SIGTERM.
/// Installs the handlers once per process; later calls are ignored.
pub fn on_interrupt<F>(callback: F) -> std::io::Result<()>
where
    F: Fn(i32) + Send + 'static,
{
    let mut result = Ok(());
    INSTALLED.get_or_init(|| result = install(callback));
    result
}

fn install<F>(callback: F) -> std::io::Result<()>
where
    F: Fn(i32) + Send + 'static,
{
    let (read, write): (OwnedFd, OwnedFd) = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )?;
    // The reader blocks; only the handler's side must never block.
    rustix::fs::fcntl_setfl(&read, rustix::fs::OFlags::empty())?;
    PIPE_WRITE.store(write.as_raw_fd(), Ordering::Relaxed);
    std::mem::forget(write); // lives for the rest of the process

    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid starting value; we set the
        // handler, an empty mask and flags, then install it. `on_signal` is
        // async-signal-safe (one write(2)). SA_ONSTACK is required by Go.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }

    std::thread::Builder::new()
        .name("vendoras-signals".into())
        .spawn(move || {
            let mut file = std::fs::File::from(read);
            let mut byte = [0u8; 1];
            while let Ok(1) = file.read(&mut byte) {
                callback(byte[0] as i32);
            }
        })?;
    Ok(())
}
