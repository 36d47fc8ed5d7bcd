//! Perturbations: one thing about an image, varied by one strength parameter.
//!
//! A perturbation works on one raw image (C x H x W, physical units, every
//! band) before preprocessing, so its parameter keeps a physical meaning:
//! degrees, pixels, magnitudes, a PSF's FWHM. Each one has a value that leaves
//! the image unchanged, and is deterministic for a given seed: random draws
//! come from a [`SeededRng`] seeded by (seed, perturbation, example index,
//! level), so results do not depend on batching or threads.
//!
//! Every built-in lives in its own file behind the [`Perturbation`] trait and
//! is listed in [`builtins`], with its parameter, unit and options; users add
//! their own by implementing the trait.

pub(crate) mod kernel;
mod memo;
mod options;
mod resample;
mod special;

mod band_drop;
mod band_scale;
mod blur;
mod brightness;
mod contrast;
mod flip;
mod gamma;
mod gaussian_noise;
mod magnitude;
mod occlude;
mod poisson_noise;
mod psf;
mod rotate;
mod saturation;
mod seeing;
mod translate;
mod zoom;

use std::collections::BTreeMap;

use ndarray::{Array3, Array4, ArrayView3, ArrayView4, ArrayViewMut4, Axis};
use rayon::prelude::*;

pub use options::{OptionSpec, Options};
pub use resample::Interpolation;

use crate::rng::{SeededRng, name_hash};
use crate::{Error, Result};

/// What a perturbation's strength parameter means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parameter {
    /// The parameter's name, e.g. `angle`, `sigma`, `fwhm`.
    pub name: &'static str,
    /// Its unit, e.g. `degrees`, `pixels`, `magnitudes`, `factor`.
    pub unit: &'static str,
    /// The value that leaves an image unchanged (infinite for Poisson noise,
    /// whose noise vanishes only as the gain grows without bound).
    pub identity: f64,
}

/// One way of changing an image, with one strength parameter.
///
/// Implementations must treat every band, keep the image's shape, and draw
/// random numbers only from the `rng` they are given.
pub trait Perturbation: Send + Sync {
    /// The name used on the command line and in results.
    fn name(&self) -> &str;

    /// What the strength parameter means, given the options chosen.
    fn parameter(&self) -> Parameter;

    /// Refuses strength values that make no sense (a negative blur, a target
    /// seeing below the current one) before any model work is spent.
    fn check(&self, value: f64) -> Result<()> {
        finite(self.name(), value)
    }

    /// Whether [`Perturbation::apply_batch_into`] divides a batch's work
    /// over the rayon pool it is called on, as the default does. One that
    /// cannot (a Python function, which holds the interpreter's lock) says
    /// false, and a probe whose model runs one batch at a time gives its
    /// producer one thread instead of every core
    /// ([`crate::probe::ThreadBudget::producer`]).
    fn parallel(&self) -> bool {
        true
    }

    /// The perturbed copy of one image (C x H x W) at strength `value`.
    fn apply(&self, image: ArrayView3<f32>, value: f64, rng: &mut SeededRng)
    -> Result<Array3<f32>>;

    /// Writes the perturbed batch (N x C x H x W, whose first image is
    /// example `first_example` of the data set) into `out`, which has the
    /// batch's shape, so that a sweep reuses a few batch buffers instead of
    /// allocating one per batch. The default applies [`Perturbation::apply`]
    /// to every image in parallel on the current rayon pool, each with its
    /// own random stream (see [`perturb_batch`]); a perturbation that works
    /// on whole batches (a user's Python function `f(x_batch, p)`) overrides it.
    fn apply_batch_into(
        &self,
        images: ArrayView4<f32>,
        value: f64,
        seed: u64,
        first_example: usize,
        out: ArrayViewMut4<f32>,
    ) -> Result<()> {
        each_image(self, images, value, seed, first_example, out)
    }
}

