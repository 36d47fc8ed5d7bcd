"""The Python API gives the command line's numbers."""

import json
import pathlib
import subprocess

import numpy as np
import pytest

import sensie

from conftest import MNIST

MODEL = "examples/mnist/mnist_cnn.onnx"

CONFIG = {
    "model": MODEL,
    "seed": 3,
    "replicates": 300,
    "classes": True,
    "data": {"path": "examples/mnist/data/test_x.npy", "labels": "examples/mnist/data/test_y.npy"},
    "perturb": [
        {"name": "rotate", "values": "0:180:7"},
        {"name": "gaussian-noise", "values": [0, 20, 60]},
    ],
}

TOML = """
model = "examples/mnist/mnist_cnn.onnx"
seed = 3
replicates = 300
classes = true
[data]
path = "examples/mnist/data/test_x.npy"
labels = "examples/mnist/data/test_y.npy"
[[perturb]]
name = "rotate"
values = "0:180:7"
[[perturb]]
name = "gaussian-noise"
values = [0, 20, 60]
"""


def cli_results(cli, tmp_path, toml=TOML):
    # A config's paths are relative to its own folder: written at the
    # repository root (the tests' working directory) and named relatively,
    # its paths read exactly as the Python config's, so results.json names
    # the same files.
    config = pathlib.Path(f"probe-{tmp_path.name}.toml")
    config.write_text(toml)
    out = tmp_path / "cli"
    try:
        subprocess.run([str(cli), "probe", "--config", str(config), "--out", str(out), "--quiet"], check=True, capture_output=True)
    finally:
        config.unlink()
    return (out / "results.json").read_text()


def test_a_config_run_gives_the_clis_results_json_exactly(cli, tmp_path):
    expected = cli_results(cli, tmp_path)
    results = sensie.Probe(sensie.Model(MODEL), batch_size=100, quiet=True).run(CONFIG)
    assert results.to_json() == expected
    assert [t.name for t in results.tests] == ["rotate", "gaussian-noise", "classes"]


def test_saving_writes_the_clis_files(tmp_path):
    results = sensie.Probe(sensie.Model(MODEL), quiet=True).run(dict(CONFIG, replicates=100))
    report = results.save(tmp_path / "py")
    assert report.is_file()
    for name in ["results.json", "results.csv", "plots/rotate.svg", "examples/rotate.png"]:
        assert (tmp_path / "py" / name).is_file(), name
    assert json.loads((tmp_path / "py" / "results.json").read_text()) == json.loads(results.to_json())
    with pytest.raises(ValueError, match="already holds"):
        results.save(tmp_path / "py")


def test_array_methods_give_the_clis_statistics(cli, tmp_path):
    """predict_and_measure_perturbed and test_class_sensitivity on arrays in
    memory: the same tests as the CLI run on the files."""
    expected = json.loads(cli_results(cli, tmp_path))
    x = np.load(MNIST / "data" / "test_x.npy")
    y = np.load(MNIST / "data" / "test_y.npy")
    probe = sensie.Probe(sensie.Model(MODEL), seed=3, replicates=300, quiet=True)
    rotate = probe.predict_and_measure_perturbed(x, y, "rotate", p_min=0, p_max=180, steps=7)
    classes = probe.test_class_sensitivity(x, y)
    assert json.loads(rotate.to_json())["tests"][0] == expected["tests"][0]
    assert classes.result == expected["tests"][2]
    assert rotate.verdict == expected["tests"][0]["verdict"] == "high"
    assert rotate.effect == expected["tests"][0]["effect"]["size"]
    assert rotate.threshold == expected["tests"][0]["threshold"]["value"]


def test_infinite_levels_reach_the_library_as_the_cli_gives_them(cli, tmp_path):
    """Poisson noise's identity gain is inf, which JSON cannot carry: a
    config's values and p_values with inf give the CLI's results, and a NaN
    level the CLI's message, not a JSON parser's."""
    toml = TOML.replace('"gaussian-noise"\nvalues = [0, 20, 60]', '"poisson-noise"\nvalues = [10, 1000, inf]')
    assert "inf]" in toml
    expected = cli_results(cli, tmp_path, toml)
    config = dict(CONFIG, perturb=[CONFIG["perturb"][0], {"name": "poisson-noise", "values": [10, 1000, float("inf")]}])
    probe = sensie.Probe(sensie.Model(MODEL), seed=3, replicates=300, quiet=True)
    assert probe.run(config).to_json() == expected
    x = np.load(MNIST / "data" / "test_x.npy")
    y = np.load(MNIST / "data" / "test_y.npy")
    noise = probe.predict_and_measure_perturbed(x, y, "poisson-noise", p_values=[10, 1000, np.inf])
    assert json.loads(noise.to_json())["tests"][0] == json.loads(expected)["tests"][1]
    assert noise.summary()["level"].tolist() == [10, 1000, np.inf]
    with pytest.raises(ValueError, match="values of perturbation 'brightness': give at least one value, each a number or inf"):
        probe.predict_and_measure_perturbed(x[:8], y[:8], "brightness", p_values=[1, float("nan")])


