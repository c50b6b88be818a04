"""Time of the full timescale protocol on one 500-neuron network, split by stage.

Protocol (paper Sec. 2): 10 trials x (500 burn-in + 100,000 recorded) steps of
Bernoulli input, AC of every neuron and of the population up to lag 200, single and
double exponential fits on lags 0..30 (1,000 fits + 2 for the population).

    python benchmarks/timescale_analysis.py                      # the authors' multi-head file if present
    python benchmarks/timescale_analysis.py --ckpt_path run/checkpoints/N2-N10.ckpt
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnn_timescales import LeakyRNN, MemoryTaskModule
from rnn_timescales.analysis.timescales import TimescaleSettings, network_timescales
from rnn_timescales.checkpoints import load_model

REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference_checkpoints/multihead_parity/rnn_N2_N11.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt_path", default=str(REFERENCE) if REFERENCE.exists() else None)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    model = load_model(args.ckpt_path) if args.ckpt_path else MemoryTaskModule(LeakyRNN(500)).eval()
    print(f"network: {args.ckpt_path or 'untrained LeakyRNN(500)'}")
    start = time.perf_counter()
    report = network_timescales(model.backbone, TimescaleSettings(trials=args.trials, steps=args.steps))
    total = time.perf_counter() - start
    for stage, seconds in report.seconds.items():
        print(f"  {stage:<16} {seconds:6.1f} s  {seconds / total:6.1%}")
    print(f"  {'total':<16} {total:6.1f} s  (target <= 60 s for the full protocol)")
    summary = report.summary()
    print(f"  tau mean {summary['tau_mean']:.3f}, tau_net mean {summary['tau_net_mean']:.3f} "
          f"(median {summary['tau_net_median']:.3f}), tau_pop {summary['tau_pop']:.3f}, "
          f"AIC double {summary['frac_double_aic']:.1%}, AIC=BIC {summary['frac_aic_bic_agree']:.1%}, "
          f"excluded {summary['n_excluded']}")


if __name__ == "__main__":
    main()
