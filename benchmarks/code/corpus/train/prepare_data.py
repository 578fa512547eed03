from datasets import load_dataset
from transformers import AutoTokenizer

tok = AutoTokenizer.from_pretrained("gpt2")


def load_corpus(name: str):
    ds = load_dataset(name, split="train", trust_remote_code=True)
    return ds.map(lambda b: tok(b["text"], truncation=True), batched=True)
