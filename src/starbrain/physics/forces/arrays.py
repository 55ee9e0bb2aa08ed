"""Array-namespace helpers of the force kernels: NumPy or PyTorch, whichever the input is."""

from __future__ import annotations

from typing import Any

import numpy as np


def _xp(x: Any) -> Any:
    if type(x).__module__.split(".")[0] == "torch":
        import torch

        return torch
    return np


def _like(xp: Any, value: Any, ref: Any) -> Any:
    if xp is np:
        return np.asarray(value, dtype=np.float64)
    return xp.as_tensor(value, dtype=ref.dtype, device=ref.device)
