"""``sensie.Model``: an ONNX model from a file, from bytes, or exported from
a live PyTorch module."""

import io
import json
import os
import warnings

from . import _arrays
from ._sensie import _Model


class Model:
    """An ONNX model and what sensie read from it.

    ``path_or_bytes`` is a path to an ``.onnx`` file or the serialised model.
    ``input`` names the image input (checked against the model), ``layout``
    ("nchw"/"nhwc") overrides the detected input layout, and ``output_kind``
    ("logits", "probabilities", "log-probabilities", "sigmoid") the detected
    kind of output.
    """

    def __init__(self, path_or_bytes, input=None, layout=None, output_kind=None):
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model = _Model.from_bytes(bytes(path_or_bytes), "<bytes>", input, layout, output_kind)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            self._model = _Model.load(os.fspath(path_or_bytes), input, layout, output_kind)
        else:
            raise TypeError(
                f"sensie.Model takes a path to an .onnx file or the model's bytes, not {type(path_or_bytes).__name__}; "
                "for a torch.nn.Module use sensie.Model.from_torch(module, example_input)"
            )
        self._settings = (input, layout, output_kind)

    @classmethod
    def from_torch(cls, module, example_input, output_kind=None, opset=17):
        """Exports a ``torch.nn.Module`` to ONNX in memory (batch dimension
        dynamic) and loads it. torch is imported only here."""
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"Model.from_torch takes a torch.nn.Module, not {type(module).__name__}")
        if not isinstance(example_input, torch.Tensor):
            example_input = torch.as_tensor(_arrays.float32(example_input, "example_input"))
        buffer = io.BytesIO()
        was_training = module.training
        module.eval()
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
                module.train(was_training)
        model = cls.__new__(cls)
        model._model = _Model.from_bytes(buffer.getvalue(), f"<torch {type(module).__name__}>", None, None, output_kind)
        model._settings = (None, None, output_kind)
        return model

    @property
    def path(self):
        """The file the model came from (or a name such as ``<bytes>``)."""
        return os.fspath(self._model.path())

    @property
    def info(self):
        """What sensie read from the model: input, layout, outputs, output kind."""
        return json.loads(self._model.info())

    def to_bytes(self):
        """The serialised ONNX model."""
        return bytes(self._model.onnx_bytes())

    def predict(self, x, batch_size=256):
        """The model's first output for ``x`` (already in the model's input
        layout and scaling), N x (rest)."""
        return self._model.predict(_arrays.float32(x, "x"), batch_size)

    def __call__(self, x):
        return self.predict(x)

    def __reduce__(self):
        return (_from_bytes, (self.to_bytes(), self.path) + self._settings)

    def __repr__(self):
        info = self.info
        shape = "x".join("?" if d is None else str(d) for d in info["input"]["shape"])
        return f"sensie.Model({self.path!r}, input {info['input']['name']} {shape} {info['layout']}, output {info['output_kind']})"


def _from_bytes(data, name, input, layout, output_kind):
    model = Model.__new__(Model)
    model._model = _Model.from_bytes(data, name, input, layout, output_kind)
    model._settings = (input, layout, output_kind)
    return model
