#!/usr/bin/env python3
"""Captum reference fixtures for sensie's explanation tests.

Writes crates/sensie/tests/data/explain/:
  mnist.npz    uncompressed npz, Captum 0.9 on the trained MNIST CNN (examples/mnist/mnist_cnn.onnx,
               weights loaded into python/sensie_models.py::MnistCnn), float32, eval mode:
      x                    f32 [5,1,28,28]  held-out digits INDICES of examples/mnist/data/test_x.npy
      target               i64 [5]          their labels (digit 13 is misclassified by the model)
      logits               f32 [5,10]       model(x)
      saliency_raw         Saliency(abs=False): the raw gradient of the target logit
      saliency             Saliency(abs=True), then the max over channels (keepdim): Simonyan et al.
      input_x_gradient     InputXGradient
      guided_backprop      GuidedBackprop
      deconvnet            Deconvolution
      ig_gausslegendre     IntegratedGradients, baseline 0, n_steps=50, method="gausslegendre"
      ig_gausslegendre_delta   its convergence delta, sum(attr) - (f(x) - f(0)), per example
      ig_trapezoid         IntegratedGradients, baseline 0, n_steps=50, method="riemann_trapezoid"
                           (Captum's trapezoid weights sum to 1 - 1/n: see the note below)
      ig_file_baseline     the baseline array given to the next one (x blurred by a 5x5 box, a
                           stand-in for any user file)
      ig_file              IntegratedGradients, baseline ig_file_baseline, gausslegendre, 32 steps
      ig_file_delta        its convergence delta
      gradcam_layer        LayerGradCam(model, model.relu2, relu_attributions=True) [5,1,14,14]
      gradcam              LayerAttribution.interpolate(gradcam_layer, (28,28), "bilinear") [5,1,28,28]
      gradcam_conv_layer   LayerGradCam(model, model.conv2, relu_attributions=True): the Conv output
      gradcam_conv         its bilinear interpolation to 28x28
      gradcam_negative_layer  LayerGradCam(lambda x: -model(x), model.relu2, relu_attributions=True)
      gradcam_negative     its bilinear interpolation
      guided_gradcam       GuidedGradCam(model, model.relu2).attribute(x, target,
                           interpolate_mode="bilinear")
      occlusion_5_3        Occlusion: sliding window (1,5,5), strides (1,3,3), baselines 0
      occlusion_4_2_fill   Occlusion: sliding window (1,4,4), strides (1,2,2), baselines 0.25
  nhwc.npz     Grad-CAM by Captum's formula on the engine fixture nhwc_tf2onnx (an NHWC model whose
               layer is NCHW inside the graph), from that fixture's layer_value and grad_layer:
      gradcam_layer        relu(sum_c mean_hw(grad_layer) * layer_value)  [3,1,16,16]
      gradcam              its bilinear interpolation to the input's 32x32
  mlp.onnx     a model with no convolution (Flatten-Gemm-Relu-Gemm on 1x8x8 inputs), random
               weights (seed 0), for the CAM-on-a-model-without-convolutions error
  meta.json    versions, indices, layer names, parameters

Captum's riemann_trapezoid uses nodes linspace(0, 1, n) with weights 1/n, halved at both ends,
which sum to 1 - 1/n; sensie's riemann-trapezoid rule uses the same weights, so its maps equal
Captum's.

Deterministic. Usage: python/.venv/bin/python python/make_explain_fixtures.py
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import captum
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from sensie_models import load_mnist_cnn  # noqa: E402

OUT = ROOT / "crates" / "sensie" / "tests" / "data" / "explain"
MNIST = ROOT / "examples" / "mnist"
INDICES = [0, 1, 2, 3, 13]
STEPS = 50
torch.set_num_threads(2)
warnings.filterwarnings("ignore")


def f32(t) -> np.ndarray:
    return t.detach().numpy().astype(np.float32) if isinstance(t, torch.Tensor) else np.asarray(t, np.float32)


def bilinear(layer_map: torch.Tensor, size) -> torch.Tensor:
    return LayerAttribution.interpolate(layer_map, size, interpolate_mode="bilinear")


def mnist_references() -> tuple[dict, dict]:
    model = load_mnist_cnn(ROOT)
    for p in model.parameters():
        p.requires_grad_(False)
    x_all = np.load(MNIST / "data" / "test_x.npy")
    y_all = np.load(MNIST / "data" / "test_y.npy")
    x = torch.from_numpy(x_all[INDICES].astype(np.float32))
    target = torch.from_numpy(y_all[INDICES].astype(np.int64))
    t = target.tolist()
    with torch.no_grad():
        logits = model(x)
    # The committed ONNX file computes the same logits.
    session = ort.InferenceSession(str(MNIST / "mnist_cnn.onnx"), providers=["CPUExecutionProvider"])
    ort_logits = session.run(None, {"input": x.numpy()})[0]
    assert np.abs(ort_logits - logits.numpy()).max() < 1e-4

    out = {"x": f32(x), "target": target.numpy(), "logits": f32(logits)}
    out["saliency_raw"] = f32(Saliency(model).attribute(x, target=t, abs=False))
    out["saliency"] = f32(Saliency(model).attribute(x, target=t, abs=True).amax(dim=1, keepdim=True))
    out["input_x_gradient"] = f32(InputXGradient(model).attribute(x, target=t))
    out["guided_backprop"] = f32(GuidedBackprop(model).attribute(x, target=t))
    out["deconvnet"] = f32(Deconvolution(model).attribute(x, target=t))

    ig = IntegratedGradients(model)
    for key, method in [("ig_gausslegendre", "gausslegendre"), ("ig_trapezoid", "riemann_trapezoid")]:
        attr, delta = ig.attribute(x, target=t, baselines=0.0, n_steps=STEPS, method=method,
                                   return_convergence_delta=True)
        out[key] = f32(attr)
        out[key + "_delta"] = f32(delta)
    baseline = F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
    attr, delta = ig.attribute(x, target=t, baselines=baseline, n_steps=32, method="gausslegendre",
                               return_convergence_delta=True)
    out["ig_file_baseline"] = f32(baseline)
    out["ig_file"] = f32(attr)
    out["ig_file_delta"] = f32(delta)

    size = tuple(x.shape[2:])
    for key, forward, layer in [("gradcam", model, model.relu2), ("gradcam_conv", model, model.conv2),
                                ("gradcam_negative", lambda inp: -model(inp), model.relu2)]:
        layer_map = LayerGradCam(forward, layer).attribute(x, target=t, relu_attributions=True)
        out[key + "_layer"] = f32(layer_map)
        out[key] = f32(bilinear(layer_map, size))
    out["guided_gradcam"] = f32(GuidedGradCam(model, model.relu2).attribute(x, target=t, interpolate_mode="bilinear"))

    occ = Occlusion(model)
    out["occlusion_5_3"] = f32(occ.attribute(x, target=t, sliding_window_shapes=(1, 5, 5), strides=(1, 3, 3),
                                             baselines=0.0, perturbations_per_eval=64))
    out["occlusion_4_2_fill"] = f32(occ.attribute(x, target=t, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                                  baselines=0.25, perturbations_per_eval=64))

    gap = np.abs(out["ig_gausslegendre_delta"]) / np.abs(logits.numpy()[range(len(t)), t] - model(torch.zeros_like(x)).detach().numpy()[range(len(t)), t])
    meta = {
        "indices": INDICES,
        "labels_are_targets": True,
        "steps": STEPS,
        "gradcam_layer_module": "relu2 (the ONNX tensor /relu2/Relu_output_0)",
        "gradcam_conv_layer_module": "conv2 (the ONNX tensor /conv2/Conv_output_0)",
        "occlusion": {"occlusion_5_3": {"window": 5, "stride": 3, "fill": 0.0},
                      "occlusion_4_2_fill": {"window": 4, "stride": 2, "fill": 0.25}},
        "trapezoid_captum_over_true_rule": (STEPS - 1) / STEPS,
        "ig_gausslegendre_relative_gap": gap.tolist(),
    }
    return out, meta


def nhwc_references() -> dict:
    ref = np.load(ROOT / "crates" / "sensie" / "tests" / "data" / "engine" / "nhwc_tf2onnx" / "reference.npz")
    act = torch.from_numpy(ref["layer_value"])
    grad = torch.from_numpy(ref["grad_layer"])
    layer_map = F.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(dim=1, keepdim=True))
    return {"gradcam_layer": f32(layer_map), "gradcam": f32(bilinear(layer_map, (32, 32)))}


def mlp_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((64, 16)) * 0.1).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((16, 10)) * 0.1).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "w1"], ["hidden"], name="fc1"),
        helper.make_node("Relu", ["hidden"], ["act"], name="relu"),
        helper.make_node("MatMul", ["act", "w2"], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_explain_fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    mnist, meta = mnist_references()
    np.savez(OUT / "mnist.npz", **mnist)
    np.savez(OUT / "nhwc.npz", **nhwc_references())
    onnx.save(mlp_model(), str(OUT / "mlp.onnx"))
    meta["versions"] = {"torch": torch.__version__, "captum": captum.__version__, "onnx": onnx.__version__,
                        "onnxruntime": ort.__version__}
    (OUT / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta["ig_gausslegendre_relative_gap"]))


if __name__ == "__main__":
    main()