/// [`Perturbation::apply_batch_into`]'s default: [`Perturbation::apply`] on
/// every image in parallel, each with its own random stream.
fn each_image<P: Perturbation + ?Sized>(
    perturbation: &P,
    images: ArrayView4<f32>,
    value: f64,
    seed: u64,
    first_example: usize,
    mut out: ArrayViewMut4<f32>,
) -> Result<()> {
    let stream = name_hash(perturbation.name());
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(images.axis_iter(Axis(0)))
        .enumerate()
        .try_for_each(|(i, (mut slot, image))| {
            let mut rng =
                SeededRng::new(seed, &[stream, (first_example + i) as u64, value.to_bits()]);
            let perturbed = perturbation.apply(image, value, &mut rng)?;
            if perturbed.dim() != image.dim() {
                return Err(changed_shape(
                    perturbation.name(),
                    perturbed.shape(),
                    image.shape(),
                ));
            }
            slot.assign(&perturbed);
            Ok(())
        })
}

/// A built-in perturbation as listed by `sensie perturbations`.
pub struct Builtin {
    /// The name configs and flags use.
    pub name: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// The name of its strength parameter.
    pub parameter: &'static str,
    /// The parameter's unit.
    pub unit: &'static str,
    /// The parameter value that means "unchanged", as text (it may depend on
    /// an option, as for `seeing`).
    pub identity: &'static str,
    /// The same as a number, when no option changes it.
    unchanged: f64,
    /// The options it takes.
    pub options: &'static [OptionSpec],
    build: fn(&Options) -> Result<Box<dyn Perturbation>>,
}

/// Every built-in perturbation, in the order `sensie perturbations` lists them.
pub fn builtins() -> &'static [&'static Builtin] {
    static BUILTINS: [&Builtin; 17] = [
        &rotate::BUILTIN,
        &flip::BUILTIN,
        &translate::BUILTIN,
        &zoom::BUILTIN,
        &blur::BUILTIN,
        &psf::BUILTIN,
        &seeing::BUILTIN,
        &gaussian_noise::BUILTIN,
        &poisson_noise::BUILTIN,
        &brightness::BUILTIN,
        &magnitude::BUILTIN,
        &contrast::BUILTIN,
        &gamma::BUILTIN,
        &saturation::BUILTIN,
        &band_scale::BUILTIN,
        &band_drop::BUILTIN,
        &occlude::BUILTIN,
    ];
    &BUILTINS
}

/// What a built-in implements; its [`Builtin`] entry supplies the name and
/// parameter, and [`described`] makes the pair a [`Perturbation`] that checks
/// every value before applying it.
trait Effect: Send + Sync + 'static {
    /// Refuses finite values that make no sense here.
    fn check(&self, _value: f64) -> Result<()> {
        Ok(())
    }

    /// The perturbed copy of one image; `value` has passed [`Effect::check`].
    fn apply(&self, image: ArrayView3<f32>, value: f64, rng: &mut SeededRng)
    -> Result<Array3<f32>>;

    /// The parameter, for built-ins whose options change it.
    fn parameter(&self) -> Option<Parameter> {
        None
    }

    /// For an effect whose work the images of a batch share (a geometric
    /// map's sample positions, the same for every image of one size): the
    /// effect at `value` on a chunk of images at once. None (the default):
    /// image by image through [`Effect::apply`], each with its own random
    /// stream, which a chunk does not have.
    fn chunked(&self, _value: f64) -> Option<ChunkFn<'_>> {
        None
    }
}

/// An effect at one value on a chunk of images (N x C x H x W), written into
/// a buffer of the same shape.
type ChunkFn<'a> = Box<dyn Fn(ArrayView4<f32>, ArrayViewMut4<f32>) + Sync + 'a>;

/// Images per chunk of an effect that shares its work within a chunk
/// ([`Effect::chunked`]): enough to spread the shared part thin, few enough
/// that a batch still divides over the cores.
const CHUNK: usize = 16;

struct Described<E> {
    builtin: &'static Builtin,
    effect: E,
}

fn described(builtin: &'static Builtin, effect: impl Effect) -> Box<dyn Perturbation> {
    Box::new(Described { builtin, effect })
}

impl<E: Effect> Perturbation for Described<E> {
    fn name(&self) -> &str {
        self.builtin.name
    }

