//! How a sweep shares the machine's cores between ONNX Runtime and the
//! perturbations.
//!
//! Workers, one per core: each perturbs a batch on its own thread and runs
//! it through an ONNX Runtime session of its own with one thread, so one
//! worker's perturbing overlaps another's forward pass and nothing waits for
//! a hand-off. Two earlier designs lost to this (measured in docs/design.md,
//! "Sweep speed"): a producer perturbing the next batch while every core ran
//! the model made the two fight for the cores (spinning model threads held
//! the cores the producer needed, sleeping ones slowed every small forward
//! pass), and taking turns, each stage with every core, paid a hand-off per
//! batch (0.2 to 0.3 ms) and ran every batch through ONNX Runtime's
//! many-thread state, which flips between fast and twice as slow from one
//! process to the next; one-thread sessions side by side do not.
//!
//! With at least twice [`MAX_WORKERS`] cores each worker's session gets
//! cores / [`MAX_WORKERS`] threads, rounded down (20 cores: 8 workers of 2
//! threads), spinning only inside a run. A predictor that runs one batch at a
//! time (a Python function) gets a producer instead, on `producer` threads
//! (one for a perturbation that cannot divide its work, such as a Python
//! function holding the interpreter's lock).

use std::ops::Deref;
use std::sync::{Mutex, MutexGuard, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::engine::{Engine, EngineOptions};
use crate::model::Model;
use crate::runtime::{Runtime, Spinning};
use crate::{Error, Result};

/// The most workers a sweep runs: each holds a session and a batch's
/// memory, so past this many cores the workers' sessions get more threads
/// instead of more workers.
pub const MAX_WORKERS: usize = 8;

/// The threads of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadBudget {
    /// Batches perturbed and run at the same time, each by a worker thread
    /// with an ONNX Runtime session of its own.
    pub workers: usize,
    /// ONNX Runtime's threads inside one operator, in each session.
    pub model: usize,
    /// When they spin while they wait for work.
    pub spinning: Spinning,
    /// For a predictor that runs one batch at a time: the threads that
    /// perturb the next batch while it runs the current one.
    pub producer: usize,
}

impl ThreadBudget {
    /// The budget on this machine (the cores this process may use) for
    /// `--threads` = `threads` (0: choose); `parallel`: whether the run's
    /// perturbations divide a batch's work over threads
    /// ([`crate::perturb::Perturbation::parallel`]).
    pub fn new(threads: usize, parallel: bool) -> ThreadBudget {
        // Asking costs a few file reads (cgroup quotas) each time, a
        // noticeable part of a single-image probe call: once per process.
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        ThreadBudget::for_cores(cores, threads, parallel)
    }

    /// The budget on `cores` cores; `threads` > 0 takes that many in their
    /// place: workers of whole, equal thread counts, so at most that many.
    pub fn for_cores(cores: usize, threads: usize, parallel: bool) -> ThreadBudget {
        let threads = if threads > 0 { threads } else { cores.max(1) };
        let workers = threads.min(MAX_WORKERS);
        let model = threads / workers;
        ThreadBudget {
            workers,
            model,
            spinning: if model > 1 {
                Spinning::DuringRuns
            } else {
                Spinning::Never
            },
            producer: if parallel { threads } else { 1 },
        }
    }
}

/// A producer's rayon pool of `threads` threads, lent to one run at a time:
/// starting threads for every run was a large part of a single-image probe
/// call, so a run takes an idle pool of its size when there is one and gives
/// it back when done. Runs at the same time (threads of a notebook) each get
/// a pool of their own, so one never waits behind another's perturbations.
pub(super) struct ProducerPool(Option<ThreadPool>);

/// Pools that no run holds now.
static IDLE_POOLS: Mutex<Vec<ThreadPool>> = Mutex::new(Vec::new());

fn idle_pools() -> MutexGuard<'static, Vec<ThreadPool>> {
    IDLE_POOLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ProducerPool {
    pub(super) fn take(threads: usize) -> Result<ProducerPool> {
        let idle = {
            let mut pools = idle_pools();
            let found = pools
                .iter()
                .position(|p| p.current_num_threads() == threads);
            found.map(|i| pools.swap_remove(i))
        };
        let pool = match idle {
            Some(pool) => pool,
            None => ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("sensie-producer-{i}"))
                .build()
                .map_err(|e| Error::runtime("starting the perturbation threads", e))?,
        };
        Ok(ProducerPool(Some(pool)))
    }
}

