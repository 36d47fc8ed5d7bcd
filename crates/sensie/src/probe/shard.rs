//! `--shard K/N`: one of N contiguous slices of a run's examples, so that
//! N processes (a Slurm job array, Dask workers) share one run and
//! `sensie merge` joins their scores into the results one process would
//! have written.
//!
//! Slices are cut between batches: shard K gets batches `K * B / N` to
//! `(K + 1) * B / N` of the run's B batches. Every batch a shard runs is
//! then the very batch the unsharded run would have run (the same examples,
//! the same padding of a fixed-size model's last batch), so the model's
//! outputs, and every number after them, are the same bit for bit.
//!
//! A run of fewer batches than shards (a Slurm array sized for the
//! cluster, a small test set at the default batch size) leaves some
//! shards empty: they measure nothing and write a part that says so, which
//! `sensie merge` requires like any other, so the job array's size never
//! depends on the data's.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Shard `index` of `count` (from 0), written `K/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shard {
    /// Which shard, from 0.
    pub index: usize,
    /// How many shards the run is cut into.
    pub count: usize,
}

impl Shard {
    /// Reads `K/N` with 0 <= K < N.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = |why: &str| Error::invalid(format!("shard '{text}'"), why.to_string());
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 0/4 for the first of four shards"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad("K and N are whole numbers, e.g. 0/4"))
        };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 || index >= count {
            return Err(bad("K counts from 0 and must be below N (0/4 to 3/4)"));
        }
        Ok(Shard { index, count })
    }

    /// The examples of this shard among `examples`, run in batches of
    /// `batch`; empty when the run has fewer batches than shards.
    pub fn slice(self, examples: usize, batch: usize) -> Range<usize> {
        let batch = batch.max(1);
        let batches = examples.div_ceil(batch);
        let first = self.index * batches / self.count;
        let last = (self.index + 1) * batches / self.count;
        first * batch..(last * batch).min(examples)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl TryFrom<String> for Shard {
    type Error = Error;

    fn try_from(text: String) -> Result<Shard> {
        Shard::parse(&text)
    }
}

impl From<Shard> for String {
    fn from(shard: Shard) -> String {
        shard.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_every_example_once_and_end_on_batch_boundaries() {
        for (examples, batch, count) in [(100, 7, 3), (10, 3, 4), (64, 32, 2), (5, 1, 5)] {
            let mut next = 0;
            for index in 0..count {
                let slice = Shard { index, count }.slice(examples, batch);
                assert_eq!(slice.start, next);
                assert!(slice.start.is_multiple_of(batch) && !slice.is_empty());
                next = slice.end;
            }
            assert_eq!(next, examples);
        }
    }

    #[test]
    fn shards_beyond_the_runs_batches_are_empty_and_the_rest_still_cover_it() {
        // 10 examples in one batch of 32, cut into 3: two empty shards.
        let slices: Vec<_> = (0..3)
            .map(|index| Shard { index, count: 3 }.slice(10, 32))
            .collect();
        assert_eq!(slices, [0..0, 0..0, 0..10]);
        // 5 batches of 2 among 7 shards: each batch in exactly one shard.
        let slices: Vec<_> = (0..7)
            .map(|index| Shard { index, count: 7 }.slice(9, 2))
            .collect();
        assert_eq!(slices.iter().filter(|s| s.is_empty()).count(), 2);
        assert_eq!(slices.iter().map(|s| s.len()).sum::<usize>(), 9);
        assert!(slices.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn bad_shards_are_refused_with_the_reason() {
        for (text, why) in [("3", "K/N"), ("4/4", "below N"), ("a/2", "whole")] {
            let err = Shard::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
