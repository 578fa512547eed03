"""Benign samples saved by real torch (run in a separate venv: ``pip install torch``; never in
secpipe's own venv). ``python real_torch.py OUT`` writes a TorchScript archive, a full
``nn.Module`` pickle and a Lightning-style checkpoint with ``argparse.Namespace`` hparams and
optimizer state; scan them with ``secpipe scan models OUT`` (expected: info findings only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch  # type: ignore[import-not-found]


class _M(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.sizes: list[int] = [1, 2, 3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x)).sum() + len(self.sizes)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(_M()), str(out / "torchscript.pt"))
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.BatchNorm1d(2))
    torch.save(net, out / "full_module.pt")
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    torch.save({"epoch": 1, "state_dict": net.state_dict(), "optimizer_states": [opt.state_dict()],
                "hyper_parameters": {"lr": 1e-3, "args": argparse.Namespace(lr=0.1)},
                "hparams": argparse.Namespace(lr=0.1)}, out / "lightning.ckpt")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "real"))
