"""PyTorch model definitions shared by the training and fixture scripts.

Only the fixture/training scripts import this module; the Rust crates never do.
"""
from __future__ import annotations

import torch
from torch import nn


class MnistCnn(nn.Module):
    """Small MNIST CNN: input N x 1 x 28 x 28 in [0, 1], output 10 logits.

    Conv(1->8, 3x3, pad 1) - ReLU - MaxPool 2 - Conv(8->16, 3x3, pad 1) - ReLU -
    MaxPool 2 - Flatten - Linear(784->64) - ReLU - Linear(64->10).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 7 * 7, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.fc2(x)


def load_mnist_cnn(root) -> MnistCnn:
    """The trained MNIST CNN in eval mode.

    Weights come from the committed examples/mnist/mnist_cnn.onnx (its initializers carry
    the state_dict names), so fixtures can be rebuilt from a fresh checkout without
    retraining; when python/.cache/mnist_cnn.pt exists it must hold the same weights.
    """
    from pathlib import Path

    import onnx
    from onnx import numpy_helper

    root = Path(root)
    model = MnistCnn()
    inits = {i.name: numpy_helper.to_array(i) for i in
             onnx.load(str(root / "examples" / "mnist" / "mnist_cnn.onnx")).graph.initializer}
    state = {k: torch.from_numpy(inits[k].copy()) for k in model.state_dict()}
    model.load_state_dict(state)
    cached = root / "python" / ".cache" / "mnist_cnn.pt"
    if cached.exists():
        pt = torch.load(cached, weights_only=True)
        for k, v in state.items():
            assert torch.equal(pt[k], v), f"{cached} and mnist_cnn.onnx differ in {k}"
    return model.eval()


def export_onnx(model: nn.Module, path, input_shape: tuple[int, ...], opset: int, output: str = "logits") -> None:
    """Exports `model` as the bundled examples are exported: the legacy
    (TorchScript) exporter, input `input` and one output (`logits`) with a
    dynamic batch axis; `input_shape` is one example's shape."""
    import warnings
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, *input_shape),),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=[output],
            dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}},
        )