def test_a_python_perturber_doing_what_a_builtin_does_gives_the_same_numbers(digits):
    """brightness multiplies every pixel by the factor in float64 and rounds to float32."""
    x, y = digits
    probe = sensie.Probe(sensie.Model(MODEL), seed=1, replicates=200, quiet=True)
    values = [0.1, 0.3, 0.6, 1.0, 1.5]
    builtin = probe.predict_and_measure_perturbed(x, y, "brightness", p_values=values)

    calls = []

    def brighter(batch, p):
        calls.append(batch.shape)
        return (batch.astype(np.float64) * p).astype(np.float32)

    mine = probe.predict_and_measure_perturbed(x, y, brighter, p_values=values)
    assert mine.name == "brighter"
    assert calls and all(shape[1:] == x.shape[1:] for shape in calls)  # the user's N x H x W layout
    for key in ["levels", "effect", "slope", "threshold", "verdict"]:
        assert mine.result[key] == builtin.result[key], key


def test_property_tests_from_arrays_and_dataframes(digits):
    pd = pytest.importorskip("pandas")
    x, y = digits
    ink = x.reshape(len(x), -1).mean(axis=1)
    probe = sensie.Probe(sensie.Model(MODEL), replicates=100, quiet=True)
    from_array = probe.predict_and_measure(x, y, ink, prop="ink", bins="q4")
    from_frame = probe.predict_and_measure(x, y, pd.DataFrame({"ink": ink, "other": 0}), prop="ink", bins="q4")
    assert from_array.result == from_frame.result
    # The original Sensie's label= names the property in the plot.
    labelled = probe.predict_and_measure(x, y, ink, prop="ink", bins="q4", label="ink per pixel")
    assert labelled.label == "ink per pixel" and labelled.result == from_array.result
    assert [level["n"] for level in from_array.levels] == [75, 75, 75, 75]
    table = from_array.summary()
    assert list(table.columns) == ["test", "level", "n", "mean_score", "ci95_lo", "ci95_hi", "accuracy", "verdict"]
    assert len(table) == 4


def test_float64_fortran_order_and_strided_images_are_converted(digits):
    x, y = digits
    probe = sensie.Probe(sensie.Model(MODEL), replicates=100, quiet=True)
    base = probe.test_class_sensitivity(x[:64], y[:64]).result
    assert probe.test_class_sensitivity(np.asfortranarray(x[:64].astype(np.float64)), y[:64]).result == base
    strided = np.repeat(x[:64], 2, axis=2)[:, :, ::2]
    assert not strided.flags.c_contiguous
    assert probe.test_class_sensitivity(strided, y[:64].astype(np.int32)).result == base


def test_the_progress_callback_sees_every_batch(digits, capsys):
    x, y = digits
    probe = sensie.Probe(sensie.Model(MODEL), batch_size=100, replicates=100)
    probe.predict_and_measure_perturbed(x, y, "rotate", p_values=[0, 90])
    assert "batch" in capsys.readouterr().err


def test_an_exception_in_a_python_perturber_reaches_the_caller(digits):
    x, y = digits

    def broken(batch, p):
        raise ZeroDivisionError("my perturber broke")

    with pytest.raises(ZeroDivisionError, match="my perturber broke"):
        sensie.Probe(sensie.Model(MODEL), quiet=True).predict_and_measure_perturbed(x, y, broken, p_values=[1, 2])


