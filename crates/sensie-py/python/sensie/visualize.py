"""Seeing inside the network: kernels, feature maps, activation
maximisation and Deep Dream, as NumPy arrays (the CLI's ``sensie visualize``)."""

import types

from . import _arrays, _sensie
from ._model import Model
from ._progress import progress_bar


def _model(model, what):
    if not isinstance(model, Model):
        raise TypeError(f"{what} takes a sensie.Model, not {type(model).__name__}")
    return model._with_gradients(what)


def kernels(model, layer=None):
    """A convolution's weights, out x in x kh x kw (default: the first convolution)."""
    return _sensie.kernels(_model(model, "sensie.visualize.kernels"), layer)[1]


def features(model, x, layer, batch_size=_sensie.DEFAULT_BATCH_SIZE):
    """The feature maps of tensor ``layer`` for ``x`` (the model's input layout), N x C x h x w."""
    what = "sensie.visualize.features"
    return _sensie.features(_model(model, what), _arrays.float32(x, "x"), layer, _arrays.whole(what, "batch_size", batch_size))[1]


def maximize(
    model,
    class_index=None,
    layer=None,
    channel=None,
    neuron=None,
    score="logit",
    steps=256,
    restarts=4,
    learning_rate=0.05,
    param="fourier",
    decay=1.0,
    jitter=None,
    scale=0.1,
    rotate=10.0,
    l2=0.0,
    tv=0.0,
    blur_every=0,
    blur_sigma=0.5,
    diversity=0.0,
    diversity_layer=None,
    value_range=None,
    data=None,
    seed=0,
    quiet=True,
):
    """Inputs (the model's layout) that maximise a class's ``score``
    ("logit" or "probability"), a layer's mean activation, one ``channel``
    of a layer, or one ``neuron=(y, x)`` of that channel; one per restart.

    The options are ``sensie visualize maximize``'s flags: ``param``
    ("fourier", Lucid's decorrelated Fourier space with 1/f^``decay``
    scaling, or "pixel"); the transformation robustness ``jitter`` (pixels;
    default the image size / 28), ``scale`` and ``rotate`` (degrees); the
    penalties ``l2`` and ``tv``; a blur every ``blur_every`` steps of
    ``blur_sigma`` pixels; ``diversity`` between restarts, on the Gram
    matrices of ``diversity_layer``. ``value_range=(low, high)`` is the
    model's input range (default: ``data``'s, else 0 to 1); ``data``, real
    inputs in the model's layout, gives the start (each band's mean) and the
    Fourier colour decorrelation.
    """
    what = "sensie.visualize.maximize"
    steps, restarts, blur_every = (
        _arrays.whole(what, name, value) for name, value in (("steps", steps), ("restarts", restarts), ("blur_every", blur_every))
    )
    seed = _arrays.whole(what, "seed", seed, high=2**64 - 1)
    class_index, channel, jitter = (
        None if value is None else _arrays.whole(what, name, value)
        for name, value in (("class_index", class_index), ("channel", channel), ("jitter", jitter))
    )
    settings = types.SimpleNamespace(
        steps=steps, restarts=restarts, learning_rate=learning_rate, score=score, param=param, decay=decay, jitter=jitter,
        scale=scale, rotate=rotate, l2=l2, tv=tv, blur_every=blur_every, blur_sigma=blur_sigma, diversity=diversity,
        diversity_layer=diversity_layer, seed=seed,
    )
    value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
    neuron = None if neuron is None else tuple(_arrays.whole(what, "neuron", n) for n in neuron)
    data = None if data is None else _arrays.float32(data, "data")
    with progress_bar(quiet, unit="step") as progress:
        images, _ = _sensie.maximize(
            _model(model, what), class_index, layer, channel, neuron, settings, value_range, data, progress
        )
    return images


def dream(model, x, layer, octaves=4, octave_scale=1.4, steps=10, step_size=1.5 / 255, jitter=1, value_range=None, seed=0):
    """Deep Dream: ``x`` (the model's layout) changed to excite ``layer``,
    kept within ``value_range`` (low, high; default: ``x``'s, as ``sensie
    visualize dream --data`` takes it), ``step_size`` a fraction of it."""
    what = "sensie.visualize.dream"
    octaves, steps, jitter = (_arrays.whole(what, name, value) for name, value in (("octaves", octaves), ("steps", steps), ("jitter", jitter)))
    seed = _arrays.whole(what, "seed", seed, high=2**64 - 1)
    value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
    return _sensie.dream(_model(model, what), _arrays.float32(x, "x"), layer, octaves, octave_scale, steps, step_size, jitter, value_range, seed)
