//! A run's fingerprint: a hash of everything its numbers depend on, so that
//! `sensie merge` and `--resume` refuse scores of another run instead of
//! mixing them in. It covers the model file's bytes, the examples as loaded
//! (images, labels, positions, names, class names), the metadata file's
//! bytes, and every setting but where results go and how the work is split
//! (out, force, threads, shard, resume, chunk; the input paths, whose
//! contents are hashed instead, so parts may name them differently).
//!
//! The hash (64-bit, word by word, FxHash's multiply and rotate) catches
//! accidental mismatches; it is not meant to resist a forger.

use std::path::Path;

use super::ProbeConfig;
use crate::data::{Dataset, Labels};
use crate::{Error, Result};

/// A running 64-bit hash of words.
struct Hash(u64);

impl Hash {
    fn word(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
    }

    fn file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.bytes(&bytes);
        Ok(())
    }
}

/// The fingerprint of running `config` on `data`, as 16 hex digits.
pub fn fingerprint(config: &ProbeConfig, data: &Dataset) -> Result<String> {
    let mut hash = Hash(0);
    hash.bytes(b"sensie probe scores 1");
    hash.file(&config.model)?;
    let mut settings = config.clone();
    settings.model = Default::default();
    settings.out = Default::default();
    settings.force = false;
    settings.threads = 0;
    settings.shard = None;
    settings.resume = false;
    settings.chunk = 0;
    settings.data.path = Default::default();
    settings.data.labels = None;
    let metadata = settings.data.metadata.take();
    let text =
        serde_json::to_vec(&settings).map_err(|e| Error::invalid("probe config", e.to_string()))?;
    hash.bytes(&text);
    if let Some(path) = metadata {
        hash.file(&path)?;
    }
    hash.word(data.images.len() as u64);
    for &d in data.images.shape() {
        hash.word(d as u64);
    }
    for &v in &data.images {
        hash.word(u64::from(v.to_bits()));
    }
    match &data.labels {
        Labels::Classes(classes) => classes.iter().for_each(|&c| hash.word(c as u64)),
        Labels::Targets(targets) => targets
            .iter()
            .for_each(|&t| hash.word(u64::from(t.to_bits()) | 1 << 40)),
    }
    data.positions.iter().for_each(|&p| hash.word(p as u64));
    data.ids.iter().for_each(|id| hash.bytes(id.as_bytes()));
    for name in data.class_names.iter().flatten() {
        hash.bytes(name.as_bytes());
    }
    Ok(format!("{:016x}", hash.0))
}
