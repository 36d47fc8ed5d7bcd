"""sensie.explain and sensie.visualize from Python: the library's maps as arrays."""

import numpy as np
import pytest

import sensie

from conftest import MNIST


@pytest.fixture(scope="module")
def model():
    return sensie.Model("examples/mnist/mnist_cnn.onnx")


@pytest.fixture(scope="module")
def inputs():
    return np.load(MNIST / "data" / "test_x.npy")[:4]


def test_integrated_gradients_are_complete(model, inputs):
    """Completeness: the attributions sum to f(x) - f(zeros) for the predicted class."""
    maps = sensie.explain(model, inputs, method="integrated-gradients", steps=64)
    assert maps.shape == inputs.shape and maps.dtype == np.float32
    logits = model.predict(inputs)
    base = model.predict(np.zeros_like(inputs))
    k = logits.argmax(axis=1)
    change = logits[np.arange(4), k] - base[np.arange(4), k]
    np.testing.assert_allclose(maps.reshape(4, -1).sum(axis=1), change, rtol=0.02)


def test_gradcam_returns_the_map_and_the_layer_map(model, inputs):
    cam, layer = sensie.explain(model, inputs, method="gradcam")
    assert cam.shape == (4, 28, 28)
    assert layer.ndim == 3 and layer.shape[0] == 4


def test_gradient_target_label_needs_labels(model, inputs):
    with pytest.raises(ValueError, match="no labels were given"):
        sensie.explain(model, inputs, method="saliency", target="label")
    y = np.load(MNIST / "data" / "test_y.npy")[:4]
    assert sensie.explain(model, inputs, method="saliency", target="label", labels=y).shape == inputs.shape


def test_visualize_returns_arrays(model, inputs):
    weights = sensie.visualize.kernels(model)
    assert weights.ndim == 4 and weights.shape[1] == 1
    info = model.info
    assert info["layout"] == "NCHW"
    dreamed = sensie.visualize.dream(model, inputs[:1], layer=_first_relu(model), steps=2, octaves=1)
    assert dreamed.shape == inputs[:1].shape
    found = sensie.visualize.maximize(model, class_index=3, steps=4, restarts=1)
    assert found.shape == (1, 1, 28, 28)


def _first_relu(model):
    import onnx

    graph = onnx.load_from_string(model.to_bytes()).graph
    return next(node.output[0] for node in graph.node if node.op_type == "Relu")


def test_show_attribution_draws_three_panels(model, inputs):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    maps = sensie.explain(model, inputs[:1], method="saliency")
    axes = sensie.show_attribution(inputs[0], maps[0])
    assert len(axes) == 3
