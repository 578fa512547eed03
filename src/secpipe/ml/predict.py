"""Loading a trained model safely and predicting on named input sets.

A skops file is first inspected without loading (``skops.io.get_untrusted_types``): every type it
would create that skops does not trust by default must be in the user's reviewed allow-list, else
loading is refused. A pickle is never loaded unless the user set ``unsafe_allow_pickle`` — and then
only in the prediction subprocess (:mod:`secpipe.ml.worker`).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError, StepError

#: Module roots whose allow-listed types may be loaded inside the secpipe process.
LIBRARY_ROOTS = frozenset({"sklearn", "numpy", "scipy", "builtins", "collections", "skops"})


def untrusted_types(path: Path) -> list[str]:
    """Types in a skops file that skops does not trust by default (nothing is loaded)."""
    import skops.io

    try:
        return sorted(skops.io.get_untrusted_types(file=path))
    except Exception as exc:  # a malformed file is an input error, not a crash
        raise InputError(f"model {path.name}: not a readable skops file: {exc}") from None


def check_trusted(path: Path, allowed: Sequence[str]) -> list[str]:
    """The untrusted types, all of which are allow-listed; else :class:`InputError` naming them."""
    found = untrusted_types(path)
    refused = [t for t in found if t not in set(allowed)]
    if refused:
        shown = ", ".join(refused[:5]) + (" …" if len(refused) > 5 else "")
        raise InputError(f"model {path.name} holds types skops does not trust: {shown} "
                         "(review them, then list them in evaluate's trusted_types)")
    return found


def needs_subprocess(allowed_found: Sequence[str]) -> bool:
    """True when an allow-listed type may come from project code (load it in a subprocess)."""
    return any(t.split(".", 1)[0] not in LIBRARY_ROOTS for t in allowed_found)


def load_model(path: Path, fmt: str, trusted: Sequence[str], allow_pickle: bool = False) -> Any:
    """Load a model file. skops: only with every untrusted type allow-listed."""
    if fmt == "pickle":
        if not allow_pickle:
            raise InputError(f"model {path.name} is a pickle: loading it runs code "
                             "(set evaluate's unsafe_allow_pickle only for a model you trust)")
        with path.open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - explicit, unsafe-named opt-in, subprocess only
    import skops.io

    found = check_trusted(path, trusted)
    try:
        return skops.io.load(path, trusted=found or None)
    except Exception as exc:
        raise InputError(f"model {path.name}: cannot be loaded: {exc}") from None


def predict_sets(model: Any, sets: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Predictions (and probabilities or decision scores where the model has them) per set."""
    import numpy as np

    classes = getattr(model, "classes_", None)
    if classes is None:
        raise StepError("the model has no classes_: evaluate needs a fitted classifier")
    out: dict[str, Any] = {"classes": [str(c) for c in classes], "sets": {}}
    for name, values in sets.items():
        first = values[0] if len(values) else ""
        x = np.asarray(values, dtype=object if isinstance(first, str) else float)
        entry: dict[str, Any] = {"pred": [str(p) for p in model.predict(x)], "proba": None,
                                 "decision": None}
        if hasattr(model, "predict_proba"):
            entry["proba"] = np.asarray(model.predict_proba(x), dtype=float).tolist()
        elif hasattr(model, "decision_function"):
            entry["decision"] = np.asarray(model.decision_function(x), dtype=float).tolist()
        out["sets"][name] = entry
    return out
