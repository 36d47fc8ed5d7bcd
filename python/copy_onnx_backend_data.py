#!/usr/bin/env python3
"""Copy the ONNX project's model test data (shipped in the onnx wheel) into
crates/sensie/tests/data/onnx-backend/ and check every case with onnxruntime.

Suites copied from onnx/backend/test/data/: light, pytorch-converted, pytorch-operator.
Every case ends up with the same layout:

    <suite>/<case>/model.onnx
    <suite>/<case>/test_data_set_0/input_<i>.pb    (TensorProto, i-th non-initializer graph input)
    <suite>/<case>/test_data_set_0/output_<i>.pb   (TensorProto, i-th graph output)

The light suite ships only light_<name>.onnx and light_<name>_output_0.pb. onnx's backend
runner (onnx/backend/test/runner/__init__.py, Runner._add_model_test and
generate_dummy_data with random=False) feeds such a model, for every float input,
np.arange(n).reshape(shape) / n as float32 (symbolic dims taken as 1); that input is written
here as input_0.pb, the model as model.onnx and the shipped output as output_0.pb.

manifest.json lists every case with "ok" (onnxruntime reproduces the stored outputs within
the tolerance onnx's runner uses: rtol 1e-3, atol 1e-7 unless the case says otherwise;
light densenet121 rtol 2e-3), the measured errors and, when not ok, the reason.

Usage: python/.venv/bin/python python/copy_onnx_backend_data.py
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent
DST = ROOT / "crates" / "sensie" / "tests" / "data" / "onnx-backend"
SRC = Path(onnx.__file__).parent / "backend" / "test" / "data"
ort.set_default_logger_severity(4)
SUITES = ["light", "pytorch-converted", "pytorch-operator"]
# From onnx/backend/test/case/model/__init__.py (collect_testcases).
LIGHT_RTOL = {"densenet121": 2e-3}
DEFAULT_RTOL, DEFAULT_ATOL = 1e-3, 1e-7


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def dummy_input(vi: onnx.ValueInfoProto) -> np.ndarray:
    """onnx.backend.test.runner.Runner.generate_dummy_data(x, random=False)."""
    tt = vi.type.tensor_type
    if tt.elem_type != onnx.TensorProto.FLOAT:
        raise NotImplementedError(f"light input {vi.name} is not float")
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def copy_light(dst_suite: Path) -> None:
    for model_path in sorted((SRC / "light").glob("light_*.onnx")):
        name = model_path.stem  # light_bvlc_alexnet
        case = dst_suite / name
        ds = case / "test_data_set_0"
        ds.mkdir(parents=True)
        shutil.copy(model_path, case / "model.onnx")
        model = onnx.load(str(model_path))
        for i, vi in enumerate(graph_inputs(model)):
            t = numpy_helper.from_array(dummy_input(vi), vi.name)
            (ds / f"input_{i}.pb").write_bytes(t.SerializeToString())
        for i in range(len(model.graph.output)):
            src = SRC / "light" / f"{name}_output_{i}.pb"
            shutil.copy(src, ds / f"output_{i}.pb")


def copy_suite(suite: str, dst_suite: Path) -> None:
    for case in sorted(p for p in (SRC / suite).iterdir() if p.is_dir()):
        shutil.copytree(case, dst_suite / case.name)


def load_pb(path: Path, vi: onnx.ValueInfoProto):
    data = path.read_bytes()
    if vi.type.HasField("tensor_type"):
        t = onnx.TensorProto()
        t.ParseFromString(data)
        return numpy_helper.to_array(t)
    if vi.type.HasField("sequence_type"):
        s = onnx.SequenceProto()
        s.ParseFromString(data)
        return numpy_helper.to_list(s)
    raise NotImplementedError(f"input type {vi.type}")


def check_case(case: Path, suite: str) -> dict:
    rel = case.relative_to(DST).as_posix()
    entry: dict = {"name": rel, "suite": suite, "case": case.name}
    rtol, atol = DEFAULT_RTOL, DEFAULT_ATOL
    if suite == "light":
        rtol = LIGHT_RTOL.get(case.name[len("light_"):], rtol)
    if (case / "data.json").exists():
        d = json.loads((case / "data.json").read_text())
        rtol, atol = d.get("rtol", rtol), d.get("atol", atol)
    entry.update(rtol=rtol, atol=atol)
    try:
        model = onnx.load(str(case / "model.onnx"))
        entry["opset"] = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        entry["ir_version"] = model.ir_version
        entry["ops"] = sorted({n.op_type for n in model.graph.node})
        ins = graph_inputs(model)
        data_sets = sorted(case.glob("test_data_set_*"))
        entry["data_sets"] = len(data_sets)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(case / "model.onnx"), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        max_abs = 0.0
        for ds in data_sets:
            in_files = sorted(ds.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            out_files = sorted(ds.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            if len(in_files) != len(names):
                raise RuntimeError(f"{len(in_files)} input files for {len(names)} model inputs")
            feeds = {n: load_pb(f, vi) for n, f, vi in zip(names, in_files, ins)}
            refs = [load_pb(f, vo) for f, vo in zip(out_files, model.graph.output)]
            outs = sess.run(None, feeds)
            entry["inputs"] = [{"name": n, "dtype": str(np.asarray(v).dtype), "shape": list(np.shape(v))}
                               for n, v in feeds.items()]
            entry["outputs"] = [{"name": o.name, "dtype": str(np.asarray(r).dtype), "shape": list(np.shape(r))}
                                for o, r in zip(model.graph.output, refs)]
            for o, r in zip(outs, refs):
                o, r = np.asarray(o), np.asarray(r)
                if o.shape != r.shape:
                    raise AssertionError(f"shape {o.shape} != stored {r.shape}")
                if o.dtype.kind in "fc":
                    max_abs = max(max_abs, float(np.abs(o.astype(np.float64) - r).max()) if o.size else 0.0)
                np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)
        entry["max_abs_err"] = max_abs
        entry["ok"] = True
    except Exception as e:  # noqa: BLE001 - recorded in the manifest
        entry["ok"] = False
        msg = f"{type(e).__name__}: {e}".strip()
        entry["reason"] = " ".join(msg.split())[:400]
        entry["upgraded_to_opset_13"] = check_upgraded(case, rtol, atol)
    return entry


def check_upgraded(case: Path, rtol: float, atol: float) -> str:
    """Diagnostic for failing cases: does onnx's version converter (to opset 13) give a
    model that onnxruntime runs and that reproduces the stored outputs?"""
    try:
        from onnx import version_converter

        model = onnx.load(str(case / "model.onnx"))
        up = version_converter.convert_version(model, 13)
        so = ort.SessionOptions()
        so.log_severity_level = 4
        sess = ort.InferenceSession(up.SerializeToString(), so, providers=["CPUExecutionProvider"])
        ins = graph_inputs(up)
        names = [i.name for i in sess.get_inputs()]
        for ds in sorted(case.glob("test_data_set_*")):
            in_files = sorted(ds.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            out_files = sorted(ds.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            feeds = {n: load_pb(f, vi) for n, f, vi in zip(names, in_files, ins)}
            refs = [load_pb(f, vo) for f, vo in zip(out_files, up.graph.output)]
            for o, r in zip(sess.run(None, feeds), refs):
                np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)
        return "ok"
    except Exception as e:  # noqa: BLE001
        return " ".join(f"failed: {type(e).__name__}: {e}".split())[:300]


def main() -> None:
    if DST.exists():
        shutil.rmtree(DST)
    DST.mkdir(parents=True)
    for suite in SUITES:
        (DST / suite).mkdir()
        if suite == "light":
            copy_light(DST / suite)
        else:
            copy_suite(suite, DST / suite)
    cases = []
    for suite in SUITES:
        for case in sorted(p for p in (DST / suite).iterdir() if p.is_dir()):
            cases.append(check_case(case, suite))
    manifest = {
        "source": f"onnx {onnx.__version__} wheel: onnx/backend/test/data/{{{','.join(SUITES)}}}",
        "checked_with": f"onnxruntime {ort.__version__} (CPUExecutionProvider)",
        "layout": "<suite>/<case>/model.onnx, <suite>/<case>/test_data_set_N/input_i.pb and output_i.pb "
                  "(TensorProto); input_i feeds the i-th graph input that is not an initializer",
        "tolerance": "onnx's backend runner: |out - ref| <= atol + rtol * |ref| with the per-case rtol/atol",
        "light_inputs": "np.arange(n).reshape(shape) / n, float32 (onnx runner generate_dummy_data, random=False)",
        "upgraded_to_opset_13": "only on cases that are not ok: whether onnx.version_converter.convert_version(model, 13) "
                                "gives a model that onnxruntime runs and that matches the stored outputs",
        "count": len(cases),
        "ok": sum(c["ok"] for c in cases),
        "cases": cases,
    }
    (DST / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(f.stat().st_size for f in DST.rglob("*") if f.is_file())
    bad = [c for c in cases if not c["ok"]]
    print(f"onnx-backend: {len(cases)} cases, {len(cases) - len(bad)} ok, {size / 1e6:.1f} MB")
    for c in bad:
        print(f"  not ok: {c['name']} (opset {c.get('opset')}): {c['reason'][:110]} | upgraded to 13: {c['upgraded_to_opset_13'][:80]}")


if __name__ == "__main__":
    main()
