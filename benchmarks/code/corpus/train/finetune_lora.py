import torch
from transformers import AutoModelForCausalLM

BASE = "community/experimental-moe"

load_kwargs = {
    "torch_dtype": torch.bfloat16,
    "trust_remote_code": True,
}


def build_model():
    return AutoModelForCausalLM.from_pretrained(BASE, **load_kwargs)
