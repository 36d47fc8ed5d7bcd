//! A run's fingerprint: a hash of everything its numbers depend on, so that
//! `sensie merge` and `--resume` refuse scores of another run instead of
//! mixing them in. It covers the model file's bytes, the examples as loaded
//! (images, labels, positions, names, class names), the metadata file's
//! bytes, the bytes of files a perturbation reads (a PSF's kernel: the same
//! path may hold another kernel by the time a part or a resumed run is
//! made), and every setting but where results go and how the work is split
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

    /// Values' bits, two to a word, in four lanes whose chains do not wait
    /// on one another, folded into the hash at the end: one chain of a
    /// rotate, xor and multiply per value took 10 ms of the lens finder's
    /// start (six million pixels), on the path every run waits for.
    fn values(&mut self, values: &[f32]) {
        let pair = |p: &[f32]| {
            u64::from(p[0].to_bits()) | u64::from(p.get(1).map_or(0, |v| v.to_bits())) << 32
        };
        let mut lanes = [1, 2, 3, 4].map(|k| Hash(self.0 ^ k));
        let mut eights = values.chunks_exact(8);
        for eight in &mut eights {
            for (lane, two) in lanes.iter_mut().zip(eight.chunks_exact(2)) {
                lane.word(pair(two));
            }
        }
        for (lane, two) in lanes.iter_mut().zip(eights.remainder().chunks(2)) {
            lane.word(pair(two));
        }
        self.word(values.len() as u64);
        for lane in lanes {
            self.word(lane.0);
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
    hash.bytes(b"sensie probe scores 2");
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
    let sweeps = config
        .perturb
        .iter()
        .chain(config.grid.iter().flat_map(|g| &g.perturb));
    for path in sweeps.filter_map(|s| s.file()) {
        hash.file(&path)?;
    }
    hash.word(data.images.len() as u64);
    for &d in data.images.shape() {
        hash.word(d as u64);
    }
    hash.values(
        data.images
            .as_standard_layout()
            .as_slice()
            .expect("standard layout"),
    );
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

#[cfg(test)]
mod tests {
    use ndarray::Array4;

    use super::*;

    fn data(images: Array4<f32>) -> Dataset {
        let n = images.len_of(ndarray::Axis(0));
        crate::data::from_memory("images", images, Labels::Classes(vec![1; n]), None, false)
            .unwrap()
    }

    #[test]
    fn any_changed_pixel_or_label_changes_the_fingerprint() {
        let config = ProbeConfig {
            model: concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/mnist/mnist_cnn.onnx"
            )
            .into(),
            ..ProbeConfig::default()
        };
        // 3 x 1 x 3 x 5 = 45 values: five whole groups of eight and a remainder.
        let images =
            Array4::from_shape_fn((3, 1, 3, 5), |(n, _, y, x)| (n * 15 + y * 5 + x) as f32);
        let original = fingerprint(&config, &data(images.clone())).unwrap();
        assert_eq!(
            original,
            fingerprint(&config, &data(images.clone())).unwrap()
        );
        let mut seen = vec![original.clone()];
        for i in 0..images.len() {
            let mut changed = images.clone();
            changed.as_slice_mut().unwrap()[i] += 0.5;
            let print = fingerprint(&config, &data(changed)).unwrap();
            assert!(!seen.contains(&print), "pixel {i}");
            seen.push(print);
        }
        let mut relabelled = data(images.clone());
        relabelled.labels = Labels::Classes(vec![1, 2, 1]);
        assert_ne!(fingerprint(&config, &relabelled).unwrap(), original);
    }

    #[test]
    fn a_kernel_files_bytes_are_part_of_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("psf.npy");
        let sweep = format!("psf(kernel={})=0,1", kernel.display());
        let config = ProbeConfig {
            model: concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/mnist/mnist_cnn.onnx"
            )
            .into(),
            perturb: vec![super::super::SweepSpec::parse(&sweep).unwrap()],
            ..ProbeConfig::default()
        };
        let images = Array4::from_elem((2, 1, 3, 3), 1.0f32);
        let print = |bytes: &[u8]| {
            std::fs::write(&kernel, bytes).unwrap();
            fingerprint(&config, &data(images.clone())).unwrap()
        };
        // Another kernel saved under the same path is another run.
        assert_ne!(print(b"kernel A"), print(b"kernel B"));
        assert_eq!(print(b"kernel A"), print(b"kernel A"));
    }
}
