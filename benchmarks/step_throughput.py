"""Training-step throughput of the leaky RNN against the matrix-multiply bound.

A training step does three [B x H] x [H x H] products per time step (forward W_R r,
backward gradient to r(t-1), and the W_R gradient), so on a given machine:

    bound (sample-timesteps/s) = measured matmul FLOP/s / (6 H^2)

Two matmul speeds are measured, interleaved with the rows below:

* ``torch.mm``: one [B x H] x [H x H] product using every intra-op thread (the
  textbook bound);
* ``blocked mm``: the same product as a batch of row blocks, one per thread
  (``torch.bmm``), which is how the fused kernel multiplies on a few cores; on the
  2-core machine this is the faster way to multiply, so it is the stricter bound.

Rows, all on the same batches, each repeat running every row in turn: the naive
autograd loop (reference), the fused kernel with one product per step, the fused
kernel as trained by default (batch blocks when that applies), and torch.nn.RNN(relu)
- the native C++ Elman RNN, which has neither tau nor leak. Each step is a full
optimizer step as in training: readout heads for every N up to the target (in the
module's bank of 100 slots), summed cross-entropy, backward, gradient clipping, SGD.

    python benchmarks/step_throughput.py            # N=10 and N=50, B=256, H=500
    python benchmarks/step_throughput.py --ns 10 --repeats 5
"""

from __future__ import annotations

import argparse
import inspect
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnn_timescales import LeakyRNN, MemoryTaskModule, allocator
from rnn_timescales.backbones.leaky_bptt import batch_blocks
from rnn_timescales.heads import ReadoutHeads
from rnn_timescales.tasks import draw_batch


HEAD_CAPACITY = inspect.signature(MemoryTaskModule).parameters["head_capacity"].default


def mm_seconds(batch: int, hidden: int, calls: int, blocks: int) -> float:
    """Seconds for ``calls`` products [batch x hidden] x [hidden x hidden], as ``blocks`` row blocks."""
    a, b, out = torch.randn(batch, hidden), torch.randn(hidden, hidden), torch.empty(batch, hidden)
    if blocks > 1:
        a, out = a.view(blocks, -1, hidden), out.view(blocks, -1, hidden)
        b = b.expand(blocks, hidden, hidden)
    product = torch.bmm if blocks > 1 else torch.mm
    start = time.perf_counter()
    for _ in range(calls):
        product(a, b, out=out)
    return time.perf_counter() - start


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


def training_step(backbone: nn.Module, batches, ns):
    """A full optimizer step on one batch, as a closure (fresh heads and optimizer)."""
    torch.manual_seed(0)
    # As in training: the module preallocates 100 head slots (more if N needs them).
    heads = ReadoutHeads(backbone.hidden_size, capacity=max(HEAD_CAPACITY, len(ns)))
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

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[10, 50],
                        help="largest N of each measurement (heads for N = 2..this); each >= 2")
    parser.add_argument("--batch", type=int, default=256, help="sequences per batch (paper: 256)")
    parser.add_argument("--hidden", type=int, default=500, help="neurons (paper: 500)")
    parser.add_argument("--batches", type=int, default=6, help="distinct batches per N (lengths vary)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the batches, every row in turn")
    parser.add_argument("--keep-denormals", action="store_true",
                        help="do not flush subnormal floats to zero (training does; see MemoryTaskModule)")
    parser.add_argument("--return-freed-memory", action="store_true",
                        help="leave glibc's defaults (training keeps freed memory; see rnn_timescales/allocator.py)")
    args = parser.parse_args()
    if min(args.ns) < 2:
        parser.error(f"--ns: every N must be >= 2 (N=1 needs no memory), got {min(args.ns)}")
    for name in ("batch", "hidden", "batches", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    torch.set_flush_denormal(not args.keep_denormals)
    kept = False if args.return_freed_memory else allocator.keep_freed_memory()
    blocks = batch_blocks(args.batch, torch.device("cpu"), None)
    # The blocked bound uses at least two blocks, even where the default uses one.
    blocked = batch_blocks(args.batch, torch.device("cpu"), max(blocks, 2))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, B={args.batch}, H={args.hidden}, "
          f"subnormals {'kept' if args.keep_denormals else 'flushed to zero'}, "
          f"freed memory {'kept for reuse' if kept else 'returned to the OS'}, "
          f"default batch blocks: {blocks}")
    for n_max in args.ns:
        ns = list(range(2, n_max + 1))  # multi-head: a head per N
        generator = torch.Generator().manual_seed(n_max)
        batches = [draw_batch("parity", ns, args.batch, generator) for _ in range(args.batches)]
        timesteps = sum(x.shape[0] for x, _ in batches)
        rows = {
            "naive autograd loop": LeakyRNN(args.hidden, implementation="autograd"),
            "fused, one product": LeakyRNN(args.hidden, cpu_batch_blocks=1),
            f"fused, default ({blocks} block{'s' if blocks > 1 else ''})": LeakyRNN(args.hidden),
            "torch.nn.RNN(relu)": ElmanReLU(args.hidden),
        }
        steps = {name: training_step(backbone, batches, ns) for name, backbone in rows.items()}
        seconds = dict.fromkeys([*rows, "torch.mm", "blocked mm"], 0.0)
        for step in steps.values():  # warm-up
            for x, y in batches[:2]:
                step(x, y)
        for _ in range(args.repeats):
            for name, step in steps.items():
                start = time.perf_counter()
                for x, y in batches:
                    step(x, y)
                seconds[name] += time.perf_counter() - start
            # 3 products per sample-timestep: as many as one pass over the batches needs.
            seconds["torch.mm"] += mm_seconds(args.batch, args.hidden, 3 * timesteps, 1)
            seconds["blocked mm"] += mm_seconds(args.batch, args.hidden, 3 * timesteps, blocked)
        work = args.repeats * timesteps * args.batch  # sample-timesteps per row
        rate = {name: work / s for name, s in seconds.items()}
        bound, blocked_bound = rate["torch.mm"], rate["blocked mm"]
        flops = 6 * args.hidden**2
        print(f"\nN={n_max}: mean length {timesteps / len(batches):.1f}")
        print(f"  bound, torch.mm ({bound * flops / 1e9:.0f} GFLOP/s)  {bound:>10,.0f} sample-timesteps/s")
        print(f"  bound, blocked mm ({blocked_bound * flops / 1e9:.0f} GFLOP/s)  {blocked_bound:>8,.0f} sample-timesteps/s")
        for name, step in steps.items():
            print(f"  {name:<28} {rate[name]:>10,.0f} sample-timesteps/s  {rate[name] / bound:6.1%} of torch.mm bound"
                  f"  {rate[name] / blocked_bound:6.1%} of blocked bound  saved for backward "
                  f"{saved_bytes(step) / 2**20:6.1f} MiB")
        draws, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            draw_batch("parity", ns, args.batch, generator)
            draws += 1
        draw_seconds = (time.perf_counter() - start) / draws
        fused = [name for name in rows if name.startswith("fused, default")][0]
        step_seconds = args.batch * timesteps / len(batches) / rate[fused]
        print(f"  drawing one batch (all {len(ns)} label columns): {draw_seconds * 1e3:.2f} ms = "
              f"{draw_seconds / step_seconds:.2%} of a default fused training step")
        print(f"  default fused / naive = {rate[fused] / rate['naive autograd loop']:.2f}x, "
              f"/ nn.RNN = {rate[fused] / rate['torch.nn.RNN(relu)']:.2f}x, "
              f"/ fused one product = {rate[fused] / rate['fused, one product']:.2f}x")


if __name__ == "__main__":
    main()
