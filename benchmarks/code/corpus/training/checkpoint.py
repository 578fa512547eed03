from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


@dataclass
class Checkpoint:
    root: Path

    def save(self, step: int, tensors: dict) -> None:
        save_file(tensors, self.root / f"step-{step}.safetensors")

    def load(self, step: int) -> dict:
        return load_file(self.root / f"step-{step}.safetensors")


def resume(url_or_dir: str, step: int) -> dict:
    ckpt = Checkpoint(Path(url_or_dir))
    state = ckpt.load(step)
    return {k: v.to(torch.float32) for k, v in state.items()}