impl Deref for ProducerPool {
    type Target = ThreadPool;

    fn deref(&self) -> &ThreadPool {
        self.0.as_ref().expect("held until dropped")
    }
}

impl Drop for ProducerPool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            idle_pools().push(pool);
        }
    }
}

/// An engine for sweeps, its ONNX Runtime threads set by `budget`
/// ([`super::Plan::thread_budget`]).
/// Its workers' sessions ([`ThreadBudget::workers`]) are made now, with it.
pub fn sweep_engine(model: Model, batch_size: usize, budget: ThreadBudget) -> Result<Engine> {
    Engine::with_workers(
        Runtime::new()?,
        model,
        EngineOptions {
            batch_size,
            threads: budget.model,
        },
        budget.spinning,
        budget.workers,
    )
}

/// A sweep engine being made on a thread of its own while the caller reads
/// the data: loading ONNX Runtime and compiling the model took about a
/// fifth of a short sweep's fixed cost, on one core while the others idled.
/// (A first forward pass on zeros there as well, to warm ONNX Runtime's
/// memory, made the start slower: it is a whole batch of work, and it took
/// the cores the data's reading needed.)
///
/// Dropped unused (the data could not be read), it waits for the thread: a
/// process that exits while ONNX Runtime is still loading on another thread
/// can crash in its teardown instead of reporting the error.
pub(super) struct EngineStart(Option<std::thread::JoinHandle<Result<Engine>>>);

impl EngineStart {
    pub(super) fn spawn(model: Model, batch_size: usize, budget: ThreadBudget) -> EngineStart {
        EngineStart(Some(std::thread::spawn(move || {
            sweep_engine(model, batch_size, budget)
        })))
    }

    /// The engine, once made.
    pub(super) fn engine(mut self) -> Result<Engine> {
        let made = self.0.take().map(|thread| thread.join());
        match made {
            Some(Ok(engine)) => engine,
            _ => Err(Error::runtime(
                "starting ONNX Runtime",
                "the thread making the session stopped unexpectedly",
            )),
        }
    }
}

impl Drop for EngineStart {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_at_the_same_time_get_pools_of_their_own_and_give_them_back() {
        // 3 threads: a size no other test's run asks for.
        let threads = |pool: &ProducerPool| {
            let mut ids = pool.broadcast(|_| format!("{:?}", std::thread::current().id()));
            ids.sort();
            ids
        };
        let first = ProducerPool::take(3).unwrap();
        let second = ProducerPool::take(3).unwrap();
        let (a, b) = (threads(&first), threads(&second));
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|t| !b.contains(t)), "{a:?} {b:?}");
        drop(first);
        // The idle pool is lent again: its threads were kept, not restarted.
        let again = ProducerPool::take(3).unwrap();
        assert_eq!(threads(&again), a);
        drop(second);
    }

    #[test]
    fn a_worker_per_core_each_with_one_model_thread_and_threads_caps_them() {
        let budget = |workers, model, spinning, producer| ThreadBudget {
            workers,
            model,
            spinning,
            producer,
        };
        assert_eq!(
            ThreadBudget::for_cores(2, 0, true),
            budget(2, 1, Spinning::Never, 2)
        );
        assert_eq!(
            ThreadBudget::for_cores(0, 0, true),
            budget(1, 1, Spinning::Never, 1)
        );
        // Past MAX_WORKERS cores the sessions get more threads.
        assert_eq!(
            ThreadBudget::for_cores(32, 0, true),
            budget(8, 4, Spinning::DuringRuns, 32)
        );
        assert_eq!(
            ThreadBudget::for_cores(20, 0, true),
            budget(8, 2, Spinning::DuringRuns, 20)
        );
        // --threads sets the total: a run asked to use 3 threads uses 3.
        assert_eq!(
            ThreadBudget::for_cores(8, 3, true),
            budget(3, 1, Spinning::Never, 3)
        );
        // A perturbation that cannot divide its work gets one producer
        // thread (used where the predictor runs one batch at a time).
        assert_eq!(
            ThreadBudget::for_cores(4, 0, false),
            budget(4, 1, Spinning::Never, 1)
        );
    }
}
