"""The PyTorch digits classifier: a small CNN with BatchNorm, and the entry its manifest names.

``make()`` returns the trained module (weights from train.py) and an example input: one
8x8 image, channels first. The BatchNorm layer is why int8 goes through the toolchain's
ai-edge-quantizer recipe rather than PyTorch's own PT2E quantization, which loses most of
such a network's accuracy.
"""

from __future__ import annotations

from pathlib import Path

import torch

WEIGHTS = Path(__file__).resolve().parent / "weights.pt"


class DigitsNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(16)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.classify = torch.nn.Linear(32, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.max_pool2d(torch.relu(self.norm(self.conv1(image))), 2)
        x = torch.relu(self.conv2(x)).mean((2, 3))
        return torch.softmax(self.classify(x), -1)


def make() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    net = DigitsNet()
    net.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return net.eval(), (torch.zeros(1, 1, 8, 8),)
