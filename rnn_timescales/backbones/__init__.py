"""Recurrent backbones: plain ``nn.Module``s mapping ``[time, batch, input]`` to hidden states."""

from rnn_timescales.backbones.gated import GRU, LSTM
from rnn_timescales.backbones.leaky_rnn import LeakyRNN

__all__ = ["LeakyRNN", "GRU", "LSTM"]
