"""sensie: probe trained neural networks from Python.

The same Rust library as the ``sensie`` command line, with NumPy arrays in
and out::

    import sensie
    model = sensie.Model("mnist_cnn.onnx")            # or Model.from_torch(net, x[:1])
    probe = sensie.Probe(model)                       # preprocess={"scale": 1 / 255} for 0-255 images
    result = probe.predict_and_measure_perturbed(x, y, "rotate", p_min=0, p_max=180, steps=19)
    result.summary()                                  # a pandas DataFrame
    result.plot()
    attribution = sensie.explain(model, x[:4], method="integrated-gradients")
"""

import os

# ONNX Runtime's telemetry off unless the user set this (0 keeps it on): it
# must be in the environment before the library loads below.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from . import _runtime  # noqa: E402
from ._sensie import __version__, load_runtime as _load_runtime  # noqa: E402

_load_runtime(_runtime.library_path())

from ._model import Model  # noqa: E402
from ._probe import Probe, perturbations  # noqa: E402
from ._results import Results, TestResult  # noqa: E402
from ._explain import explain, show_attribution  # noqa: E402
from . import visualize  # noqa: E402

__all__ = ["Model", "Probe", "Results", "TestResult", "explain", "show_attribution", "visualize", "perturbations", "__version__"]
