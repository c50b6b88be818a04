"""Wall time for the multi-head parity curriculum to solve N = 2..N_final.

Paper hyper-parameters (500 neurons, trained tau, SGD Nesterov lr 0.05 momentum 0.1,
clip 2, batch 256). Two validation cadences in one invocation, one after the other:

* paper: a check after every 600 training batches, on 50 fresh batches of 256;
* dense: a check after every 50 training batches, on 20 fresh batches of 256
  (5,120 sequences: at a true accuracy of 97.5% the measured one reaches 98% with
  probability ~5%; the standard error at 98% is 0.2 points).

    python benchmarks/time_to_n.py                       # both cadences, N = 2..11
    python benchmarks/time_to_n.py --cadence dense --n-final 10

Prints wall seconds, training steps and sequences seen for every N solved.
"""

from __future__ import annotations

import argparse
import time

import lightning as L

from rnn_timescales import Curriculum, LeakyRNN, MemoryTaskData, MemoryTaskModule

CADENCES = {"paper": (600, 50), "dense": (50, 20)}


def run(cadence: str, n_final: int, max_minutes: float, seed: int) -> None:
    train_batches, val_batches = CADENCES[cadence]
    L.seed_everything(seed, verbose=False)
    model = MemoryTaskModule(LeakyRNN(500))
    data = MemoryTaskData(task="parity", batch_size=256, train_batches=train_batches, val_batches=val_batches)
    curriculum = Curriculum(mode="multi", n_start=2, n_final=n_final, save_checkpoints=False)
    trainer = L.Trainer(
        max_epochs=1000, max_time={"minutes": max_minutes}, gradient_clip_val=2.0, callbacks=[curriculum],
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(model, data)
    wall = time.perf_counter() - start
    print(f"\ncadence {cadence}: check every {train_batches} batches on {val_batches * 256:,} fresh sequences")
    print(f"  {'N solved':>8} {'wall s':>8} {'steps':>7} {'sequences':>11}")
    for event in curriculum.history:
        steps = event["step"]
        print(f"  {max(event['ns']):>8} {event['seconds']:>8.1f} {steps:>7} {steps * 256:>11,}")
    reached = max(curriculum.history[-1]["ns"]) if curriculum.history else None
    print(f"  reached N={reached} of {n_final} in {wall:.1f} s wall (fit total)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cadence", choices=[*CADENCES, "both"], default="both")
    parser.add_argument("--n-final", type=int, default=11)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="per cadence")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for cadence in CADENCES if args.cadence == "both" else [args.cadence]:
        run(cadence, args.n_final, args.max_minutes, args.seed)


if __name__ == "__main__":
    main()
