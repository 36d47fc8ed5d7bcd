"""Grad-CAM fixture for a layer stored channels-last behind a bias Add.

tf2onnx without its transpose optimiser writes a Keras Conv2D(activation="relu")
as Transpose(NHWC->NCHW), Conv without bias, Transpose back to NHWC, Add of the
bias along the last axis, Relu: the Relu's output is N x h x w x C. This writes
crates/sensie/tests/data/explain/nhwc_bias.onnx and nhwc_bias.npz with
x (N x 12 x 12 x 3), target, and gradcam_layer: Captum's LayerGradCam formula,
relu(sum_c mean_hw(d logit_t / d A_c) A_c), from PyTorch autograd on the same
weights with A kept channels-last (N x 12 x 12).

Run: python python/make_nhwc_bias_fixture.py (numpy, torch, onnx, onnxruntime).
"""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "crates" / "sensie" / "tests" / "data" / "explain"


def main() -> None:
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((6, 3, 3, 3)) * 0.4).astype(np.float32)
    b1 = (rng.standard_normal(6) * 0.2).astype(np.float32)
    wd = (rng.standard_normal((6 * 6 * 6, 4)) * 0.1).astype(np.float32)
    bd = (rng.standard_normal(4) * 0.1).astype(np.float32)
    x = rng.random((3, 12, 12, 3)).astype(np.float32)
    N = helper.make_node
    nodes = [
        N("Transpose", ["x"], ["t0"], perm=[0, 3, 1, 2], name="conv/Conv2D__6"),
        N("Conv", ["t0", "w1"], ["c1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3], name="conv/Conv2D"),
        N("Transpose", ["c1"], ["t1"], perm=[0, 2, 3, 1], name="conv/Conv2D__8"),
        N("Add", ["t1", "b1"], ["biased"], name="conv/BiasAdd"),
        N("Relu", ["biased"], ["act"], name="conv/Relu"),
        N("Transpose", ["act"], ["t2"], perm=[0, 3, 1, 2], name="pool/MaxPool__10"),
        N("MaxPool", ["t2"], ["mp"], kernel_shape=[2, 2], strides=[2, 2], name="pool/MaxPool"),
        N("Flatten", ["mp"], ["flat"], name="flatten"),
        N("Gemm", ["flat", "wd", "bd"], ["logits"], name="dense"),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (wd, "wd"), (bd, "bd")]]
    graph = helper.make_graph(nodes, "tf2onnx", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 12, 12, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)

    xt = torch.from_numpy(x).double()
    act = F.relu(F.conv2d(xt.permute(0, 3, 1, 2), torch.from_numpy(w1).double(), padding=1).permute(0, 2, 3, 1)
                 + torch.from_numpy(b1).double())
    act = act.detach().requires_grad_(True)
    logits = F.max_pool2d(act.permute(0, 3, 1, 2), 2).flatten(1) @ torch.from_numpy(wd).double() \
        + torch.from_numpy(bd).double()
    ort_logits = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert np.abs(ort_logits - logits.detach().numpy()).max() < 1e-5
    target = logits.argmax(1)
    logits.gather(1, target[:, None]).sum().backward()
    weights = act.grad.mean(dim=(1, 2), keepdim=True)
    cam = F.relu((weights * act).sum(dim=3))

    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(OUT / "nhwc_bias.onnx"))
    np.savez(OUT / "nhwc_bias.npz", x=x, target=target.numpy().astype(np.int64),
             gradcam_layer=cam.detach().numpy().astype(np.float32))


if __name__ == "__main__":
    main()
