"""sensie.distributed: a probe config sharded over a Dask LocalCluster's
worker processes and merged gives the single-process results.json of the
command line (the same numbers, to the last bit: every batch is the one the
single process ran)."""

import json
import subprocess

import pytest

distributed = pytest.importorskip("distributed")

from sensie.distributed import probe_on_dask  # noqa: E402

from conftest import MNIST  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def config(out):
    return {
        "model": str(MNIST / "mnist_cnn.onnx"),
        "out": str(out),
        "data": {"path": str(MNIST / "data" / "test_x.npy"), "labels": str(MNIST / "data" / "test_y.npy")},
        "perturb": [{"name": "rotate", "values": "0:90:4"}, {"name": "gaussian-noise", "values": [0, 0.2]}],
        "classes": True,
        "seed": 2,
        "replicates": 100,
        "batch_size": 64,
    }


def test_shards_on_dask_workers_merge_into_the_single_process_results(client, cli, tmp_path):
    single = tmp_path / "single"
    c = config(single)
    flags = ["--model", c["model"], "--data", c["data"]["path"], "--labels", c["data"]["labels"]]
    flags += ["--perturb", "rotate=0:90:4", "--perturb", "gaussian-noise=0,0.2", "--classes"]
    flags += ["--seed", "2", "--replicates", "100", "--batch-size", "64", "--out", str(single), "--quiet"]
    subprocess.run([str(cli), "probe", *flags], check=True, capture_output=True)
    out = tmp_path / "dask"
    results = probe_on_dask(config(out), client, shards=3)
    assert (out / "report.html").exists() and (out / "scores" / "run.json").exists()
    assert (out / "results.json").read_bytes() == (single / "results.json").read_bytes()
    assert json.loads(results.to_json()) == json.loads((single / "results.json").read_text())
    assert [t.name for t in results.tests] == ["rotate", "gaussian-noise", "classes"]
    # The three parts hold every example once.
    spans = [json.loads((tmp_path / "dask.parts" / f"part-{k}" / "scores" / "run.json").read_text()) for k in range(3)]
    assert [(s["start"], s["end"]) for s in spans] == [(0, 320), (320, 640), (640, 1000)]
    # More shards than the run's 16 batches of 64: one part is empty, and
    # the merge is still the single process's results.json.
    more = tmp_path / "more"
    probe_on_dask(config(more), client, shards=17)
    assert (more / "results.json").read_bytes() == (single / "results.json").read_bytes()
    spans = [json.loads((tmp_path / "more.parts" / f"part-{k}" / "scores" / "run.json").read_text()) for k in range(17)]
    assert sum(s["start"] == s["end"] for s in spans) == 1


def test_bad_arguments_are_refused_before_any_work(client, tmp_path):
    with pytest.raises(ValueError, match="probe_on_dask: shards must be from 1 to .*, not 0"):
        probe_on_dask(config(tmp_path / "x"), client, shards=0)
    with pytest.raises(TypeError, match="probe_on_dask: shards must be a whole number, not 2.0"):
        probe_on_dask(config(tmp_path / "x"), client, shards=2.0)
    with pytest.raises(TypeError, match="dict"):
        probe_on_dask("probe.toml", client, shards=2)
