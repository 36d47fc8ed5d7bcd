"""``sensie.Probe``: the original Sensie's API on sensie's probe."""

import json
import os

import numpy as np

from . import _arrays, _sensie
from ._model import Model
from ._progress import progress_bar
from ._results import Results


def perturbations():
    """Every built-in perturbation as a list of dicts (name, summary,
    parameter, unit, identity, options), as ``sensie perturbations`` lists them."""
    keys = ("name", "summary", "parameter", "unit", "identity", "options")
    return [dict(zip(keys, row)) for row in _sensie.perturbations()]


class Probe:
    """Sensitivity tests of ``model`` (a :class:`sensie.Model`).

    ``preprocess`` is the CLI's ``[preprocess]`` table as a dict (e.g.
    ``{"scale": 1/255}``): the step from raw images, which perturbations
    see, to the model's input. ``batch_size`` does not change any result;
    ``seed`` seeds every random draw (noise perturbations, bootstrap).
    ``task`` says what the labels are ("auto": whole numbers and one-hot
    rows are classes, "classify", "regress"); ``skip_bad`` leaves out images with NaN or
    infinite pixels instead of refusing them.
    """

    def __init__(
        self, model, batch_size=256, seed=0, preprocess=None, replicates=_sensie.DEFAULT_REPLICATES, threshold=None, threads=0, quiet=False, task="auto", skip_bad=False
    ):
        if not isinstance(model, Model):
            raise TypeError(f"sensie.Probe takes a sensie.Model, not {type(model).__name__}")
        self.model = model
        self.batch_size = _arrays.whole("sensie.Probe", "batch_size", batch_size, 1)
        self.seed = _arrays.whole("sensie.Probe", "seed", seed, 0, 2**64 - 1)
        self.preprocess = dict(preprocess or {})
        self.replicates = _arrays.whole("sensie.Probe", "replicates", replicates)
        self.threshold = threshold
        self.threads = _arrays.whole("sensie.Probe", "threads", threads)
        self.quiet = quiet
        self.task = task
        self.skip_bad = skip_bad

    def _config(self, **tests):
        config = {
            "model": self.model.path,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "replicates": self.replicates,
            "threads": self.threads,
            "preprocess": self.preprocess,
        }
        if self.threshold is not None:
            config["threshold"] = self.threshold
        config.update(tests)
        return config

    def _arrays(self, config, x, y, layout, python_sweeps=(), metadata=None, command="sensie.Probe"):
        images, to_user, from_user = _arrays.images(x, layout)
        labels = _arrays.labels(y, text=True)
        sweeps = [(name, _batch_function(f, to_user, from_user, name), values) for name, f, values in python_sweeps]
        with progress_bar(self.quiet) as progress:
            run = _sensie.probe_arrays(
                self.model._model, images, labels, self.task, metadata, _json(config), sweeps, "<array>", self.skip_bad, progress
            )
        return Results(run, command)

    def predict_and_measure_perturbed(
        self, x, y, perturber, p_values=None, p_min=0, p_max=1, steps=10, label=None, plot=False, options=None, layout=None
    ):
        """Sweeps a perturbation over strengths and measures the model.

        ``perturber`` is a built-in name (``"rotate"``; its options as the
        ``options`` dict, see :func:`sensie.perturbations`) or a Python
        function ``f(x_batch, p) -> x_batch`` taking and returning a batch of
        raw images in the layout of ``x``. Strengths are ``p_values``, or
        ``steps`` values from ``p_min`` to ``p_max``. Returns a
        :class:`sensie.TestResult`.
        """
        _can_plot(plot)
        values = [float(v) for v in (p_values if p_values is not None else np.linspace(p_min, p_max, steps))]
        if isinstance(perturber, str):
            spec = {"name": perturber, "values": values, "options": dict(options or {})}
            result = self._arrays(self._config(perturb=[spec]), x, y, layout, command=f"predict_and_measure_perturbed({perturber!r})")
        elif callable(perturber):
            if options:
                raise ValueError("options are for built-in perturbations; a Python perturber takes its own arguments")
            name = label or getattr(perturber, "__name__", "python")
            sweeps = [(name, perturber, values)]
            result = self._arrays(self._config(), x, y, layout, python_sweeps=sweeps, command=f"predict_and_measure_perturbed({name})")
        else:
            raise TypeError(f"perturber must be a built-in perturbation's name or a function f(x_batch, p), not {type(perturber).__name__}")
        test = result.tests[0]
        test.label = label
        if plot:
            test.plot()
        return test

    def predict_and_measure(self, x, y, p_test, prop=None, bins="auto", plot=False, label=None, layout=None):
        """Measures the model on groups of examples binned by a metadata
        property: ``p_test`` is a DataFrame (``prop`` names its column), a
        Series, or an array of one value per example. ``bins``: ``"auto"``,
        ``N`` (equal width), ``"qN"`` (quantiles) or ``"discrete"``.
        ``label`` names the property in the plot, as in the original Sensie."""
        _can_plot(plot)
        name, column = _property_column(p_test, prop)
        metadata = [(name, [_cell(v) for v in column])]
        config = self._config(property=[{"column": name, "bins": str(bins)}])
        test = self._arrays(config, x, y, layout, metadata=metadata, command=f"predict_and_measure({name!r})").tests[0]
        test.label = label
        if plot:
            test.plot()
        return test

    def test_class_sensitivity(self, x, y, plot=False, layout=None):
        """Measures how the model's score differs between classes."""
        _can_plot(plot)
        test = self._arrays(self._config(classes=True), x, y, layout, command="test_class_sensitivity").tests[0]
        if plot:
            test.plot()
        return test

    def run(self, config):
        """Runs a whole probe config: the CLI's TOML keys as a dict (e.g.
        ``tomllib.load`` of a probe.toml), its paths taken from the current
        directory. The probe's model is used; a ``model`` key must name the
        same file. The probe's settings (batch size, seed, preprocessing,
        threshold, ``skip_bad``, ``task``) fill in what the config leaves
        out. ``out`` saves the results there, as ``sensie probe`` would.
        Returns :class:`sensie.Results`."""
        if not isinstance(config, dict):
            raise TypeError(f"Probe.run takes a dict of the probe config's keys, not {type(config).__name__}")
        config = dict(config)
        if isinstance(config.get("data"), list) or isinstance(config.get("model"), list):
            raise ValueError(
                "Probe.run runs one data set on the probe's model; a config comparing several ([[data]] or "
                "[[model]] tables) runs with `sensie probe --config FILE`, or run each here and compare their folders"
            )
        named = config.get("model")
        if named is not None and os.path.abspath(named) != os.path.abspath(self.model.path):
            raise ValueError(f"the config's model {named} is not the probe's model {self.model.path}")
        config["model"] = self.model.path
        for key, value in (("batch_size", self.batch_size), ("threads", self.threads), ("replicates", self.replicates)):
            config.setdefault(key, value)
        config.setdefault("seed", self.seed)
        if self.preprocess:
            config.setdefault("preprocess", self.preprocess)
        if self.threshold is not None:
            config.setdefault("threshold", self.threshold)
        data = config.get("data")
        if isinstance(data, dict) and (self.skip_bad or self.task != "auto"):
            data = dict(data)
            if self.skip_bad:
                data.setdefault("skip_bad", True)
            if self.task != "auto":
                data.setdefault("task", self.task)
            config["data"] = data
        with progress_bar(self.quiet) as progress:
            run = _sensie.probe_config(self.model._model, _json(config), progress)
        results = Results(run, "sensie.Probe.run")
        if config.get("out"):
            results.save(config["out"], force=bool(config.get("force")))
        return results


