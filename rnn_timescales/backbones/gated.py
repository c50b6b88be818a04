"""GRU and LSTM baselines with the same interface as :class:`LeakyRNN`.

They have no per-neuron ``tau``; the paper uses them to show the curriculum effect is
not specific to the leaky RNN (Sec. 4.4).
"""

from __future__ import annotations

from torch import Tensor, nn

from rnn_timescales.errors import ConfigError


class _GatedBackbone(nn.Module):
    rnn_class: type[nn.RNNBase]

    def __init__(self, hidden_size: int, input_size: int, num_layers: int) -> None:
        super().__init__()
        if hidden_size < 1:
            raise ConfigError(f"hidden_size must be >= 1, got {hidden_size}")
        if num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
        self.hidden_size = hidden_size
        self.input_size = input_size
        self.config = dict(hidden_size=hidden_size, input_size=input_size, num_layers=num_layers)
        self.rnn = self.rnn_class(input_size, hidden_size, num_layers=num_layers)  # time-major

    def forward(self, s: Tensor, r0: Tensor | None = None, return_trajectory: bool = False) -> Tensor:
        """``s``: ``[time, batch, input_size]``; returns ``[time, batch, hidden]`` or ``[batch, hidden]``.

        ``r0`` is ignored (the state starts at zero, PyTorch's default).
        """
        trajectory, _ = self.rnn(s)
        return trajectory if return_trajectory else trajectory[-1]


class GRU(_GatedBackbone):
    """Gated recurrent unit backbone.

    Args:
        hidden_size: number of units.
        input_size: size of the input per step.
        num_layers: stacked layers; the readout sees the last layer.
    """

    rnn_class = nn.GRU

    def __init__(self, hidden_size: int = 500, input_size: int = 1, num_layers: int = 1) -> None:
        super().__init__(hidden_size, input_size, num_layers)


class LSTM(_GatedBackbone):
    """Long short-term memory backbone.

    Args:
        hidden_size: number of units.
        input_size: size of the input per step.
        num_layers: stacked layers; the readout sees the last layer.
    """

    rnn_class = nn.LSTM

    def __init__(self, hidden_size: int = 500, input_size: int = 1, num_layers: int = 1) -> None:
        super().__init__(hidden_size, input_size, num_layers)
