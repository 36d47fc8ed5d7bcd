//! Ctrl-C during a long run: what `sensie.explain`,
//! `sensie.visualize.maximize` and `sensie.visualize.dream` share.
//!
//! A Ctrl-C reaches Python as SIGINT, and Python only notes it: its handler,
//! which raises `KeyboardInterrupt`, runs on the main thread when that thread
//! next runs Python code or asks ([`Python::check_signals`]). A run in Rust
//! with the GIL released never does, so without this the interrupt waited for
//! the whole run (a 40 s maximisation ran to its end), and then surfaced
//! wherever Python code next ran: inside rust-numpy's first use of NumPy's C
//! API it became a `PanicException`. [`interruptible`] keeps the calling
//! (main) thread listening while the run works on a thread of its own, and
//! stops the run through the flag its [`sensie::engine::Engine`] watches
//! ([`sensie::engine::Engine::stop_when`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use pyo3::prelude::*;

/// How often the calling thread asks Python about signals while a run
/// works: a Ctrl-C is heard within this, and the run stops after the batch
/// (a forward or gradient pass) in hand.
const POLL: Duration = Duration::from_millis(50);

/// Runs `work` on a scoped thread with the GIL released while this thread
/// checks for signals every [`POLL`]; on the first one's exception (a
/// `KeyboardInterrupt` for Ctrl-C) it sets `stop`, which `work` must watch
/// (its engine's [`stop_when`](sensie::engine::Engine::stop_when), or
/// `Settings::stop` of an explanation), waits for `work` to return and
/// gives back that exception in place of its result. A signal that comes as
/// `work` finishes is raised too, here, before the caller turns the result
/// into NumPy arrays, so Python code that runs there cannot meet it.
///
/// This thread holds the GIL only for each check, so `work`'s progress
/// callbacks can take it ([`Python::attach`]) from the worker thread. A panic
/// in `work` is a bug in sensie and goes on as a panic, which pyo3 raises as
/// `PanicException`; `work` reports everything else in `R`.
pub fn interruptible<R: Send>(
    py: Python<'_>,
    stop: &AtomicBool,
    work: impl FnOnce() -> R + Send,
) -> PyResult<R> {
    let mut interrupted = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            // The sender goes with `work`, so the channel closes when it
            // returns or panics: nothing is ever sent.
            let (finishing, finished) = channel::<()>();
            let worker = scope.spawn(move || {
                let _finishing = finishing;
                work()
            });
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(POLL) {
                if let Err(e) = Python::attach(|py| py.check_signals()) {
                    interrupted.get_or_insert(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    });
    match interrupted {
        Some(e) => Err(e),
        None => py.check_signals().map(|()| outcome),
    }
}
