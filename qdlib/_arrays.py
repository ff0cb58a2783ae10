"""NumPy arrays or PyTorch tensors: the functions written once for both ask which they were given."""

from __future__ import annotations


def is_tensor(x) -> bool:
    """Whether ``x`` is a PyTorch tensor (without importing torch).

    >>> import numpy as np
    >>> is_tensor(np.zeros(2)), is_tensor([0.0])
    (False, False)
    """
    return type(x).__module__.split(".")[0] == "torch"
