"""Training-step throughput of the leaky RNN against the matrix-multiply bound.

A training step does three [B x H] x [H x H] products per time step (forward W_R r,
backward gradient to r(t-1), and the W_R gradient), so on a given machine:

    bound (sample-timesteps/s) = measured matmul FLOP/s / (6 H^2)

Rows, all on the same batches in the same run: the naive autograd loop (reference),
the fused kernel (default), and torch.nn.RNN(relu) - the native C++ Elman RNN, which
has neither tau nor leak. Each step is a full optimizer step: readout heads for every
N up to the target, summed cross-entropy, backward, gradient clipping, SGD.

    python benchmarks/step_throughput.py            # N=10 and N=50, B=256, H=500
    python benchmarks/step_throughput.py --ns 10 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnn_timescales import LeakyRNN
from rnn_timescales.heads import ReadoutHeads
from rnn_timescales.tasks import draw_batch


def matmul_flops(batch: int, hidden: int, seconds: float = 2.0) -> float:
    a, b, out = torch.randn(batch, hidden), torch.randn(hidden, hidden), torch.empty(batch, hidden)
    for _ in range(20):
        torch.mm(a, b, out=out)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        calls += 1
    return 2 * batch * hidden * hidden * calls / (time.perf_counter() - start)


class ElmanReLU(nn.Module):
    """torch.nn.RNN(relu) behind the backbone interface."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden_size = hidden
        self.rnn = nn.RNN(1, hidden, nonlinearity="relu")

    def forward(self, s):
        return self.rnn(s)[0][-1]


def saved_bytes(step) -> int:
    """Bytes autograd keeps for the backward of one step (activation memory)."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(dry=True)
    return total


def measure(backbone: nn.Module, batches, ns, repeats: int) -> tuple[float, int]:
    torch.manual_seed(0)
    heads = ReadoutHeads(backbone.hidden_size, capacity=len(ns))
    for n in ns:
        heads.add(n)
    params = list(backbone.parameters()) + list(heads.parameters())
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.1, nesterov=True)

    def step(x=batches[0][0], y=batches[0][1], dry=False):
        logits = heads(backbone(x), ns)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y).mean(0).sum()
        if dry:
            return
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 2.0)
        optimizer.step()

    for x, y in batches[:2]:  # warm-up
        step(x, y)
    sample_steps, start = 0, time.perf_counter()
    for _ in range(repeats):
        for x, y in batches:
            step(x, y)
            sample_steps += x.shape[0] * x.shape[1]
    return sample_steps / (time.perf_counter() - start), saved_bytes(step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--batches", type=int, default=6, help="distinct batches per N (lengths vary)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep-denormals", action="store_true",
                        help="do not flush subnormal floats to zero (training does; see MemoryTaskModule)")
    args = parser.parse_args()
    torch.set_flush_denormal(not args.keep_denormals)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, B={args.batch}, H={args.hidden}, "
          f"subnormals {'kept' if args.keep_denormals else 'flushed to zero'}")
    for n_max in args.ns:
        ns = list(range(2, n_max + 1))  # multi-head: a head per N
        generator = torch.Generator().manual_seed(n_max)
        batches = [draw_batch("parity", ns, args.batch, generator) for _ in range(args.batches)]
        mean_length = sum(x.shape[0] for x, _ in batches) / len(batches)
        flops = matmul_flops(args.batch, args.hidden)
        bound = flops / (6 * args.hidden**2)
        print(f"\nN={n_max}: mean length {mean_length:.1f}; matmul {flops / 1e9:.0f} GFLOP/s "
              f"-> bound {bound:,.0f} sample-timesteps/s")
        rows = {
            "naive autograd loop": LeakyRNN(args.hidden, implementation="autograd"),
            "fused kernel": LeakyRNN(args.hidden, implementation="fused"),
            "torch.nn.RNN(relu)": ElmanReLU(args.hidden),
        }
        rates = {}
        for name, backbone in rows.items():
            rate, saved = measure(backbone, batches, ns, args.repeats)
            rates[name] = rate
            print(f"  {name:<22} {rate:>10,.0f} sample-timesteps/s  {rate / bound:6.1%} of bound  "
                  f"saved for backward {saved / 2**20:7.1f} MiB")
        draws, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            draw_batch("parity", ns, args.batch, generator)
            draws += 1
        draw_seconds = (time.perf_counter() - start) / draws
        step_seconds = args.batch * mean_length / rates["fused kernel"]
        print(f"  drawing one batch (all {len(ns)} label columns): {draw_seconds * 1e3:.2f} ms = "
              f"{draw_seconds / step_seconds:.2%} of a fused training step")
        print(f"  fused / naive = {rates['fused kernel'] / rates['naive autograd loop']:.2f}x, "
              f"fused / nn.RNN = {rates['fused kernel'] / rates['torch.nn.RNN(relu)']:.2f}x, "
              f"bound re-measured after: {matmul_flops(args.batch, args.hidden) / (6 * args.hidden**2):,.0f}")


if __name__ == "__main__":
    main()
