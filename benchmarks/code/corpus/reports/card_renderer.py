from jinja2 import Environment, PackageLoader

env = Environment(loader=PackageLoader("reports"), autoescape=True)


def model_card(name: str, description_from_llm: str) -> str:
    return env.get_template("card.html").render(name=name, description=description_from_llm)