    fn parameter(&self) -> Parameter {
        self.effect.parameter().unwrap_or(Parameter {
            name: self.builtin.parameter,
            unit: self.builtin.unit,
            identity: self.builtin.unchanged,
        })
    }

    /// The identity value is always accepted, even when it is infinite (a
    /// Poisson gain): it is the documented "unchanged" end of a sweep.
    fn check(&self, value: f64) -> Result<()> {
        if value == self.parameter().identity {
            return Ok(());
        }
        finite(self.builtin.name, value)?;
        self.effect.check(value)
    }

    fn apply(
        &self,
        image: ArrayView3<f32>,
        value: f64,
        rng: &mut SeededRng,
    ) -> Result<Array3<f32>> {
        self.check(value)?;
        self.effect.apply(image, value, rng)
    }

    fn apply_batch_into(
        &self,
        images: ArrayView4<f32>,
        value: f64,
        seed: u64,
        first_example: usize,
        mut out: ArrayViewMut4<f32>,
    ) -> Result<()> {
        self.check(value)?;
        let Some(chunk) = self.effect.chunked(value) else {
            return each_image(self, images, value, seed, first_example, out);
        };
        out.axis_chunks_iter_mut(Axis(0), CHUNK)
            .into_par_iter()
            .zip(images.axis_chunks_iter(Axis(0), CHUNK))
            .for_each(|(slots, images)| chunk(images, slots));
        Ok(())
    }
}

/// Builds the built-in perturbation `name` with `options` (option name to
/// value as text). Unknown names and options are refused with the valid ones.
pub fn build(name: &str, options: &BTreeMap<String, String>) -> Result<Box<dyn Perturbation>> {
    let builtin = builtins()
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| Error::unknown("perturbation", name, builtins().iter().map(|b| b.name)))?;
    if let Some(key) = options
        .keys()
        .find(|key| !builtin.options.iter().any(|o| o.name == key.as_str()))
    {
        let valid: Vec<&str> = builtin.options.iter().map(|o| o.name).collect();
        return Err(if valid.is_empty() {
            Error::invalid(
                format!("option '{key}' of perturbation '{name}'"),
                "this perturbation takes no options",
            )
        } else {
            Error::unknown(
                format!("option of perturbation '{name}'"),
                key.as_str(),
                valid,
            )
        });
    }
    (builtin.build)(&Options::new(name, options))
}

/// Applies `perturbation` at strength `value` to a batch of raw images
/// (N x C x H x W) in parallel. Example `i` of the batch is example
/// `first_example + i` of the data set; its random stream is seeded by
/// (seed, perturbation name, example, value), so the result is the same
/// whatever the batch boundaries and thread count.
pub fn perturb_batch(
    perturbation: &dyn Perturbation,
    images: ArrayView4<f32>,
    value: f64,
    seed: u64,
    first_example: usize,
) -> Result<Array4<f32>> {
    let mut out = Array4::zeros(images.raw_dim());
    perturb_batch_into(
        perturbation,
        images,
        value,
        seed,
        first_example,
        out.view_mut(),
    )?;
    Ok(out)
}

/// [`perturb_batch`] written into `out` (the batch's shape): what a sweep
/// calls, reusing its batch buffers; runs on the current rayon pool.
pub fn perturb_batch_into(
    perturbation: &dyn Perturbation,
    images: ArrayView4<f32>,
    value: f64,
    seed: u64,
    first_example: usize,
    out: ArrayViewMut4<f32>,
) -> Result<()> {
    if out.dim() != images.dim() {
        return Err(Error::invalid(
            "perturbed batch",
            format!(
                "the buffer has shape {:?} but the batch {:?}; give a buffer of the batch's shape",
                out.shape(),
                images.shape()
            ),
        ));
    }
    perturbation.apply_batch_into(images, value, seed, first_example, out)
}

/// The error for a perturbation that changed the shape of what it was given
/// (public for perturbations implemented outside the crate, such as the
/// Python package's).
pub fn changed_shape(name: &str, got: &[usize], given: &[usize]) -> Error {
    Error::invalid(
        format!("perturbation '{name}'"),
        format!(
            "returned an array of shape {got:?} for one of shape {given:?}; perturbations must keep the shape"
        ),
    )
}

