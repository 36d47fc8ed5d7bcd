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


LRP_FIXTURES = MNIST.parents[1] / "crates" / "sensie" / "tests" / "data" / "explain"


@pytest.mark.parametrize("composite", ["epsilon", "epsilon-plus-flat", "epsilon-gamma-box", "alpha1-beta0"])
def test_lrp_matches_zennit(model, composite):
    # zennit 0.5.1's relevance (float64) on the MNIST CNN, written by
    # python/make_lrp_fixtures.py; the bounds of z^B are the fixture's [0, 1].
    ref = np.load(LRP_FIXTURES / "lrp.npz")
    x, target = ref["mnist_x"], ref["mnist_target"]
    got = sensie.explain(model, x, method="lrp", target="label", labels=target, lrp_composite=composite, box=(0.0, 1.0))
    want = ref[f"mnist_{composite.replace('-', '_')}"]
    for g, w in zip(got, want):
        assert np.linalg.norm(g - w) / np.linalg.norm(w) < (1e-4 if composite == "epsilon" else 1e-3)


def test_blur_saliency_matches_the_equations(model):
    # Greydanus et al.'s saliency computed with numpy/scipy in the fixture script.
    ref = np.load(LRP_FIXTURES / "lrp.npz")
    x, target = ref["blur_x"], ref["blur_target"]
    got = sensie.explain(
        model, x, method="blur-saliency", target="label", labels=target, blur_sigma=3.0, mask_sigma=5.0, stride=4, score="all"
    )
    want = ref["blur_b3_s5_k4_all"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
