import ast
import operator

from langchain_core.tools import tool

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _calc(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_calc(node.left), _calc(node.right))
    raise ValueError("unsupported expression")


@tool
def calculator(expression: str) -> float:
    """Evaluate + - * / arithmetic."""
    return _calc(ast.parse(expression, mode="eval").body)


PRICES = {"basic": 10, "pro": 30}


@tool
def price_of(plan: str) -> int:
    """Look up a plan price."""
    return PRICES.get(plan.lower(), -1)
