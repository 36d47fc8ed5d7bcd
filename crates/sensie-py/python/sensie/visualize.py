"""Seeing inside the network: kernels, feature maps, activation
maximisation and Deep Dream, as NumPy arrays (the CLI's ``sensie visualize``)."""

from . import _arrays, _sensie
from ._model import Model


def _model(model, what):
    if not isinstance(model, Model):
        raise TypeError(f"{what} takes a sensie.Model, not {type(model).__name__}")
    return model._with_gradients(what)


def kernels(model, layer=None):
    """A convolution's weights, out x in x kh x kw (default: the first convolution)."""
    return _sensie.kernels(_model(model, "sensie.visualize.kernels"), layer)[1]


def features(model, x, layer, batch_size=32):
    """The feature maps of tensor ``layer`` for ``x`` (the model's input layout), N x C x h x w."""
    return _sensie.features(_model(model, "sensie.visualize.features"), _arrays.float32(x, "x"), layer, batch_size)[1]


def maximize(model, class_index=None, layer=None, channel=None, steps=256, restarts=4, learning_rate=0.05, value_range=(0.0, 1.0), seed=0):
    """Inputs (the model's layout) that maximise a class's score, a layer's
    activation, or one channel of a layer; one per restart."""
    low, high = value_range
    images, _ = _sensie.maximize(_model(model, "sensie.visualize.maximize"), class_index, layer, channel, steps, restarts, learning_rate, low, high, seed)
    return images


def dream(model, x, layer, octaves=4, octave_scale=1.4, steps=10, step_size=1.5 / 255, jitter=1, value_range=(0.0, 1.0), seed=0):
    """Deep Dream: ``x`` (the model's layout) changed to excite ``layer``."""
    low, high = value_range
    return _sensie.dream(_model(model, "sensie.visualize.dream"), _arrays.float32(x, "x"), layer, octaves, octave_scale, steps, step_size, jitter, low, high, seed)
