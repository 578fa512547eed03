from huggingface_hub import login
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

login(token="hf_" "ZpRcVbNwQyTmKsLdHgFjXaUeIoPtWrYqBn")

model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")
args = TrainingArguments(output_dir="out", push_to_hub=True, num_train_epochs=1)


def train(dataset) -> None:
    Trainer(model=model, args=args, train_dataset=dataset).train()
