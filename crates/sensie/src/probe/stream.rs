//! How a run's batches flow from the data through the perturbations and the
//! model to the scores.
//!
//! An ONNX engine gives the run one forward session per worker
//! ([`ThreadBudget::workers`]): each worker takes the next batch, perturbs it
//! on its own thread and runs it through its own session, so perturbing one
//! batch overlaps the model's work on another with no hand-off between them,
//! and small forward passes do not pay for dividing every operator among the
//! cores. A predictor that runs one batch at a time (a Python function) gets
//! a producer instead, perturbing the next batch while the model runs this
//! one. Either way the calling thread scores the batches in the order of the
//! jobs, so checkpoints, progress and the first error are those of a run in
//! order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use ndarray::{Array2, Array4, Axis, s};

use super::resume::Checkpoint;
use super::threads::{ProducerPool, ThreadBudget};
use super::{Input, Job, Measured, Metric, Pass, Prepared, Unit, non_finite_score, test_file};
use crate::model::OutputKind;
use crate::predictor::{Forward, Predictor};
use crate::{Error, Result};

/// A batch run: the model's outputs and the report's images it holds
/// ([`Prepared::shown`]).
type Ran = (Array2<f32>, Option<Array4<f32>>);

/// Runs the jobs and scores every example: on the predictor's workers when
/// it has more than one (an engine made by [`super::sweep_engine`]), else
/// with a producer one batch ahead of the model on `budget.producer` threads.
#[allow(clippy::too_many_arguments)]
pub(super) fn stream(
    engine: &mut dyn Predictor,
    pass: &Pass,
    jobs: &[Job],
    budget: ThreadBudget,
    measured: &mut Measured,
    first: usize,
    saving: Option<(&Checkpoint, &[Unit])>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    let kind = engine.info().output_kind;
    let mut scorer = Scorer {
        pass,
        jobs,
        measured,
        first,
        saving,
        progress,
        kind,
        metric: None,
    };
    let workers = engine.forwards();
    if workers.len() > 1 && jobs.len() > 1 {
        return spread(workers, pass, jobs, &mut scorer);
    }
    drop(workers);
    produce(engine, pass, jobs, budget.producer, &mut scorer)
}

