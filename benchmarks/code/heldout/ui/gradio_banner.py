import gradio as gr
from huggingface_hub import InferenceClient

hf = InferenceClient("HuggingFaceH4/zephyr-7b-beta")
BANNER = "<div class='banner'><b>Beta</b> answers may be wrong.</div>"


def explain(topic: str) -> str:
    return hf.text_generation(f"Explain {topic}", max_new_tokens=300)


with gr.Blocks() as demo:
    gr.HTML(BANNER)
    topic = gr.Textbox()
    out = gr.Textbox()
    topic.submit(explain, topic, out)
