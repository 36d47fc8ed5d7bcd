//! How a sweep shares the machine's cores between ONNX Runtime and the
//! producer that perturbs the next batch.
//!
//! ONNX Runtime's intra-op threads spin between operators by default, which
//! is the fastest when the model has the machine to itself; in a sweep the
//! producer perturbs on the same cores at the same time, and spinning threads
//! held the cores it needed (a 19-angle MNIST rotation took 0.71 s with every
//! thread on both of two cores, 0.35 s with one ONNX Runtime thread). So a
//! sweep gives ONNX Runtime every core without spinning (a waiting thread
//! sleeps and hands its core to the producer) and the producer a quarter of
//! the cores, at least one: perturbing a batch costs a small part of running
//! the model on it (measured in docs/design.md, "Sweep speed").

use std::ops::Deref;
use std::sync::{Mutex, MutexGuard, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::engine::{Engine, EngineOptions};
use crate::model::Model;
use crate::runtime::Runtime;
use crate::{Error, Result};

/// The threads of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadBudget {
    /// ONNX Runtime's threads inside one operator.
    pub model: usize,
    /// Whether they spin while they wait for work.
    pub spinning: bool,
    /// The producer's perturbation threads.
    pub producer: usize,
}

impl ThreadBudget {
    /// The budget on this machine (the cores this process may use) for
    /// `--threads` = `threads` (0: choose).
    pub fn new(threads: usize) -> ThreadBudget {
        // Asking costs a few file reads (cgroup quotas) each time, a
        // noticeable part of a single-image probe call: once per process.
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        ThreadBudget::for_cores(cores, threads)
    }

    /// The budget on `cores` cores; `threads` > 0 sets ONNX Runtime's threads.
    pub fn for_cores(cores: usize, threads: usize) -> ThreadBudget {
        let cores = cores.max(1);
        ThreadBudget {
            model: if threads > 0 { threads } else { cores },
            spinning: false,
            producer: cores.div_ceil(4),
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

/// An engine for sweeps, its ONNX Runtime threads set by the
/// [`ThreadBudget`] for `threads` (`--threads`, 0: choose).
pub fn sweep_engine(model: Model, batch_size: usize, threads: usize) -> Result<Engine> {
    let budget = ThreadBudget::new(threads);
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
    fn onnx_runtime_gets_every_core_without_spinning_and_the_producer_a_quarter() {
        assert_eq!(
            ThreadBudget::for_cores(2, 0),
            ThreadBudget {
                model: 2,
                spinning: false,
                producer: 1
            }
        );
        assert_eq!(
            ThreadBudget::for_cores(16, 0),
            ThreadBudget {
                model: 16,
                spinning: false,
                producer: 4
            }
        );
        assert_eq!(
            ThreadBudget::for_cores(0, 0),
            ThreadBudget {
                model: 1,
                spinning: false,
                producer: 1
            }
        );
        // --threads sets ONNX Runtime's threads and leaves the producer's.
        assert_eq!(
            ThreadBudget::for_cores(8, 3),
            ThreadBudget {
                model: 3,
                spinning: false,
                producer: 2
            }
        );
    }
}
