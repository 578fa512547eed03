from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
MEANS = HERE / "stats" / "channel_means.npz"


def channel_stats() -> tuple[np.ndarray, np.ndarray]:
    with np.load(MEANS, allow_pickle=False) as z:
        return z["mean"], z["std"]
