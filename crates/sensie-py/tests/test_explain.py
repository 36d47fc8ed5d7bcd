"""sensie.explain and sensie.visualize from Python: the library's maps as arrays."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import onnxruntime
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


def run_cli(cli, *args):
    subprocess.run([str(cli), *map(str, args)], check=True, capture_output=True)


def test_explain_with_checks_writes_the_clis_files(cli, model, tmp_path):
    """Methods, sanity and faithfulness from arrays: every file equal to
    what `sensie explain` writes for the same examples, explain.json but
    for where the examples came from and the seconds each method took."""
    x = np.load(MNIST / "data" / "test_x.npy")
    y = np.load(MNIST / "data" / "test_y.npy")
    chosen = [13, 19, 36]
    options = ["--method", "saliency,integrated-gradients,gradcam", "--steps", "16", "--sanity", "--faithfulness", "--curve-steps", "5"]
    run_cli(
        cli, "explain", "--model", model.path, "--data", MNIST / "data" / "test_x.npy", "--labels", MNIST / "data" / "test_y.npy",
        "--indices", "13,19,36", "--target", "label", "--stretch", "linear", "--shared-scale", *options, "--out", tmp_path / "cli",
    )
    explanation = sensie.explain(
        model, x, method=["saliency", "integrated-gradients", "gradcam"], indices=chosen, target="label", labels=y, steps=16,
        sanity=True, faithfulness=True, curve_steps=5, out=tmp_path / "py", stretch="linear", shared_scale=True, quiet=True,
    )
    cli_files = sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*") if p.is_file())
    assert cli_files == sorted(p.relative_to(tmp_path / "py") for p in (tmp_path / "py").rglob("*") if p.is_file())
    for name in cli_files:
        if name.name not in ("explain.json", "explain.html"):
            assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "py" / name).read_bytes(), name
    summary = json.loads((tmp_path / "cli" / "explain.json").read_text())
    for entry in summary["methods"] + explanation.summary["methods"]:
        entry.pop("seconds")
    assert summary.pop("data").endswith("test_x.npy") and explanation.summary.pop("data") == "<array>"
    assert summary == explanation.summary
    # The files hold the arrays handed back.
    assert np.array_equal(np.load(tmp_path / "py" / "gradcam-layer.npy"), explanation.layer_maps["gradcam"])
    assert explanation.sanity == json.loads((tmp_path / "cli" / "sanity.json").read_text())
    assert explanation.faithfulness == json.loads((tmp_path / "cli" / "faithfulness.json").read_text())
    # Deletion starts from the unperturbed inputs: the mean of the targets'
    # softmax probabilities, computed here from onnxruntime's logits.
    session = onnxruntime.InferenceSession(model.path, providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x[chosen]})[0].astype(np.float64)
    probability = np.exp(logits - logits.max(axis=1, keepdims=True))
    probability = (probability / probability.sum(axis=1, keepdims=True))[np.arange(3), y[chosen]]
    for method in explanation.faithfulness["methods"]:
        np.testing.assert_allclose(method["deletion"]["mean"][0], probability.mean(), rtol=1e-5)


def test_explain_returns_a_run_for_several_methods_and_refuses_a_bad_score(model, inputs):
    explanation = sensie.explain(model, inputs[:2], method=["gradient", "integrated-gradients"], steps=8, quiet=True)
    assert set(explanation.maps) == {"gradient", "integrated-gradients"}
    assert explanation.sanity is None and explanation.faithfulness is None
    assert explanation.completeness_gaps["integrated-gradients"].shape == (2,)
    assert explanation.targets == list(model.predict(inputs[:2]).argmax(axis=1))
    with pytest.raises(ValueError, match="score"):
        sensie.explain(model, inputs[:2], method="saliency", score="odds")
    with pytest.raises(ValueError, match="has 4 examples"):
        sensie.explain(model, inputs, method="saliency", indices=[1, 4])


def test_an_explanation_pickles_with_its_numbers(model, inputs, tmp_path):
    """An Explanation coming back from a worker: the Rust run did not pickle
    ("cannot pickle 'sensie._sensie._Explanation' object"). Its maps and
    checks do; saving the pictures, which only the run can draw, is refused
    with what to do instead."""
    import pickle

    explanation = sensie.explain(model, inputs[:3], method=["saliency", "gradcam", "integrated-gradients"], steps=8,
                                 faithfulness=True, curve_steps=4, quiet=True)
    back = pickle.loads(pickle.dumps(explanation))
    # The unpickled maps are the arrays computed, bit for bit.
    for name in explanation.maps:
        np.testing.assert_array_equal(back.maps[name], explanation.maps[name])
    np.testing.assert_array_equal(back.layer_maps["gradcam"], explanation.layer_maps["gradcam"])
    np.testing.assert_array_equal(back.completeness_gaps["integrated-gradients"], explanation.completeness_gaps["integrated-gradients"])
    assert (back.summary, back.sanity, back.faithfulness, back.targets) == (explanation.summary, None, explanation.faithfulness, explanation.targets)
    with pytest.raises(ValueError, match="unpickled.*save it .* before pickling"):
        back.save(tmp_path / "after")
    assert explanation.save(tmp_path / "before").is_file()


def test_maximize_takes_the_clis_target_and_options(cli, model, tmp_path):
    """A neuron target, pixel parameterisation, regularisers and diversity:
    the same inputs as `sensie visualize maximize` with those flags."""
    layer = _first_relu(model)
    flags = dict(steps=6, restarts=2, lr=0.1, jitter=2, scale=0.05, rotate=5, l2=0.01, tv=0.02, blur_every=3, blur_sigma=0.7, diversity=5, seed=4)
    run_cli(
        cli, "visualize", "maximize", "--model", model.path, "--layer", layer, "--channel", 2, "--neuron", "6,7", "--param", "pixel",
        *[a for k, v in flags.items() for a in (f"--{k.replace('_', '-')}", v)], "--range", "0,1", "--out", tmp_path / "cli",
    )
    expected = np.load(tmp_path / "cli" / "inputs.npy")
    flags["learning_rate"] = flags.pop("lr")
    found = sensie.visualize.maximize(model, layer=layer, channel=2, neuron=(6, 7), param="pixel", value_range=(0, 1), **flags)
    assert found.shape == (2, 1, 28, 28)
    np.testing.assert_array_equal(found, expected)
    fourier = sensie.visualize.maximize(model, class_index=1, score="probability", decay=0.5, steps=3, restarts=1, data=np.load(MNIST / "data" / "test_x.npy")[:20])
    assert fourier.shape == (1, 1, 28, 28) and 0 <= fourier.min() and fourier.max() <= 1
    with pytest.raises(ValueError, match="param"):
        sensie.visualize.maximize(model, class_index=1, param="wavelet", steps=1)


def _interrupted(call, after=0.5):
    """Runs ``call`` with a SIGINT (what Ctrl-C sends) delivered to this process ``after`` seconds in, checks that
    it raised KeyboardInterrupt, and returns the seconds it took.

    The main thread is inside Rust when the signal comes: Python only notes it, and runs its handler (which raises
    KeyboardInterrupt) when sensie next checks; a call that never checks raises it only once its run has ended.
    """
    timer = threading.Timer(after, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
    finally:
        timer.cancel()
    return time.monotonic() - start


def test_keyboard_interrupt_stops_a_long_explanation(model):
    """Ctrl-C (SIGINT) during an attribution stops it after the batch in hand and raises KeyboardInterrupt.

    Uninterrupted, 1000-step Integrated Gradients of 1000 digits is a million gradient passes, at least 40 s here in
    a release build; the signal comes half a second in, and the call must give up well before the run could have
    finished (Python alone would raise the KeyboardInterrupt only once the whole run had returned).
    """
    x = np.load(MNIST / "data" / "test_x.npy")
    elapsed = _interrupted(lambda: sensie.explain(model, x, method="integrated-gradients", steps=1000, batch_size=32, quiet=True))
    assert elapsed < 20
    # The model still works after the interrupted run.
    assert sensie.explain(model, x[:2], method="saliency").shape == x[:2].shape


def test_keyboard_interrupt_stops_a_quiet_maximization(model):
    """Ctrl-C stops sensie.visualize.maximize after the step in hand, with no progress callback to hear it.

    Uninterrupted, 5000 steps of 64 restarts take about 40 s here in a release build (a gradient pass a step); the
    signal comes half a second in and the call must be back well within 5 s, raising KeyboardInterrupt.
    """
    elapsed = _interrupted(lambda: sensie.visualize.maximize(model, class_index=3, steps=5000, restarts=64, quiet=True))
    assert elapsed < 5
    assert sensie.visualize.maximize(model, class_index=3, steps=2, restarts=1).shape == (1, 1, 28, 28)


def test_keyboard_interrupt_stops_a_dream(model):
    """Ctrl-C stops sensie.visualize.dream after the forward or gradient pass in hand.

    Uninterrupted, 4 octaves of 1000 steps on 64 digits take about 40 s here in a release build; the signal comes
    half a second in and the call must be back well within 5 s, raising KeyboardInterrupt.
    """
    x = np.load(MNIST / "data" / "test_x.npy")[:64]
    layer = _first_relu(model)
    elapsed = _interrupted(lambda: sensie.visualize.dream(model, x, layer, octaves=4, steps=1000))
    assert elapsed < 5
    assert sensie.visualize.dream(model, x[:1], layer, octaves=1, steps=1).shape == x[:1].shape


def test_keyboard_interrupt_in_a_fresh_process_is_not_a_panic(tmp_path):
    """Ctrl-C during a new process's first call that hands arrays back raises KeyboardInterrupt, not pyo3's
    PanicException.

    The Rust side reaches NumPy's C API on its first array, and reaching it runs Python code: with a Ctrl-C pending,
    that code raised the KeyboardInterrupt inside rust-numpy, which panics on any error there. A quiet maximize
    interrupted in a fresh interpreter showed it; the script prints what the call raised.
    """
    script = tmp_path / "interrupt.py"
    script.write_text(
        "import os, signal, threading\n"
        "import sensie\n"
        "model = sensie.Model('examples/mnist/mnist_cnn.onnx')\n"
        "threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "try:\n"
        "    sensie.visualize.maximize(model, class_index=3, steps=5000, restarts=64)\n"
        "except BaseException as e:\n"
        "    print(type(e).__name__)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "KeyboardInterrupt", done.stdout + done.stderr


def test_explain_with_labels_explains_the_label_as_the_cli_does(cli, model, tmp_path):
    """With labels and no target, the CLI explains each example's label (a
    misclassified digit's true class), not the predicted class."""
    x = np.load(MNIST / "data" / "test_x.npy")
    y = np.load(MNIST / "data" / "test_y.npy")
    wrong = np.flatnonzero(model.predict(x).argmax(axis=1) != y)[:2]
    assert len(wrong) == 2
    np.save(tmp_path / "x.npy", x[wrong])
    np.save(tmp_path / "y.npy", y[wrong])
    run_cli(cli, "explain", "--model", model.path, "--data", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--method", "saliency", "--out", tmp_path / "cli")
    expected = np.load(tmp_path / "cli" / "saliency.npy")
    found = sensie.explain(model, x[wrong], method="saliency", labels=y[wrong])
    np.testing.assert_array_equal(found, expected)
    predicted = sensie.explain(model, x[wrong], method="saliency", target="predicted")
    assert not np.array_equal(found, predicted)
    with pytest.raises(ValueError, match="empty list"):
        sensie.explain(model, x[:2], method=[])
    with pytest.raises(ValueError, match=r"indices \[-1\]"):
        sensie.explain(model, x[:2], method="saliency", indices=[-1])


def test_dream_keeps_the_datas_range_as_the_cli_does(cli, model, tmp_path):
    """Images beyond [0, 1] (here 0 to 255): dream's default range is theirs,
    as `sensie visualize dream --data` takes it, not [0, 1]."""
    x = np.load(MNIST / "data" / "test_x.npy")[:2] * 255
    np.save(tmp_path / "x.npy", x)
    layer = _first_relu(model)
    run_cli(cli, "visualize", "dream", "--model", model.path, "--data", tmp_path / "x.npy", "--layer", layer, "--steps", 2, "--octaves", 1, "--out", tmp_path / "cli")
    expected = np.load(tmp_path / "cli" / "inputs.npy")
    found = sensie.visualize.dream(model, x, layer, steps=2, octaves=1)
    np.testing.assert_array_equal(found, expected)
    assert found.max() > 1


def test_maximize_refuses_data_with_a_nan_pixel(model):
    """The data's mean starts the image and its range bounds it: a NaN pixel
    made the whole result NaN, an infinite one the range."""
    x = np.load(MNIST / "data" / "test_x.npy")[:4].copy()
    for bad in (np.nan, np.inf):
        x[1, 0, 3, 3] = bad
        with pytest.raises(ValueError, match="example 1"):
            sensie.visualize.maximize(model, class_index=3, steps=2, restarts=1, data=x)
