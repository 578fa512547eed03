from datasets import load_dataset
from transformers import AutoTokenizer

tok = AutoTokenizer.from_pretrained("bert-base-uncased")


def load_corpus(name: str = "imdb"):
    ds = load_dataset(name, split="train")
    return ds.map(lambda b: tok(b["text"], truncation=True), batched=True)
