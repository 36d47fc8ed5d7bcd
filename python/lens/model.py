"""The lens finder: preprocessing baked in front of a small CNN.

Input: raw images in nanomaggies per pixel, N x 3 x 64 x 64, bands g, r, i (as written
by simulate.py). Output: logits N x 2 for [non-lens, lens].

Preprocessing (the first ops of the ONNX graph, so that sensie feeds physical images
and perturbs them in physical units; sensie needs no --scale/--mean/--std flags):

    z_c = x_c / soft_c                          soft = sky noise sigma per band
    a_c = log(z_c + sqrt(z_c * z_c + 1))        = asinh(z_c), written with ops that
                                                  sensie differentiates (Mul, Add,
                                                  Sqrt, Log); exact for z > -30
    input to the CNN: (a_c - mean_c) / std_c    mean, std of a_c over the training set

(torch.asinh would export as ONNX Asinh, which sensie's gradient rules lack.)
"""
from __future__ import annotations

import torch
from torch import nn


class AsinhPreprocess(nn.Module):
    """x -> (asinh(x / soft) - mean) / std per channel, from Mul/Add/Sqrt/Log/Sub ops."""

    def __init__(self, soft, mean, std) -> None:
        super().__init__()
        t = lambda v: torch.as_tensor(v, dtype=torch.float32).reshape(1, -1, 1, 1)  # noqa: E731
        self.register_buffer("inv_soft", 1.0 / t(soft))
        self.register_buffer("mean", t(mean))
        self.register_buffer("inv_std", 1.0 / t(std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x * self.inv_soft
        a = torch.log(z + torch.sqrt(z * z + 1.0))
        return (a - self.mean) * self.inv_std


def conv_block(cin: int, cout: int, k: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                               nn.BatchNorm2d(cout), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class LensFinder(nn.Module):
    """AsinhPreprocess - [Conv5x5(3->16)-BN-ReLU-MaxPool2] - [Conv3x3(16->32)-BN-ReLU-MaxPool2]
    - [Conv3x3(32->64)-BN-ReLU-MaxPool2] - [Conv3x3(64->64)-BN-ReLU] (8 x 8, the Grad-CAM layer)
    - GlobalAveragePool - Linear(64->64)-ReLU-Dropout(0.3)-Linear(64->outputs): 2 logits for
    the lens finder, 1 value for the Einstein-radius regressor (train_radius.py).

    BatchNorm folds into the convolutions when exported in eval mode.
    """

    def __init__(self, soft=(1.0, 1.0, 1.0), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), outputs: int = 2) -> None:
        super().__init__()
        self.preprocess = AsinhPreprocess(soft, mean, std)
        self.features = nn.Sequential(
            *conv_block(3, 16, 5, True),
            *conv_block(16, 32, 3, True),
            *conv_block(32, 64, 3, True),
            *conv_block(64, 64, 3, False),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(self.preprocess(x))))
