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