/// The default [`Perturbation::check`]: the value must be a finite number.
fn finite(name: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("strength of perturbation '{name}'"),
            format!("{value} is not a finite number"),
        ))
    }
}

/// Refuses a strength below `min` (or at it, when `inclusive` is false).
fn at_least(name: &str, value: f64, min: f64, inclusive: bool) -> Result<()> {
    finite(name, value)?;
    if value > min || (inclusive && value == min) {
        Ok(())
    } else {
        let bound = if inclusive {
            "at least"
        } else {
            "greater than"
        };
        Err(Error::invalid(
            format!("strength of perturbation '{name}'"),
            format!("{value} must be {bound} {min}"),
        ))
    }
}

/// `band` as an index into the image's bands, refused when the image has too few.
fn band_index(name: &str, image: ArrayView3<f32>, band: f64) -> Result<usize> {
    let bands = image.dim().0;
    if band >= 0.0 && (band as usize) < bands {
        Ok(band as usize)
    } else {
        Err(Error::invalid(
            format!("perturbation '{name}'"),
            format!("band {band} does not exist: the images have {bands} band(s), numbered from 0"),
        ))
    }
}

/// Every pixel of every band multiplied by `factor` (brightness, magnitude).
fn scaled(image: ArrayView3<f32>, factor: f64) -> Array3<f32> {
    image.mapv(|v| (f64::from(v) * factor) as f32)
}

#[cfg(test)]
pub(crate) mod test_support {
    use ndarray::{Array3, ArrayView3};

    use super::*;

    /// Builds a built-in from `key=value` option pairs.
    pub fn built(name: &str, options: &[(&str, &str)]) -> Box<dyn Perturbation> {
        let options = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        build(name, &options).unwrap()
    }

    /// Applies a perturbation to one image with a fixed seed.
    pub fn apply(p: &dyn Perturbation, image: ArrayView3<f32>, value: f64) -> Array3<f32> {
        p.apply(image, value, &mut SeededRng::new(0, &[])).unwrap()
    }

    /// A C x H x W image whose every pixel differs: c*100 + y*10 + x.
    pub fn ramp(c: usize, h: usize, w: usize) -> Array3<f32> {
        Array3::from_shape_fn((c, h, w), |(c, y, x)| (c * 100 + y * 10 + x) as f32)
    }

    /// One band of n x n holding a Gaussian source of width `sigma` px
    /// centred at (cy, cx), sampled at pixel centres: a compact source whose
    /// second moment the PSF tests measure before and after.
    pub fn gaussian_blob(n: usize, cy: f64, cx: f64, sigma: f64) -> Array3<f32> {
        Array3::from_shape_fn((1, n, n), |(_, y, x)| {
            (-0.5 * ((y as f64 - cy).powi(2) + (x as f64 - cx).powi(2)) / (sigma * sigma)).exp()
                as f32
        })
    }

    /// The flux-weighted second moments [rows, columns] of band 0 about its
    /// centroid, in px^2, summed in f64.
    pub fn second_moments(image: &Array3<f32>) -> [f64; 2] {
        let band = image.index_axis(Axis(0), 0);
        let flux: f64 = band.iter().map(|&v| f64::from(v)).sum();
        let moment = |axis: usize, power: i32, centre: f64| {
            band.indexed_iter()
                .map(|((y, x), &v)| f64::from(v) * ([y, x][axis] as f64 - centre).powi(power))
                .sum::<f64>()
                / flux
        };
        let (cy, cx) = (moment(0, 1, 0.0), moment(1, 1, 0.0));
        [moment(0, 2, cy), moment(1, 2, cx)]
    }