/// Each worker takes the next job, prepares it and runs it on its own
/// forward session; the calling thread scores the results in job order.
fn spread(
    workers: Vec<Box<dyn Forward + '_>>,
    pass: &Pass,
    jobs: &[Job],
    scorer: &mut Scorer,
) -> Result<()> {
    // The workers are the threads of one pool, kept between runs (starting
    // threads was a visible part of a single-image probe). A perturbation
    // that divides its batch over the pool (the built-ins do) runs on its
    // worker's thread: the others are busy with batches of their own and
    // take no share of it until they run out of jobs.
    let pool = ProducerPool::take(workers.len())?;
    let next = AtomicUsize::new(0);
    let halt = AtomicBool::new(false);
    pool.in_place_scope(|scope| -> Result<()> {
        let (tx, rx) = channel::<(usize, Result<Ran>)>();
        for mut worker in workers {
            let (tx, next, halt) = (tx.clone(), &next, &halt);
            scope.spawn(move |_| {
                let mut spare = Vec::new();
                // A job taken is always finished and sent, so every job
                // before a failed one reaches the scorer.
                while !halt.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    let ran = pass.prepare(job, &mut spare).and_then(|(input, shown)| {
                        let outputs = match &input {
                            Input::Borrowed(view) => worker.predict(view.view().into_dyn()),
                            Input::Owned(batch) => worker.predict(batch.view().into_dyn()),
                        }?;
                        if let Input::Owned(batch) = input {
                            spare.push(batch);
                        }
                        Ok((outputs, shown))
                    });
                    let failed = ran.is_err();
                    if tx.send((index, ran)).is_err() || failed {
                        halt.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut arrived = BTreeMap::new();
        let mut scored = 0;
        let outcome = rx.iter().try_for_each(|(index, ran)| {
            arrived.insert(index, ran);
            while let Some(ran) = arrived.remove(&scored) {
                let (outputs, shown) = ran?;
                scorer.take(scored, outputs, shown)?;
                scored += 1;
            }
            Ok(())
        });
        // The workers finish the batches in hand and stop.
        halt.store(true, Ordering::Relaxed);
        outcome?;
        if scored < jobs.len() {
            return Err(Error::runtime(
                "running the sweep",
                "a worker thread stopped before its batch was done",
            ));
        }
        Ok(())
    })
}

/// The producer perturbs on `threads` threads of its own pool, one batch
/// ahead of the model, which runs here; the batches it filled come back to
/// it once the model has run them, so a sweep allocates a few batches, not
/// one per job.
fn produce(
    engine: &mut dyn Predictor,
    pass: &Pass,
    jobs: &[Job],
    threads: usize,
    scorer: &mut Scorer,
) -> Result<()> {
    let pool = ProducerPool::take(threads)?;
    pool.in_place_scope(|scope| -> Result<()> {
        let (tx, rx) = sync_channel::<Result<Prepared>>(2);
        let (spare_tx, spare_rx) = channel::<Array4<f32>>();
        scope.spawn(move |_| {
            let mut spare = Vec::new();
            for (index, job) in jobs.iter().enumerate() {
                spare.extend(spare_rx.try_iter());
                let prepared = pass
                    .prepare(job, &mut spare)
                    .map(|(input, shown)| Prepared {
                        job: index,
                        input,
                        shown,
                    });
                let failed = prepared.is_err();
                if tx.send(prepared).is_err() || failed {
                    break;
                }
            }
        });
        for message in rx {
            let Prepared { job, input, shown } = message?;
            let outputs = match &input {
                Input::Borrowed(view) => engine.predict(view.view().into_dyn())?,
                Input::Owned(batch) => engine.predict(batch.view().into_dyn())?,
            };
            if let Input::Owned(batch) = input {
                // The producer may have finished: then the buffer is just dropped.
                let _ = spare_tx.send(batch);
            }
            scorer.take(job, outputs, shown)?;
        }
        Ok(())
    })
}

/// Scores the batches of a run, in job order.
struct Scorer<'s, 'a> {
    pass: &'s Pass<'a>,
    jobs: &'s [Job],
    measured: &'s mut Measured,
    first: usize,
    saving: Option<(&'s Checkpoint, &'s [Unit])>,
    progress: &'s mut dyn FnMut(usize, usize),
    kind: OutputKind,
    /// Made from the first batch's outputs, which also checks their width.
    metric: Option<Metric>,
}

impl Scorer<'_, '_> {
    /// Scores job `index` from the model's `outputs`, keeps the report's
    /// images, saves a unit the job completes, and reports progress. Ends
    /// the run with [`Error::Cancelled`] once the stop flag is set.
    fn take(
        &mut self,
        index: usize,
        outputs: Array2<f32>,
        shown: Option<Array4<f32>>,
    ) -> Result<()> {
        let (pass, first) = (self.pass, self.first);
        let data = pass.data;
        let job = self.jobs[index];
        if let (Some(images), Some((sweep, level))) = (shown, job.sweep) {
            let at = job.start - first;
            self.measured.shown[sweep][level]
                .slice_mut(s![at..at + images.len_of(Axis(0)), .., .., ..])
                .assign(&images);
        }
        let metric = match self.metric {
            Some(m) => m,
            None => {
                let m = Metric::new(&data.labels, data.task, self.kind, outputs.ncols(), &|i| {
                    data.example(i)
                })?;
                if let Metric::Classifier(_) = m {
                    // One output scores two classes (0 and 1).
                    data.check_classes(outputs.ncols().max(2))?;
                }
                self.measured.metric = m;
                *self.metric.insert(m)
            }
        };
        metric.check(outputs.view(), job.start)?;
        let (test, level) = match job.sweep {
            None => (None, 0),
            Some((sweep, level)) => (Some(sweep), level),
        };
        for (row, example) in outputs.axis_iter(Axis(0)).zip(job.start..job.end) {
            let scored = metric.score(row, &data.labels, example);
            if !scored.score.is_finite() {
                return Err(non_finite_score(pass, &job, example, scored.score));
            }
            self.measured.grid(test).set(example - first, level, scored);
        }
        if let (Some(unit), Some((checkpoint, units))) = (job.completes, self.saving) {
            let unit = &units[unit];
            checkpoint.save(
                &test_file(unit.test),
                unit.examples.start,
                self.measured.grid(unit.test),
                unit.examples.start - first..unit.examples.end - first,
            )?;
        }
        (self.progress)(index + 1, self.jobs.len());
        if pass.stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }
}