def _can_plot(plot):
    """With ``plot``, matplotlib is imported before the run, so that a
    missing matplotlib is said before the work, not after it, losing it."""
    if plot:
        import matplotlib.pyplot  # noqa: F401


def _batch_function(f, to_user, from_user, name):
    """The user's ``f(x_batch, p)`` as the Rust core calls it: N x C x H x W
    float32 in and out, the user seeing their own layout."""

    def call(batch, p):
        out = f(to_user(batch), p)
        array = from_user(_arrays.float32(out, f"perturber '{name}'"))
        if array.shape != batch.shape:
            raise ValueError(
                f"perturber '{name}' returned shape {to_user(array).shape} for a batch of shape {to_user(batch).shape}; "
                "it must return the batch with the same shape"
            )
        return np.ascontiguousarray(array)

    return call


def _property_column(p_test, prop):
    columns = getattr(p_test, "columns", None)
    if columns is not None:
        if prop is None:
            raise ValueError("p_test is a table: name the column to test with prop=")
        if prop not in columns:
            raise ValueError(f"unknown column '{prop}' of p_test; valid: {', '.join(map(str, columns))}")
        return str(prop), list(p_test[prop])
    name = prop or getattr(p_test, "name", None) or "property"
    values = np.asarray(p_test)
    if values.ndim != 1:
        raise ValueError(f"p_test: expected one value per example (1-D), got shape {values.shape}")
    return str(name), list(values)


def _cell(value):
    """A metadata value as the CSV text the library parses."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return "" if value is None else str(value)


def _json(config):
    """The config as the library reads it, in JSON. JSON has no inf (Poisson
    noise's identity gain) and no NaN, so a sweep's values travel as the
    text ``--perturb`` takes ("10,1000,inf"): ``repr`` gives each float's
    exact digits, and the library checks them as it checks the command line."""

    def sweep_values(v):
        if isinstance(v, dict):
            return {
                k: _values_text(x) if k == "values" and isinstance(x, (list, tuple, np.ndarray)) else sweep_values(x)
                for k, x in v.items()
            }
        if isinstance(v, (list, tuple)):
            return [sweep_values(x) for x in v]
        return v

    def plain(v):
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, os.PathLike):
            return os.fspath(v)
        raise TypeError(f"probe config: cannot use a value of type {type(v).__name__}")

    try:
        return json.dumps(sweep_values(config), default=plain, allow_nan=False)
    except ValueError:
        raise ValueError("probe config: a value is NaN or infinite, which only a sweep's values may be") from None


def _values_text(values):
    """A sweep's values as ``--perturb``'s comma-separated list, when they
    are all numbers (anything else is passed on for the library to refuse)."""
    values = list(np.asarray(values).ravel()) if isinstance(values, np.ndarray) else list(values)
    if not values or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values):
        return values
    return ",".join(repr(float(v)) for v in values)
