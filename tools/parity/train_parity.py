"""Training parity on the GPU machine: `medgemma-cli train` against peft on the 4B-shaped model in
bf16 (tools/parity/training_reference.py), the full-sequence loss, micro-batch 2 x accumulation 2.
  python3 tools/parity/train_parity.py --cli build-gpu/bin/medgemma-cli --model /tmp/parity/big --work DIR

1. Dropout off, from one initial adapter, same data order: per-step losses within 2e-2 relative for
   20 steps (bf16 operands on both sides; peft keeps LoRA in float32, we in bf16 with float32
   accumulation). For scale, peft is also run with the whole model in float32, the trajectory
   both bf16 runs approximate: ours should stray from it no further than 1.25x peft-bf16 does.
   As a control, peft-bf16 is run a second time at micro-batch 1 x accumulation 4, the same
   windows of the same examples (the same mathematics): how far bf16 rounding alone moves peft's
   own losses when only the batching of its GEMMs changes.
2. Dropout 0.1 on, where the two draw different masks by construction, over 50 steps: --seeds runs
   of each with different dropout seeds. The curves count as indistinguishable when ours sits no
   further from peft's than runs of one trainer sit from each other (mean |difference| per step
   over every pair, with a 1.5x allowance for the spread of that estimate), and the mean loss of
   the last 25 steps differs by less than twice the within-trainer spread of those means.
"""
import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_reference as ref  # noqa: E402
import training_reference as tr  # noqa: E402

MODE = "FULL_SEQUENCE"


def mean_abs_diff(a, b):
    return statistics.fmean(abs(x - y) for x, y in zip(a, b))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True, help="the 4B-shaped checkpoint (parity.py --write-4b-only)")
    ap.add_argument("--work", default="/tmp/train-parity")
    ap.add_argument("--parts", default="off,on", help="off: dropout off (20 steps); on: dropout on (50 steps)")
    ap.add_argument("--seeds", type=int, default=3, help="dropout-on runs per trainer")
    args = ap.parse_args()
    cli, checks = ref.Cli(args.cli, args.work), ref.Checks()
    gpu = dict(device="cuda", dtype="bfloat16", attention="sdpa")
    _, answers = ref.load_task()
    off = tr.Recipe(steps=20, learning_rate=5e-4, warmup_ratio=0.03, max_grad_norm=0.3, weight_decay=0.0, **gpu)
    train = tr.write_data(cli, len(answers), off, size=(700, 460))
    pixels = cli.preprocess(args.model, [p for p, _ in train], "train_pixels").float()
    labels = [label for _, label in train]

    init_dir = cli.work / "peft_init"
    boi_id = tr.save_peft_init(args.model, init_dir, off)
    # The 4B-shaped checkpoint carries only tokenizer.model (parity.py): the answer turn is ours too.
    seqs = tr.sequences(cli, args.model, lambda text: cli.encode(args.model, text),
                        cli.encode(args.model, "<end_of_turn>")[0], boi_id, answers, answer_only=False)
    if "off" in args.parts.split(","):
        dropout_off(cli, checks, args.model, init_dir, pixels, labels, seqs, off)
    if "on" in args.parts.split(","):
        dropout_on(cli, checks, args.model, pixels, labels, seqs, off, range(1, args.seeds + 1))
    checks.finish()


def dropout_off(cli, checks, model, init_dir, pixels, labels, seqs, off):
    theirs, _, clipped = tr.peft_run(model, init_dir, pixels, labels, seqs, off)
    exact, _, _ = tr.peft_run(model, init_dir, pixels, labels, seqs, tr.Recipe(**{**vars(off), "dtype": "float32"}))
    rebatched, _, _ = tr.peft_run(model, init_dir, pixels, labels, seqs,
                                  tr.Recipe(**{**vars(off), "micro_batch": 1, "accumulation": 4}))
    ours, _, seconds = tr.our_run(cli, model, init_dir, MODE, off, tag="ours_off")
    for step, (o, t, e) in enumerate(zip(ours, theirs, exact)):
        print(f"    dropout off step {step + 1:2d}  ours {o:.5f}  peft {t:.5f}  rel {abs(o - t) / abs(t):.1e}  "
              f"peft fp32 {e:.5f}  peft 1x4 {rebatched[step]:.5f}")
    checks.record("4B bf16, dropout off, control: peft at micro-batch 1 x 4 vs 2 x 2, max relative difference",
                  f"{tr.max_relative(rebatched, theirs):.2e}", "(for scale)", True)
    checks.at_most("4B bf16, dropout off: per-step loss, max relative difference (20 steps)",
                   tr.max_relative(ours, theirs), 2e-2,
                   f"loss {theirs[0]:.3f} -> {theirs[-1]:.3f}, clipped {clipped}/{off.steps}, ours {seconds:.0f}s")
    ours_stray, peft_stray = tr.max_relative(ours, exact), tr.max_relative(theirs, exact)
    checks.at_most("4B bf16, dropout off: max relative distance from peft in float32, / peft-bf16's",
                   ours_stray / peft_stray, 1.25, f"ours {ours_stray:.2e}, peft bf16 {peft_stray:.2e}")


def dropout_on(cli, checks, model, pixels, labels, seqs, off, seeds):
    on = tr.Recipe(**{**vars(off), "steps": 50, "dropout": 0.1})
    init_on = cli.work / "peft_init_dropout"
    tr.save_peft_init(model, init_on, on)
    peft_curves = [tr.peft_run(model, init_on, pixels, labels, seqs, on, dropout_seed=s)[0] for s in seeds]
    our_curves = [tr.our_run(cli, model, init_on, MODE, tr.Recipe(**{**vars(on), "seed": s}),
                             tag=f"ours_on_{s}")[0] for s in seeds]
    for step in range(on.steps):
        print(f"    dropout on step {step + 1:2d}  ours {' '.join(f'{c[step]:.4f}' for c in our_curves)}  "
              f"peft {' '.join(f'{c[step]:.4f}' for c in peft_curves)}")
    within = statistics.fmean(mean_abs_diff(a, b) for curves in (peft_curves, our_curves)
                              for a, b in itertools.combinations(curves, 2))
    across = statistics.fmean(mean_abs_diff(o, p) for o in our_curves for p in peft_curves)
    checks.at_most(f"4B bf16, dropout 0.1: mean |ours - peft| per step over 50 steps, / within-trainer spread "
                   f"({len(our_curves)} runs each)", across / within, 1.5, f"across {across:.4f}, within {within:.4f}")
    tail = lambda c: statistics.fmean(c[-25:])  # noqa: E731
    tail_gap = abs(statistics.fmean(map(tail, our_curves)) - statistics.fmean(map(tail, peft_curves)))
    tail_spread = statistics.fmean(abs(tail(a) - tail(b)) for curves in (peft_curves, our_curves)
                                   for a, b in itertools.combinations(curves, 2))
    checks.at_most("4B bf16, dropout 0.1: last-25-step mean loss gap, / within-trainer spread",
                   tail_gap / max(tail_spread, 1e-6), 2.0, f"gap {tail_gap:.4f}, spread {tail_spread:.4f}")


if __name__ == "__main__":
    main()
