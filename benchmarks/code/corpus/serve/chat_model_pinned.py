from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_ID = "meta-llama/Llama-3.2-1B-Instruct"

tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
model = AutoModelForCausalLM.from_pretrained(MODEL_ID, device_map="auto", trust_remote_code=False)


def generate(prompt: str) -> str:
    ids = tokenizer(prompt, return_tensors="pt").to(model.device)
    return tokenizer.decode(model.generate(**ids, max_new_tokens=128)[0])
