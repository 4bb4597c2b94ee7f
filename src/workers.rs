//! A bounded pool of scoped threads for independent jobs (blob downloads,
//! content fetches). The first error stops new jobs from starting; a
//! cancellation outranks any other error, since it decides the exit code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Runs `job` on every item with at most `workers` threads; returns the
/// results in item order, or the first error (cancellation first).
pub fn run<T: Sync, R: Send>(
    workers: usize,
    items: &[T],
    job: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                if failure.lock().unwrap().is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                match job(item) {
                    Ok(r) => results.lock().unwrap()[i] = Some(r),
                    Err(e) => {
                        let mut f = failure.lock().unwrap();
                        if f.is_none() || e.is_cancelled() {
                            *f = Some(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order_and_errors_stop_the_pool() {
        let items: Vec<u32> = (0..50).collect();
        assert_eq!(
            run(3, &items, |i| Ok(i * 2)).unwrap(),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        let err = run(3, &items, |i| {
            if *i == 7 {
                Err(Error::Usage("seven".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "seven");
        let err = run(2, &items, |i| match i {
            3 => Err(Error::Usage("x".into())),
            4 => Err(Error::Cancelled),
            _ => Ok(()),
        });
        assert!(err.is_err());
    }
}
