"""``sensie.Model``: an ONNX model from a file, from bytes, or exported from
a live PyTorch module."""

import io
import json
import os
import warnings

import numpy as np

from . import _arrays
from ._sensie import _FunctionModel, _Model


class Model:
    """An ONNX model and what sensie read from it, or a Python function.

    ``path_or_bytes`` is a path to an ``.onnx`` file or the serialised model.
    ``input`` names the image input (checked against the model), ``layout``
    ("nchw"/"nhwc") overrides the detected input layout, and ``output_kind``
    ("logits", "probabilities", "log-probabilities", "sigmoid") the detected
    kind of output.

    It may also be a plain Python callable ``f(x) -> scores``: ``x`` a
    float32 batch in ``layout`` (default "nchw") after the probe's
    preprocessing, ``scores`` N x K of ``output_kind`` (default "logits").
    Such a model runs forward only: :class:`sensie.Probe` takes it, while
    :func:`sensie.explain` and :mod:`sensie.visualize`, which need gradients,
    refuse it.
    """

    def __init__(self, path_or_bytes, input=None, layout=None, output_kind=None):
        self._function = None
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model = _Model.from_bytes(bytes(path_or_bytes), "<bytes>", input, layout, output_kind)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            self._model = _Model.load(os.fspath(path_or_bytes), input, layout, output_kind)
        elif _is_torch_module(path_or_bytes):
            raise TypeError(
                f"sensie.Model takes a torch.nn.Module ({type(path_or_bytes).__name__}) only through "
                "sensie.Model.from_torch(module, example_input), which exports it to ONNX"
            )
        elif callable(path_or_bytes):
            if input is not None:
                raise ValueError("input names an ONNX model's input; a Python function model has none")
            self._function = path_or_bytes
            name = f"<function {getattr(path_or_bytes, '__qualname__', type(path_or_bytes).__name__)}>"
            self._model = _FunctionModel(_scores_function(path_or_bytes, name), name, layout or "nchw", output_kind or "logits")
        else:
            raise TypeError(
                f"sensie.Model takes a path to an .onnx file, the model's bytes or a function f(x) -> scores, "
                f"not {type(path_or_bytes).__name__}; for a torch.nn.Module use sensie.Model.from_torch(module, example_input)"
            )
        self._settings = (input, layout, output_kind)

    @classmethod
    def from_torch(cls, module, example_input, output_kind=None, opset=17, layout=None):
        """Exports a ``torch.nn.Module`` to ONNX in memory (batch dimension
        dynamic) and loads it. torch is imported only here. ``layout`` and
        ``output_kind`` override what sensie detects, as for :class:`Model`."""
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"Model.from_torch takes a torch.nn.Module, not {type(module).__name__}")
        if not isinstance(example_input, torch.Tensor):
            example_input = torch.as_tensor(_arrays.float32(example_input, "example_input"))
        buffer = io.BytesIO()
        # Each submodule's own mode, put back after: module.train(mode) would
        # set every submodule's, unfreezing a BatchNorm the user froze.
        modes = {m: m.training for m in module.modules()}
        module.eval()
        # sensie scores one output: a module returning several (features and
        # logits) would be explained and probed through its first.
        with torch.no_grad():
            output = module(example_input)
        if not isinstance(output, torch.Tensor):
            _restore(modes)
            count = f"{len(output)} outputs" if isinstance(output, (tuple, list, dict)) else type(output).__name__
            raise TypeError(
                f"Model.from_torch: the module returns {count}, not one tensor; sensie scores one output per example "
                "(the class scores, or the regression value): wrap the module so that forward returns that tensor"
            )
        # The TorchScript exporter needs nothing beyond torch (the newer one
        # needs onnxscript); torch warns that it is the older one.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                torch.onnx.export(
                    module,
                    (example_input,),
                    buffer,
                    input_names=["input"],
                    output_names=["output"],
                    dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                    opset_version=opset,
                    dynamo=False,
                )
            finally:
                _restore(modes)
        model = cls.__new__(cls)
        model._function = None
        model._model = _Model.from_bytes(buffer.getvalue(), f"<torch {type(module).__name__}>", None, layout, output_kind)
        model._settings = (None, layout, output_kind)
        return model

    @property
    def path(self):
        """The file the model came from (or a name such as ``<bytes>``)."""
        return os.fspath(self._model.path())

    @property
    def info(self):
        """What sensie read from the model: input, layout, outputs, output kind."""
        return json.loads(self._model.info())

    @property
    def is_function(self):
        """Whether the model is a Python function (forward passes only)."""
        return self._function is not None

    def _with_gradients(self, what):
        """The ONNX model, for ``what``, which needs gradients; a function model is refused."""
        if self.is_function:
            raise TypeError(
                f"{what} needs gradients, which the Python function model {self.path} cannot give; "
                "load the model from ONNX (sensie.Model(path)) or export it with sensie.Model.from_torch"
            )
        return self._model

    def to_bytes(self):
        """The serialised ONNX model."""
        return bytes(self._with_gradients("to_bytes (an ONNX model's bytes)").onnx_bytes())

    def predict(self, x, batch_size=256):
        """The model's first output for ``x`` (already in the model's input
        layout and scaling), N x (rest)."""
        x = _arrays.float32(x, "x")
        if self.is_function:
            return _scores_function(self._function, self.path)(x)
        return self._model.predict(x, batch_size)

    def __call__(self, x):
        return self.predict(x)

    def __reduce__(self):
        if self.is_function:
            return (Model, (self._function, None) + self._settings[1:])
        return (_from_bytes, (self.to_bytes(), self.path) + self._settings)

    def __repr__(self):
        info = self.info
        shape = "x".join("?" if d is None else str(d) for d in info["input"]["shape"])
        return f"sensie.Model({self.path!r}, input {info['input']['name']} {shape} {info['layout']}, output {info['output_kind']})"


def _is_torch_module(value):
    """Whether ``value`` is a torch.nn.Module, without importing torch."""
    return any(c.__module__ == "torch.nn.modules.module" and c.__name__ == "Module" for c in type(value).__mro__)


def _scores_function(f, name):
    """The user's ``f(x)`` as the Rust core calls it: N x K float32 scores
    (one score per example may come back as N values)."""

    def call(batch):
        scores = _arrays.float32(f(batch), f"model {name}")
        if scores.ndim == 1:
            scores = scores[:, None]
        if scores.ndim != 2:
            raise ValueError(f"model {name} returned scores of shape {scores.shape}; return N x K scores, one row per example")
        return np.ascontiguousarray(scores)

    return call


def _from_bytes(data, name, input, layout, output_kind):
    model = Model.__new__(Model)
    model._function = None
    model._model = _Model.from_bytes(data, name, input, layout, output_kind)
    model._settings = (input, layout, output_kind)
    return model


def _restore(modes):
    """Puts each torch module back in the training mode it had."""
    for module, training in modes.items():
        module.training = training