    pub fn max_abs_diff(a: &Array3<f32>, b: &Array3<f32>) -> f32 {
        assert_eq!(a.dim(), b.dim());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn every_builtin_is_unchanged_at_its_identity_value() {
        let image = ramp(3, 9, 11);
        for builtin in builtins() {
            let options: &[(&str, &str)] = match builtin.name {
                "seeing" => &[("current", "2")],
                _ => &[],
            };
            let p = built(builtin.name, options);
            let identity = p.parameter().identity;
            if identity.is_infinite() {
                continue; // Poisson noise: no finite gain is noise-free.
            }
            p.check(identity).unwrap();
            let out = apply(p.as_ref(), image.view(), identity);
            assert!(
                max_abs_diff(&out, &image) < 1e-4,
                "{} at {identity}",
                builtin.name
            );
        }
    }

    #[test]
    fn unknown_names_and_options_list_the_valid_ones() {
        let err = build("rotat", &BTreeMap::new()).err().unwrap().to_string();
        assert!(
            err.contains("did you mean 'rotate'") && err.contains("occlude"),
            "{err}"
        );
        let options = BTreeMap::from([("interp".to_string(), "nearest".to_string())]);
        let err = build("rotate", &options).err().unwrap().to_string();
        assert!(err.contains("interpolation, fill"), "{err}");
        let options = BTreeMap::from([("axis".to_string(), "1".to_string())]);
        let err = build("brightness", &options).err().unwrap().to_string();
        assert!(err.contains("takes no options"), "{err}");
    }

    #[test]
    fn a_batch_does_not_depend_on_its_boundaries() {
        let p = built("gaussian-noise", &[]);
        let images = Array4::from_shape_fn((6, 2, 5, 5), |(n, c, y, x)| (n + c + y * x) as f32);
        let whole = perturb_batch(p.as_ref(), images.view(), 0.5, 42, 10).unwrap();
        let first = perturb_batch(
            p.as_ref(),
            images.slice(ndarray::s![..2, .., .., ..]),
            0.5,
            42,
            10,
        )
        .unwrap();
        let rest = perturb_batch(
            p.as_ref(),
            images.slice(ndarray::s![2.., .., .., ..]),
            0.5,
            42,
            12,
        )
        .unwrap();
        let joined = ndarray::concatenate(Axis(0), &[first.view(), rest.view()]).unwrap();
        assert_eq!(whole, joined);
        let other_seed = perturb_batch(p.as_ref(), images.view(), 0.5, 43, 10).unwrap();
        assert_ne!(whole, other_seed);
    }

    #[test]
    fn every_builtin_perturbs_a_batch_as_it_perturbs_each_image_to_the_bit() {
        // 37 images: two whole chunks and a part one for the effects that
        // share work within a chunk (the geometric ones, the PSF).
        let images = Array4::from_shape_fn((37, 3, 9, 11), |(n, c, y, x)| {
            ((n * 7 + c * 3 + y * x) % 17) as f32 * 0.37 + 0.5
        });
        for builtin in builtins() {
            let name = builtin.name;
            let options: &[(&str, &str)] = match name {
                "seeing" => &[("current", "1")],
                _ => &[],
            };
            let p = built(name, options);
            let value = match name {
                "flip" | "band-drop" => 1.0,
                "poisson-noise" => 50.0,
                "seeing" => 2.5,
                "zoom" | "brightness" | "contrast" | "gamma" | "band-scale" => 1.3,
                _ => 2.0,
            };
            let batch = perturb_batch(p.as_ref(), images.view(), value, 7, 100).unwrap();
            let stream = name_hash(p.name());
            for (i, image) in images.axis_iter(Axis(0)).enumerate() {
                let mut rng = SeededRng::new(7, &[stream, 100 + i as u64, value.to_bits()]);
                let alone = p.apply(image, value, &mut rng).unwrap();
                assert!(
                    batch.index_axis(Axis(0), i) == alone.view(),
                    "{name}: image {i} differs in the batch"
                );
            }
        }
    }

    #[test]
    fn every_builtin_documents_its_options() {
        for builtin in builtins() {
            assert!(
                !builtin.summary.is_empty() && !builtin.unit.is_empty(),
                "{}",
                builtin.name
            );
            for option in builtin.options {
                assert!(!option.help.is_empty(), "{}.{}", builtin.name, option.name);
            }
        }
    }
}
