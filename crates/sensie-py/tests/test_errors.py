"""Bad input raises the Python exception a user expects, with the CLI's message."""

import json

import numpy as np
import pytest

import sensie

MODEL = "examples/mnist/mnist_cnn.onnx"


@pytest.fixture(scope="module")
def probe():
    return sensie.Probe(sensie.Model(MODEL), quiet=True)


def test_a_missing_model_file_is_file_not_found():
    with pytest.raises(FileNotFoundError, match="no_such.onnx"):
        sensie.Model("no_such.onnx")


def test_a_file_that_is_not_onnx_is_a_value_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        sensie.Model(bad)
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        sensie.Model(b"\x00\x01garbage")


def test_wrong_types_are_type_errors(probe, digits):
    x, y = digits
    with pytest.raises(TypeError, match="sensie.Model takes"):
        sensie.Model(42)
    with pytest.raises(TypeError, match="sensie.Probe takes"):
        sensie.Probe("model.onnx")
    with pytest.raises(TypeError, match="perturber must be"):
        probe.predict_and_measure_perturbed(x, y, 3.5)
    with pytest.raises(TypeError, match="expected numbers"):
        probe.test_class_sensitivity(np.array([["a"]]), y)


def test_probe_settings_are_checked_where_they_are_given():
    model = sensie.Model(MODEL)
    with pytest.raises(ValueError, match="sensie.Probe: threads must be from 0 to"):
        sensie.Probe(model, threads=-1)
    with pytest.raises(ValueError, match=r"sensie.Probe: seed must be from 0 to 18446744073709551615, not -1"):
        sensie.Probe(model, seed=-1)
    with pytest.raises(ValueError, match="sensie.Probe: batch_size must be from 1 to"):
        sensie.Probe(model, batch_size=0)
    with pytest.raises(TypeError, match="sensie.Probe: batch_size must be a whole number, not 2.5"):
        sensie.Probe(model, batch_size=2.5)
    assert sensie.Probe(model, seed=np.uint64(2**64 - 1), batch_size=np.int32(8)).seed == 2**64 - 1


def test_whole_number_arguments_of_explain_and_visualize_are_checked_by_name(digits):
    """A negative count or seed was an OverflowError ("can't convert negative
    int to unsigned", or "failed to extract field Settings.steps") naming no
    argument; a fractional one a TypeError naming none either."""
    model, x = sensie.Model(MODEL), digits[0][:2]
    for name in ["steps", "samples", "window", "stride", "batch_size", "threads", "curve_steps"]:
        with pytest.raises(ValueError, match=f"sensie.explain: {name} must be from 0 to .*, not -1"):
            sensie.explain(model, x, method="saliency", **{name: -1})
    with pytest.raises(ValueError, match="sensie.explain: seed must be from 0 to 18446744073709551615, not -1"):
        sensie.explain(model, x, seed=-1)
    with pytest.raises(TypeError, match="sensie.explain: steps must be a whole number, not 2.5"):
        sensie.explain(model, x, steps=2.5)
    maximize = "sensie.visualize.maximize"
    for arguments in [{"class_index": -1}, {"steps": -1}, {"restarts": -1}, {"seed": -1}, {"jitter": -1}, {"blur_every": -1}]:
        name = next(iter(arguments))
        with pytest.raises(ValueError, match=f"{maximize}: {name} must be from 0 to .*, not -1"):
            sensie.visualize.maximize(model, **dict({"class_index": 1, "steps": 2, "restarts": 1}, **arguments))
    with pytest.raises(ValueError, match=f"{maximize}: neuron must be from 0 to .*, not -1"):
        sensie.visualize.maximize(model, layer="/relu1/Relu_output_0", channel=0, neuron=(3, -1), steps=2, restarts=1)
    with pytest.raises(ValueError, match="sensie.visualize.dream: octaves must be from 0 to .*, not -1"):
        sensie.visualize.dream(model, x, "/relu1/Relu_output_0", octaves=-1)
    with pytest.raises(ValueError, match="sensie.visualize.features: batch_size must be from 0 to .*, not -1"):
        sensie.visualize.features(model, x, "/relu1/Relu_output_0", batch_size=-1)
    # NumPy integers are whole numbers.
    assert sensie.explain(model, x, method="saliency", steps=np.int64(3), seed=np.uint64(2**64 - 1)).shape == x.shape
    # A fractional index was truncated: indices=[1.7] explained example 1.
    with pytest.raises(TypeError, match="sensie.explain: indices must be a whole number, not 1.7"):
        sensie.explain(model, x, method="saliency", indices=[1.7])
    with pytest.raises(ValueError, match=r"sensie.explain: indices \[-1\] are negative"):
        sensie.explain(model, x, method="saliency", indices=[0, -1])
    assert sensie.explain(model, x, method="saliency", indices=np.array([1])).shape == (1,) + x.shape[1:]


