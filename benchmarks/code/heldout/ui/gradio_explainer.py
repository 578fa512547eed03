import gradio as gr
from huggingface_hub import InferenceClient

hf = InferenceClient("HuggingFaceH4/zephyr-7b-beta")


def explain(topic: str) -> str:
    return hf.text_generation(f"Explain {topic} as an HTML snippet", max_new_tokens=300)


with gr.Blocks() as demo:
    topic = gr.Textbox()
    out = gr.HTML()
    topic.submit(explain, topic, out)
