"""Train the PyTorch digits classifier (model.py) on data/train.npz; runs in the PyTorch toolchain.

Writes weights.pt next to this file. A few seconds on a laptop CPU; the seed makes it
repeatable.
"""

from __future__ import annotations

import numpy as np
import torch
from model import WEIGHTS, DigitsNet


def main() -> None:
    torch.manual_seed(0)
    with np.load(WEIGHTS.parent / "data" / "train.npz") as data:
        x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"]).long()
    net = DigitsNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(30):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 32):
            batch = order[start : start + 32]
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(torch.log(net(x[batch]) + 1e-9), y[batch])
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(x).argmax(-1) == y).float().mean().item()
    print(f"torch_digits: training accuracy {accuracy:.3f} on {len(x)} images")
    torch.save(net.state_dict(), WEIGHTS)


if __name__ == "__main__":
    main()
