import matplotlib.pyplot as plt
from openai import OpenAI

client = OpenAI()


def make_plot(description: str, data):
    reply = client.responses.create(
        model="gpt-4.1",
        input=f"Write matplotlib code using `data` and `plt` to draw: {description}",
    )
    snippet = reply.output_text
    program = f"import numpy as np\n{snippet}\n"
    compiled = compile(program, "<generated>", "exec")
    exec(compiled, {"plt": plt, "data": data})
    return plt.gcf()