def test_keyboard_interrupt_between_batches_stops_the_run(digits):
    """Ctrl-C arrives as SIGINT; the run stops after the batch in hand."""
    import os
    import signal

    x, y = digits
    seen = []

    def interrupting(batch, p):
        if not seen:
            os.kill(os.getpid(), signal.SIGINT)
        seen.append(p)
        return batch

    probe = sensie.Probe(sensie.Model(MODEL), batch_size=10, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        probe.predict_and_measure_perturbed(x, y, interrupting, p_values=list(range(20)))
    assert len(seen) < 600  # 30 batches x 20 levels were asked for


def test_skip_bad_leaves_out_images_with_nan_pixels(digits):
    x, y = digits
    x = x.copy()
    x[0, 0, 3, 3] = np.nan
    results = sensie.Probe(sensie.Model(MODEL), skip_bad=True, replicates=100, quiet=True).test_class_sensitivity(x, y)
    data = json.loads(results.to_json())["data"]
    assert data["skipped"] == ["0"] and data["n"] == 299


def test_importing_sensie_turns_onnx_runtimes_telemetry_off(tmp_path):
    # In a fresh interpreter with a fresh cache folder: ONNX Runtime's
    # telemetry keeps its device id and event store under
    # $XDG_CACHE_HOME/Microsoft unless turned off; ORT_DISABLE_TELEMETRY=0
    # (the user's choice) keeps it on, which shows the check can see it.
    # ONNX Runtime also stays quiet by itself where the environment looks like
    # CI (CI, GITHUB_ACTIONS, JENKINS_URL, GITLAB_CI, TF_BUILD, ...), so the
    # child gets only the variables it needs.
    script = (
        "import sensie, numpy as np\n"
        f"m = sensie.Model({str(MNIST / 'mnist_cnn.onnx')!r})\n"
        "m.predict(np.zeros((1, 1, 28, 28), np.float32))\n"
    )
    import os
    import sys

    def telemetry_written(home, value):
        kept = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "SENSIE_ORT_LIB", "ORT_DYLIB_PATH")
        env = {k: os.environ[k] for k in kept if k in os.environ}
        if value is not None:
            env["ORT_DISABLE_TELEMETRY"] = value
        env["HOME"] = str(home)
        env["XDG_CACHE_HOME"] = str(home / "cache")
        subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
        return (home / "cache" / "Microsoft").exists() or (home / ".cache" / "Microsoft").exists()

    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    assert not telemetry_written(tmp_path / "off", None)
    assert telemetry_written(tmp_path / "on", "0")


