//! How a sweep shares the machine's cores between ONNX Runtime and the
//! perturbations of the next batch.
//!
//! The two take turns, each with every core: the pool perturbs a batch on
//! all of them, then ONNX Runtime runs it on all of them, its threads
//! spinning inside the run (the fast hand-off from one operator to the next)
//! and sleeping once it returns. Overlapping the two instead (a producer
//! perturbing the next batch while the model runs) made them fight for the
//! same cores: spinning model threads held the cores the producer needed,
//! and sleeping ones made every small forward pass slower (measured in
//! docs/design.md, "Sweep speed"). Both stages divide their work evenly over
//! the cores, so taking turns loses nothing a pipeline would have won.
//!
//! A perturbation that cannot divide a batch's work (a Python function,
//! which holds the interpreter's lock) would leave all cores but one idle in
//! its turn; with one of those in the plan the producer perturbs the next
//! batch on a thread of its own while the model runs, and ONNX Runtime's
//! threads sleep instead of spinning so that thread gets a core.

use std::ops::Deref;
use std::sync::{Mutex, MutexGuard, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::engine::{Engine, EngineOptions};
use crate::model::Model;
use crate::runtime::{Runtime, Spinning};
use crate::{Error, Result};

/// The threads of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadBudget {
    /// ONNX Runtime's threads inside one operator.
    pub model: usize,
    /// When they spin while they wait for work.
    pub spinning: Spinning,
    /// The threads that perturb a batch.
    pub producer: usize,
    /// Whether perturbing and running the model take turns (true) or the
    /// next batch is perturbed while the model runs the current one.
    pub turns: bool,
}

impl ThreadBudget {
    /// The budget on this machine (the cores this process may use) for
    /// `--threads` = `threads` (0: choose); `parallel`: whether the run's
    /// batches are work to divide over threads (more than one image, and
    /// every perturbation [`crate::perturb::Perturbation::parallel`]).
    pub fn new(threads: usize, parallel: bool) -> ThreadBudget {
        // Asking costs a few file reads (cgroup quotas) each time, a
        // noticeable part of a single-image probe call: once per process.
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        ThreadBudget::for_cores(cores, threads, parallel)
    }

    /// The budget on `cores` cores; `threads` > 0 caps both stages at that
    /// many threads instead.
    pub fn for_cores(cores: usize, threads: usize, parallel: bool) -> ThreadBudget {
        let threads = if threads > 0 { threads } else { cores.max(1) };
        if parallel {
            ThreadBudget {
                model: threads,
                spinning: Spinning::DuringRuns,
                producer: threads,
                turns: true,
            }
        } else {
            ThreadBudget {
                model: threads,
                spinning: Spinning::Never,
                producer: 1,
                turns: false,
            }
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
pub fn sweep_engine(model: Model, batch_size: usize, budget: ThreadBudget) -> Result<Engine> {
    Engine::with_spinning(
        Runtime::new()?,
        model,
        EngineOptions {
            batch_size,
            threads: budget.model,
        },
        budget.spinning,
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
    fn both_stages_get_every_core_in_turns_and_threads_caps_them() {
        let turns = |model, producer| ThreadBudget {
            model,
            spinning: Spinning::DuringRuns,
            producer,
            turns: true,
        };
        assert_eq!(ThreadBudget::for_cores(2, 0, true), turns(2, 2));
        assert_eq!(ThreadBudget::for_cores(16, 0, true), turns(16, 16));
        assert_eq!(ThreadBudget::for_cores(0, 0, true), turns(1, 1));
        // --threads sets both: a run asked to use 3 threads uses 3.
        assert_eq!(ThreadBudget::for_cores(8, 3, true), turns(3, 3));
    }

    #[test]
    fn a_perturbation_that_cannot_divide_its_work_runs_beside_sleeping_model_threads() {
        assert_eq!(
            ThreadBudget::for_cores(4, 0, false),
            ThreadBudget {
                model: 4,
                spinning: Spinning::Never,
                producer: 1,
                turns: false,
            }
        );
    }
}
