"""A plain Python function as the model: probed like the ONNX file it wraps,
refused where gradients are needed."""

import json
import pickle

import numpy as np
import onnxruntime
import pytest

import sensie

from conftest import ROOT

MODEL = str(ROOT / "examples" / "mnist" / "mnist_cnn.onnx")


def onnxruntime_function():
    """The bundled MNIST model run by onnxruntime's own InferenceSession: an
    independent forward pass, sensie seeing only a Python function."""
    session = onnxruntime.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def mnist(x):
        return session.run(None, {name: x})[0]

    return mnist


@pytest.fixture(scope="module")
def models():
    onnx = sensie.Model(MODEL)
    function = sensie.Model(onnxruntime_function(), output_kind=onnx.info["output_kind"])
    return onnx, function


def recorded_tests(result):
    """A result's tests as results.json holds them (the model's section names the model, so it differs)."""
    return json.loads(result.to_json())["tests"]


def test_a_function_wrapping_onnxruntime_gives_the_onnx_models_results(models, digits):
    x, y = digits
    ink = x.reshape(len(x), -1).mean(axis=1)
    results = []
    for model in models:
        probe = sensie.Probe(model, batch_size=64, seed=2, replicates=200, quiet=True)
        results.append(
            [
                recorded_tests(probe.predict_and_measure_perturbed(x, y, "rotate", p_min=0, p_max=90, steps=4)),
                recorded_tests(probe.predict_and_measure_perturbed(x, y, lambda b, p: b * np.float32(p), p_values=[0.5, 1.0], label="dim")),
                recorded_tests(probe.predict_and_measure(x, y, ink, prop="ink", bins="q3")),
                recorded_tests(probe.test_class_sensitivity(x, y)),
            ]
        )
    assert results[0] == results[1]
    assert results[0][0][0]["verdict"] == "high"  # rotating digits by 90 degrees does change the scores


def test_a_function_model_runs_a_whole_config(models):
    onnx, function = models
    config = {
        "seed": 1,
        "replicates": 100,
        "data": {"path": "examples/mnist/data/test_x.npy", "labels": "examples/mnist/data/test_y.npy"},
        "perturb": [{"name": "gaussian-noise", "values": [0, 0.2]}],
        "classes": True,
    }
    expected = json.loads(sensie.Probe(onnx, quiet=True).run(config).to_json())
    mine = json.loads(sensie.Probe(function, quiet=True).run(config).to_json())
    assert mine["tests"] == expected["tests"]
    assert mine["data"] == expected["data"]
    # The number of scores is learnt from the function's first batch.
    assert mine["model"]["outputs"][0]["shape"] == [None, 10]
    assert mine["model"]["path"].startswith("<function")


def test_a_function_model_predicts_pickles_and_is_refused_where_gradients_are_needed(models, digits):
    onnx, function = models
    x = digits[0][:5]
    assert function.is_function and not onnx.is_function
    assert np.array_equal(function.predict(x), onnx.predict(x))
    assert pickle.loads(pickle.dumps(sensie.Model(np.tanh))).predict(x[:, 0, 0]).shape == (5, 28)
    with pytest.raises(TypeError, match="sensie.explain needs gradients"):
        sensie.explain(function, x)
    with pytest.raises(TypeError, match="sensie.visualize.maximize needs gradients"):
        sensie.visualize.maximize(function, class_index=3)
    with pytest.raises(TypeError, match="sensie.visualize.features needs gradients"):
        sensie.visualize.features(function, x, "conv1")


def test_bad_function_models_raise_clear_errors(digits):
    x, y = digits
    with pytest.raises(ValueError, match="output kind 'odds'"):
        sensie.Model(lambda b: b, output_kind="odds")
    with pytest.raises(ValueError, match="input names an ONNX model's input"):
        sensie.Model(lambda b: b, input="x")
    wrong_rows = sensie.Probe(sensie.Model(lambda b: np.zeros((1, 10))), quiet=True)
    with pytest.raises(ValueError, match="returned 1 rows of scores for a batch of 256 examples"):
        wrong_rows.test_class_sensitivity(x, y)

    # Ten classes for the first batch, nine for the next.
    calls = []

    def shrinking(b):
        calls.append(len(b))
        return np.zeros((len(b), 10 if len(calls) == 1 else 9))

    with pytest.raises(ValueError, match="returned 9 scores per example for this batch and 10 before"):
        sensie.Probe(sensie.Model(shrinking), quiet=True).test_class_sensitivity(x, y)

    def broken(b):
        raise ZeroDivisionError("inside the model")

    with pytest.raises(ZeroDivisionError, match="inside the model"):
        sensie.Probe(sensie.Model(broken), quiet=True).test_class_sensitivity(x, y)
