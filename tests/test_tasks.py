import pytest
import torch

from rnn_timescales.errors import ConfigError
from rnn_timescales.tasks import draw_batch, draw_bits, draw_length, labels_at_end, labels_in_time


def brute_parity(seq, n):
    return int(sum(seq[-n:])) % 2


def brute_dms(seq, n):
    return int(seq[-1] == seq[-n])


@pytest.mark.parametrize("task, brute", [("parity", brute_parity), ("dms", brute_dms)])
def test_labels_match_brute_force(task, brute):
    generator = torch.Generator().manual_seed(1)
    for length in [2, 5, 13, 40]:
        bits = draw_bits(task, length, 50, generator)
        ns = [n for n in [2, 3, 5, 7, 12] if n <= length]
        labels = labels_at_end(task, bits, ns)
        in_time = {n: labels_in_time(task, bits, n) for n in ns}
        for b in range(50):
            seq = bits[:, b].tolist()
            for k, n in enumerate(ns):
                assert labels[b, k] == brute(seq, n)
                for t in range(length):
                    expected = brute(seq[: t + 1], n) if t >= n - 1 else -1
                    assert in_time[n][t, b] == expected


def test_lengths_stay_in_range_and_cover_it():
    generator = torch.Generator().manual_seed(0)
    for n_max in [2, 7, 30]:
        lengths = {draw_length(n_max, generator) for _ in range(2000)}
        assert min(lengths) == n_max + 2 and max(lengths) == 4 * n_max + 1


def test_batch_shapes_and_labels_use_the_largest_n_for_length():
    x, y = draw_batch("parity", [2, 9, 4], 32, torch.Generator().manual_seed(0))
    assert x.shape[1:] == (32, 1) and 11 <= x.shape[0] <= 37 and y.shape == (32, 3)
    torch.testing.assert_close(y, labels_at_end("parity", x[..., 0], [2, 9, 4]))


def test_parity_bit_probability_varies_per_sequence_and_dms_is_fair():
    generator = torch.Generator().manual_seed(0)
    parity = draw_bits("parity", 2000, 200, generator).mean(0)
    assert parity.std() > 0.2  # p ~ U(0, 1): std of p is 0.29
    dms = draw_bits("dms", 2000, 200, generator).mean(0)
    assert (dms - 0.5).abs().max() < 0.05


def test_bad_task_and_n():
    generator = torch.Generator()
    with pytest.raises(ConfigError, match="unknown task 'xor'; allowed: parity, dms"):
        draw_batch("xor", [2], 4, generator)
    with pytest.raises(ConfigError, match="N must be >= 2.*got 1"):
        draw_batch("parity", [1], 4, generator)
