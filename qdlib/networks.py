"""The multilayer perceptron that the surrogates and the DDPG agent are built from.

>>> net = mlp([4, 8, 8, 2])
>>> net
Sequential(
  (0): Linear(in_features=4, out_features=8, bias=True)
  (1): ReLU()
  (2): Linear(in_features=8, out_features=8, bias=True)
  (3): ReLU()
  (4): Linear(in_features=8, out_features=2, bias=True)
)
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["mlp"]


def mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Fully connected ReLU network ``sizes[0] → … → sizes[-1]``, linear output.

    Parameters
    ----------
    sizes : sequence of int
        Widths of the input, the hidden layers and the output.
    dropout : float
        Dropout probability after each hidden ReLU (0: no dropout layers, so that the layers'
        indices, and a saved state dict's keys, are those of the plain network).

    Notes
    -----
    The layers are created in order, so their initial weights are drawn from torch's
    default generator in that order: seed it (inside :func:`torch.random.fork_rng`) to fix them.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs an input and an output width, got {list(sizes)}")
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)

