"""rnn-timescales: train recurrent networks on memory tasks and measure their timescales."""

from rnn_timescales.backbones import GRU, LSTM, LeakyRNN
from rnn_timescales.curriculum import Curriculum
from rnn_timescales.data import MemoryTaskData
from rnn_timescales.heads import ReadoutHeads
from rnn_timescales.module import MemoryTaskModule

__all__ = ["LeakyRNN", "GRU", "LSTM", "Curriculum", "MemoryTaskData", "ReadoutHeads", "MemoryTaskModule"]
__version__ = "0.1.0"
