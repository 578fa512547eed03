from huggingface_hub import hf_hub_download
import torch


def fetch_state_dict(repo_id: str, revision: str = "main"):
    ckpt_path = hf_hub_download(repo_id=repo_id, filename="pytorch_model.bin", revision=revision)
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    return {k.removeprefix("module."): v for k, v in state.items()}


if __name__ == "__main__":
    import sys

    sd = fetch_state_dict(sys.argv[1])
    print(len(sd), "tensors")
