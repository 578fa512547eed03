from datasets import load_dataset


class FoodLoader:
    def __init__(self) -> None:
        self.ds = load_dataset("food101", split="validation")

    def load(self, label: str):
        return self.ds.filter(lambda ex: self.ds.features["label"].int2str(ex["label"]) == label)


loader = FoodLoader()
pickle = "pickles"
subset = loader.load(pickle)
