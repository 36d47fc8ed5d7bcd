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

use std::sync::{Arc, Mutex, OnceLock};

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

/// The producer's rayon pool of `threads` threads: made on first use and
/// kept for the process, as rayon keeps its global pool, because starting
/// threads for every run was a large part of a single-image probe call.
pub(super) fn producer_pool(threads: usize) -> Result<Arc<ThreadPool>> {
    static POOLS: Mutex<Vec<Arc<ThreadPool>>> = Mutex::new(Vec::new());
    let mut pools = POOLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = pools.iter().find(|p| p.current_num_threads() == threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("sensie-producer-{i}"))
            .build()
            .map_err(|e| Error::runtime("starting the perturbation threads", e))?,
    );
    pools.push(Arc::clone(&pool));
    Ok(pool)
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