def test_a_config_run_takes_the_probes_threshold_and_skip_bad(cli, tmp_path):
    """Probe(threshold=...) fills in a config without one, as --threshold does
    on the command line; Probe(skip_bad=True) leaves out the images the data's
    own skip_bad would; a comparison config is refused by name."""
    expected = json.loads(cli_results(cli, tmp_path, TOML.replace("classes = true", "classes = true\nthreshold = 0.9")))
    found = json.loads(sensie.Probe(sensie.Model(MODEL), quiet=True).run(dict(CONFIG, threshold=0.9)).to_json())
    carried = json.loads(sensie.Probe(sensie.Model(MODEL), threshold=0.9, quiet=True).run(CONFIG).to_json())
    assert carried == found == expected
    assert carried["tests"][0]["threshold"]["score"] == 0.9
    x = np.load(MNIST / "data" / "test_x.npy")[:60].copy()
    x[5, 0, 3, 3] = np.nan
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.load(MNIST / "data" / "test_y.npy")[:60])
    config = {"data": {"path": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy")}, "perturb": [{"name": "rotate", "values": [0, 90]}], "replicates": 100}
    with pytest.raises(ValueError, match="skip-bad"):
        sensie.Probe(sensie.Model(MODEL), quiet=True).run(config)
    results = sensie.Probe(sensie.Model(MODEL), skip_bad=True, quiet=True).run(config)
    assert results.tests[0].levels[0]["n"] == 59
    with pytest.raises(ValueError, match=r"\[\[data\]\]"):
        sensie.Probe(sensie.Model(MODEL), quiet=True).run(dict(CONFIG, data=[CONFIG["data"], CONFIG["data"]]))


def test_a_grids_summary_names_each_cell_by_its_two_values(cli, tmp_path):
    """A grid's level value is the cell's index: the summary shows the two
    values instead, as the command line's results.csv labels them."""
    config = dict(CONFIG, perturb=[], classes=False, grid=[{"perturb": [{"name": "rotate", "values": [0, 45]}, {"name": "blur", "values": [0, 1, 2]}]}])
    grid = sensie.Probe(sensie.Model(MODEL), quiet=True).run(config).tests[0]
    rows = list(grid._rows())
    assert [r["level"] for r in rows] == ["0 x 0", "0 x 1", "0 x 2", "45 x 0", "45 x 1", "45 x 2"]


def test_results_pickle_with_their_numbers_and_their_files(digits, tmp_path):
    """A result returned from a Dask worker or cached with pickle: the Rust
    run did not pickle ("cannot pickle 'sensie._sensie.Run' object"). The
    unpickled result has the same results.json and saves the same files."""
    import filecmp
    import pickle

    x, y = digits
    probe = sensie.Probe(sensie.Model(MODEL), replicates=100, quiet=True)
    test = probe.predict_and_measure_perturbed(x, y, "rotate", p_values=[0, 45, 90], label="rotation")
    back = pickle.loads(pickle.dumps(test))
    assert back.to_json() == test.to_json()
    assert (back.name, back.verdict, back.effect, back.threshold, back.label) == (test.name, test.verdict, test.effect, test.threshold, "rotation")
    assert back.result == test.result
    test.save(tmp_path / "live")
    again = pickle.loads(pickle.dumps(back))
    again.save(tmp_path / "unpickled")
    live = sorted(p.relative_to(tmp_path / "live") for p in (tmp_path / "live").rglob("*") if p.is_file())
    assert live == sorted(p.relative_to(tmp_path / "unpickled") for p in (tmp_path / "unpickled").rglob("*") if p.is_file())
    assert {"results.json", "results.csv", "report.html"} <= {p.as_posix() for p in live}
    for name in live:
        assert filecmp.cmp(tmp_path / "live" / name, tmp_path / "unpickled" / name, shallow=False), name
    with pytest.raises(ValueError, match="already holds"):
        again.save(tmp_path / "unpickled")
    again.save(tmp_path / "unpickled", force=True)
    results = pickle.loads(pickle.dumps(probe.run(dict(CONFIG, perturb=CONFIG["perturb"][:1]))))
    assert [t.name for t in results.tests] == ["rotate", "classes"]


def test_a_model_naming_its_classes_names_them_in_array_and_config_runs(cli, digits, tmp_path):
    """A model whose ONNX metadata holds class_names: `sensie probe` names
    the classes by them (results.json's class mapping, the class test's
    levels); the array methods and Probe.run named none."""
    onnx = pytest.importorskip("onnx")
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    graph = onnx.load(MODEL)
    graph.metadata_props.add(key="class_names", value=",".join(names))
    model = tmp_path / "named.onnx"
    onnx.save(graph, model)
    x, y = digits
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "cli"
    subprocess.run(
        [str(cli), "probe", "--model", str(model), "--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
         "--classes", "--replicates", "100", "--out", str(out), "--quiet"],
        check=True, capture_output=True,
    )
    expected = json.loads((out / "results.json").read_text())
    assert expected["data"]["classes"] == {"names": names, "source": "model"}
    probe = sensie.Probe(sensie.Model(model), replicates=100, quiet=True)
    classes = probe.test_class_sensitivity(x, y)
    ours = json.loads(classes.to_json())
    assert ours["data"]["classes"] == expected["data"]["classes"]
    assert ours["tests"] == expected["tests"]
    assert [level["label"] for level in classes.levels] == names
    config = {"model": str(model), "classes": True, "data": {"path": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy")}}
    assert json.loads(probe.run(config).to_json()) == expected


def test_text_labels_are_classes_as_a_text_label_column_gives_them(cli, digits, tmp_path):
    """Labels as class names (a list or a pandas column of words) were a
    TypeError; `sensie probe --label-column` reads a text column as classes,
    by the model's class names when it has them, else in sorted order with a
    warning. The array methods now give the CLI's tests, mapping and warnings."""
    onnx = pytest.importorskip("onnx")
    x, y = digits
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    words = [names[v] for v in y]
    graph = onnx.load(MODEL)
    graph.metadata_props.add(key="class_names", value=",".join(names))
    onnx.save(graph, tmp_path / "named.onnx")
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "meta.csv").write_text("name\n" + "".join(w + "\n" for w in words))
    for model, source in [(MODEL, "sorted"), (str(tmp_path / "named.onnx"), "model")]:
        out = tmp_path / source
        subprocess.run(
            [str(cli), "probe", "--model", model, "--data", str(tmp_path / "x.npy"), "--metadata", str(tmp_path / "meta.csv"),
             "--label-column", "name", "--classes", "--replicates", "100", "--out", str(out), "--quiet"],
            check=True, capture_output=True,
        )
        expected = json.loads((out / "results.json").read_text())
        ours = json.loads(sensie.Probe(sensie.Model(model), replicates=100, quiet=True).test_class_sensitivity(x, words).to_json())
        assert expected["data"]["classes"]["source"] == source
        for key in ["tests", "warnings"]:
            assert ours[key] == expected[key], key
        assert ours["data"]["classes"] == expected["data"]["classes"]
    named = sensie.Probe(sensie.Model(tmp_path / "named.onnx"), replicates=100, quiet=True)
    with pytest.raises(ValueError, match="label 'ten' of example 3 is not among the model's class names"):
        named.test_class_sensitivity(x[:8], words[:3] + ["ten"] + words[4:8])
    # Numbers written as text are numbers, as in a CSV label column.
    numbers = named.test_class_sensitivity(x, y)
    assert named.test_class_sensitivity(x, [str(v) for v in y]).result == numbers.result
