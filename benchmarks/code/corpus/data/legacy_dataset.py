import pickle
from pathlib import Path

from huggingface_hub import hf_hub_download


class LegacyDataset:
    def __init__(self, repo: str, split: str = "train") -> None:
        fname = hf_hub_download(repo, f"{split}.pkl", repo_type="dataset")
        with Path(fname).open("rb") as f:
            self.records = pickle.Unpickler(f).load()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, idx):
        return self.records[idx]