def test_a_plot_without_matplotlib_is_refused_before_the_run(probe, digits, monkeypatch):
    """plot=True without matplotlib raised ImportError after the sweep had
    run, losing its result; now before any work."""
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    ran = []

    def perturber(batch, p):
        ran.append(p)
        return batch

    x, y = digits[0][:8], digits[1][:8]
    with pytest.raises(ImportError, match="matplotlib"):
        probe.predict_and_measure_perturbed(x, y, perturber, p_values=[0, 1], plot=True)
    assert ran == []
    with pytest.raises(ImportError, match="matplotlib"):
        probe.test_class_sensitivity(x, y, plot=True)
    # Without plot, matplotlib is not needed.
    assert probe.predict_and_measure_perturbed(x, y, perturber, p_values=[0, 1]).levels


def test_an_unknown_perturbation_names_the_valid_ones(probe, digits):
    x, y = digits
    with pytest.raises(ValueError, match=r"unknown perturbation 'rotat' \(did you mean 'rotate'\?\)"):
        probe.predict_and_measure_perturbed(x, y, "rotat")
    with pytest.raises(ValueError, match="unknown option of perturbation 'rotate'"):
        probe.predict_and_measure_perturbed(x, y, "rotate", options={"colour": 1})


def test_mismatched_labels_and_wrong_shapes_are_value_errors(probe, digits):
    x, y = digits
    with pytest.raises(ValueError, match="300 images but 299 labels"):
        probe.test_class_sensitivity(x, y[:-1])
    with pytest.raises(ValueError, match="must be N x H x W"):
        probe.test_class_sensitivity(x[0, 0], y)
    with pytest.raises(ValueError, match="the labels are regression targets, not classes"):
        probe.test_class_sensitivity(x[:2], np.array([0.5, 1]))
    with pytest.raises(ValueError, match="NaN, infinite"):
        probe.test_class_sensitivity(np.full((2, 28, 28), np.nan), y[:2])
    with pytest.raises(ValueError, match="the label of example 0 is 0.5, not a class index"):
        sensie.Probe(probe.model, task="classify").test_class_sensitivity(x[:2], np.array([0.5, 1]))
    with pytest.raises(ValueError, match="unknown task 'sort'"):
        sensie.Probe(probe.model, task="sort").test_class_sensitivity(x[:2], y[:2])


def test_a_perturber_that_changes_the_shape_is_refused(probe, digits):
    x, y = digits
    with pytest.raises(ValueError, match="must return the batch with the same shape"):
        probe.predict_and_measure_perturbed(x, y, lambda b, p: b[:, :, :10], p_values=[1])


def test_a_config_with_an_unknown_key_is_refused(probe):
    with pytest.raises(ValueError, match="unknown field `colour`"):
        probe.run({"colour": 1})
    with pytest.raises(FileNotFoundError):
        probe.run({"data": {"path": "no/such.npy", "labels": "no/such_y.npy"}, "classes": True})


def test_a_configs_sweeps_may_be_the_command_lines_text(probe):
    data = {"path": "examples/mnist/data/test_x.npy", "labels": "examples/mnist/data/test_y.npy"}
    text = probe.run({"data": data, "perturb": ["rotate=0:90:3"]})
    table = probe.run({"data": data, "perturb": [{"name": "rotate", "values": [0, 45, 90]}]})
    assert json.loads(text.to_json())["tests"][0]["levels"] == json.loads(table.to_json())["tests"][0]["levels"]
    with pytest.raises(ValueError, match="'0:90' is neither a:b:n"):
        probe.run({"data": data, "perturb": ["rotate=0:90"]})


def test_an_example_listed_twice_is_refused(digits):
    with pytest.raises(ValueError, match="example index 1: it is listed twice"):
        sensie.explain(sensie.Model(MODEL), digits[0][:4], method="saliency", target="predicted", indices=[1, 0, 1])


def test_explain_refuses_bad_methods_and_shapes():
    model = sensie.Model(MODEL)
    with pytest.raises(ValueError, match="unknown"):
        sensie.explain(model, np.zeros((1, 1, 28, 28)), method="no-such-method")
    with pytest.raises(ValueError, match="expects"):
        sensie.explain(model, np.zeros((1, 3, 28, 28)), method="saliency")
    with pytest.raises(TypeError, match="sensie.Model"):
        sensie.explain(lambda x: x, np.zeros((1, 1, 28, 28)))


