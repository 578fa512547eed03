import gradio as gr
from transformers import pipeline

gen = pipeline("text-generation", model="distilgpt2")


def respond(message, history):
    return gen(message, max_new_tokens=60)[0]["generated_text"]


with gr.Blocks() as demo:
    gr.Markdown("## Tiny chat")
    gr.ChatInterface(respond)

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1")