def test_explain_and_visualize_refuse_images_holding_nan(digits):
    """As files are refused on loading: a NaN pixel would make the maps NaN
    or, through ReLU's gradient, silently zero."""
    model = sensie.Model(MODEL)
    x = digits[0][:4].copy()
    x[2, 0, 5, 5] = np.nan
    with pytest.raises(ValueError, match="example 2 holds 1 NaN or infinite value"):
        sensie.explain(model, x, method="saliency", target="predicted")
    with pytest.raises(ValueError, match="example 2 holds 1 NaN or infinite value"):
        sensie.explain(model, x, method=["saliency", "occlusion"], target="predicted")
    assert sensie.explain(model, x, method="saliency", target="predicted", indices=[0, 1]).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="example 2 of the images: it holds 1 NaN"):
        sensie.visualize.features(model, x, "/relu1/Relu_output_0")
    with pytest.raises(ValueError, match="example 2 of the images: it holds 1 NaN"):
        sensie.visualize.dream(model, x, "/relu1/Relu_output_0")


def test_unsupported_onnxruntime_versions_are_refused(monkeypatch):
    from sensie import _runtime

    for version in ["1.23.2", "2.0.0"]:
        monkeypatch.setattr(_runtime.importlib.metadata, "version", lambda name, v=version: v)
        with pytest.raises(ImportError, match=f"onnxruntime {version} is installed but sensie supports 1.24 <= version < 2"):
            _runtime.library_path()
    monkeypatch.setattr(_runtime.importlib.metadata, "version", lambda name: "1.32.0")
    assert _runtime.library_path().endswith(".so.1.32.0")


def test_the_extension_carries_no_path_of_the_checkout_it_was_built_in():
    """ONNX Runtime comes from the onnxruntime wheel, never from a build machine's .sensie/lib."""
    import pathlib

    extension = pathlib.Path(sensie._sensie.__file__).read_bytes()
    assert b".sensie/lib" not in extension


def test_one_hot_labels_are_classes_as_in_a_labels_file(probe, digits):
    """Keras's to_categorical rows: the same classes as the integer labels, in
    a probe and in explain; a row that is not one-hot, and a class label that
    is not a whole number, are refused instead of read some other way."""
    x, y = digits[0][:40], digits[1][:40]
    one_hot = np.eye(10)[y]
    assert probe.test_class_sensitivity(x, one_hot).to_json() == probe.test_class_sensitivity(x, y).to_json()
    model = sensie.Model(MODEL)
    by_index = sensie.explain(model, x[:3], method=["saliency"], target="label", labels=y[:3], quiet=True)
    by_row = sensie.explain(model, x[:3], method=["saliency"], target="label", labels=one_hot[:3], quiet=True)
    assert by_row.targets == by_index.targets == [int(v) for v in y[:3]]
    assert np.array_equal(by_row.maps["saliency"], by_index.maps["saliency"])
    bad = one_hot.copy()
    bad[2, 0] = 1.0 - bad[2, 0]
    with pytest.raises(ValueError, match="row 2 of the labels is not one-hot"):
        probe.test_class_sensitivity(x, bad)
    with pytest.raises(ValueError, match="not a class index"):
        sensie.explain(model, x[:2], method="saliency", target="label", labels=[2.5, 1], quiet=True)


def test_a_python_sweeps_values_must_be_finite(probe, digits):
    x, y = digits
    with pytest.raises(ValueError, match="NaN is not a finite number; every value must be"):
        probe.predict_and_measure_perturbed(x[:10], y[:10], lambda b, p: b, p_values=[0, float("nan")])
    with pytest.raises(ValueError, match="none given"):
        probe.predict_and_measure_perturbed(x[:10], y[:10], lambda b, p: b, p_values=[])


def test_a_python_sweep_listed_up_and_down_is_taken_in_increasing_order(probe, digits):
    """As the CLI's: the threshold crossing and the range change read the levels in order."""
    x, y = digits[0][:40], digits[1][:40]
    rotate = lambda b, p: np.rot90(b, k=int(p // 90), axes=(-2, -1))  # noqa: E731
    shuffled = probe.predict_and_measure_perturbed(x, y, rotate, p_values=[180, 0, 270, 90], label="r")
    in_order = probe.predict_and_measure_perturbed(x, y, rotate, p_values=[0, 90, 180, 270], label="r")
    assert shuffled.to_json() == in_order.to_json()
    assert [level["value"] for level in json.loads(in_order.to_json())["tests"][0]["levels"]] == [0, 90, 180, 270]
