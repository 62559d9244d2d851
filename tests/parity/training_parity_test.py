#!/usr/bin/env python3
"""Training parity: `medgemma-cli train` against peft and a plain torch loop that trains the HF way.

Both start from one adapter (peft's initialisation, saved by save_pretrained and loaded by ours
through --init-adapter), read the same examples in the same order (--no-shuffle), without dropout,
in float32 on the CPU, for 20 optimizer steps of torch's AdamW with transformers' cosine schedule
with warmup, clip_grad_norm_ and gradient accumulation 2 (each epoch's last window holds a single
micro-batch), in both loss modes. A window's loss is the sum over its target tokens divided by their
count, as our trainer takes it (the HF Trainer's num_items_in_batch). Bounds: per-step losses within
1e-3 relative, final adapters within 1e-4 (max |difference|).

Both sides see the same inputs: pixel values from `medgemma-cli preprocess`, prompt ids from
`medgemma-cli tokenize` (their parity with HF's processor is prompt_classify's and preprocess's
business); the answer turn is tokenized by HF's tokenizer.
"""
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

STEPS = 20
MICRO_BATCH = 2
ACCUMULATION = 2
TRAIN_IMAGES = 6  # 3 micro-batches per epoch: windows of 2 and of 1
EPOCHS = 10       # 2 steps each
LEARNING_RATE = 2e-3
WARMUP_RATIO = 0.1
MAX_GRAD_NORM = 1.0  # full-sequence norms start near 1.4 and fall to 0.6: both regimes are exercised
WEIGHT_DECAY = 0.01
SEED = 7
IGNORE = -100


def sequences(cli, model_dir, tokenizer, boi_id, answers, answer_only):
    """Per label: input ids, token types and loss labels as engine/training/training_batch.cc makes
    them: the image prompt, the label's answer, <end_of_turn>; full-sequence mode learns every token
    but <start_of_image> and the image soft tokens, answer-only mode the answer turn alone."""
    prompt_ids, prompt_types = cli.prompt(model_dir)
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    out = []
    for answer in answers:
        turn = tokenizer.encode(answer, add_special_tokens=False) + [end_of_turn]
        ids, types = prompt_ids + turn, prompt_types + [0] * len(turn)
        target = [t if i >= len(prompt_ids) or (not answer_only and types[i] != 1 and t != boi_id) else IGNORE
                  for i, t in enumerate(ids)]
        out.append((ids, types, target))
    assert len({len(s[0]) for s in out}) == 1, "answers of different lengths would need padding"
    return out


def windows():
    """Per optimizer step, the examples of each micro-batch: engine/training/training_plan.cc, unshuffled."""
    micro_per_epoch = math.ceil(TRAIN_IMAGES / MICRO_BATCH)
    steps_per_epoch = math.ceil(micro_per_epoch / ACCUMULATION)
    assert steps_per_epoch * EPOCHS == STEPS
    out = []
    for step in range(STEPS):
        first = (step % steps_per_epoch) * ACCUMULATION
        out.append([list(range(m * MICRO_BATCH, min((m + 1) * MICRO_BATCH, TRAIN_IMAGES)))
                    for m in range(first, min(first + ACCUMULATION, micro_per_epoch))])
    return out


def peft_run(model_dir, init_dir, pixels, labels, seqs):
    """The reference: per-step losses, the final LoRA tensors by peft key, and how many steps clipped."""
    from peft import PeftModel
    from peft.utils import get_peft_model_state_dict
    from transformers import get_cosine_schedule_with_warmup

    base, problems = ref.load_model(model_dir, attn="eager")
    assert not problems, problems
    model = PeftModel.from_pretrained(base, str(init_dir), is_trainable=True)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8, weight_decay=WEIGHT_DECAY)
    schedule = get_cosine_schedule_with_warmup(optimizer, math.ceil(WARMUP_RATIO * STEPS), STEPS)
    losses, clipped = [], 0
    for window in windows():
        optimizer.zero_grad(set_to_none=True)
        window_tokens = sum(sum(t != IGNORE for t in seqs[labels[i]][2][1:]) for micro in window for i in micro)
        step_loss = 0.0
        for micro in window:
            ids, types, target = (torch.tensor([seqs[labels[i]][k] for i in micro]) for k in range(3))
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=types,
                           pixel_values=pixels[micro]).logits.float()
            shifted = target[:, 1:]
            keep = shifted != IGNORE
            loss = torch.nn.functional.cross_entropy(logits[:, :-1][keep], shifted[keep], reduction="sum")
            loss = loss / window_tokens
            loss.backward()
            step_loss += loss.item()
        clipped += bool(torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM) > MAX_GRAD_NORM)
        optimizer.step()
        schedule.step()
        losses.append(step_loss)
    return losses, {k: v.detach() for k, v in get_peft_model_state_dict(model).items()}, clipped


def our_run(cli, model_dir, init_dir, mode):
    out = cli.work / f"ours_{mode.lower()}"
    cli.run("train", "--model", model_dir, "--device", "cpu", "--dtype", "float32", "--attention", "eager",
            "--task", ref.TASK_YAML, "--out", out, "--train-csv", cli.work / "train.csv",
            "--eval-csv", cli.work / "eval.csv", "--init-adapter", init_dir, "--no-shuffle", "--lora-r", 8,
            "--lora-alpha", 16, "--lora-dropout", 0, "--target-modules", "all-linear", "--epochs", EPOCHS,
            "--max-steps", STEPS, "--learning-rate", LEARNING_RATE, "--micro-batch-size", MICRO_BATCH,
            "--gradient-accumulation-steps", ACCUMULATION, "--warmup-ratio", WARMUP_RATIO,
            "--max-grad-norm", MAX_GRAD_NORM, "--weight-decay", WEIGHT_DECAY, "--seed", SEED, "--loss", mode,
            "--checkpoint-every-steps", STEPS)
    losses = json.loads((out / "metrics.json").read_text())["step_losses"]
    return losses, load_file(str(out / "adapter" / "adapter_model.safetensors")), cli.seconds


def write_data(cli, n_labels):
    """PNGs with manifests: TRAIN_IMAGES to train on (labels spread over the classes), two to evaluate."""
    rows = {"train": [], "eval": []}
    for i in range(TRAIN_IMAGES + 2):
        path = ref.make_png(cli.work / f"im{i}.png", 64 + 8 * i, 48, seed=100 + i)
        rows["train" if i < TRAIN_IMAGES else "eval"].append((path, (3 * i) % n_labels))
    for split, items in rows.items():
        (cli.work / f"{split}.csv").write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in items))
    return rows["train"]


def main():
    cli, checks = ref.test_setup(__doc__)
    torch.set_num_threads(2)
    model_dir = cli.make_tiny_model(cli.work / "model", seed=3)
    _, answers = ref.load_task()
    train = write_data(cli, len(answers))
    pixels = cli.preprocess(model_dir, [p for p, _ in train], "train_pixels").float()
    labels = [label for _, label in train]
    processor = ref.hf_processor(model_dir)

    # peft's own initialisation of every linear layer (kaiming-uniform A, zero B), saved as peft saves it.
    from peft import LoraConfig, get_peft_model
    base, _ = ref.load_model(model_dir, attn="eager")
    torch.manual_seed(SEED)
    init_dir = cli.work / "peft_init"
    get_peft_model(base, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear")) \
        .save_pretrained(str(init_dir))

    clipped_steps = 0
    for mode in ["FULL_SEQUENCE", "ANSWER_ONLY"]:
        seqs = sequences(cli, model_dir, processor.tokenizer, base.config.boi_token_index, answers,
                         mode == "ANSWER_ONLY")
        theirs, their_adapter, clipped = peft_run(model_dir, init_dir, pixels, labels, seqs)
        clipped_steps += clipped
        ours, our_adapter, seconds = our_run(cli, model_dir, init_dir, mode)
        note = (f"loss {theirs[0]:.4f} -> {theirs[-1]:.4f}, clipping scaled {clipped}/{STEPS} steps, "
                f"our train {seconds:.1f}s")
        checks.equal(f"{mode} steps run", len(ours), STEPS, str(len(ours)))
        checks.equal(f"{mode} adapter tensors", sorted(our_adapter), sorted(their_adapter),
                     f"{len(our_adapter)} tensors")
        if len(ours) != STEPS or sorted(our_adapter) != sorted(their_adapter):
            continue
        for step, (o, t) in enumerate(zip(ours, theirs)):
            print(f"    {mode} step {step + 1:2d}  ours {o:.6f}  peft {t:.6f}  rel {abs(o - t) / abs(t):.1e}")
        checks.at_most(f"{mode} per-step loss, max relative difference",
                       max(abs(o - t) / abs(t) for o, t in zip(ours, theirs)), 1e-3, note)
        checks.at_most(f"{mode} final adapter, max |difference|",
                       max(float((our_adapter[k] - their_adapter[k]).abs().max()) for k in their_adapter), 1e-4,
                       f"max |B| {max(float(v.abs().max()) for k, v in their_adapter.items() if 'lora_B' in k):.3f}")
        checks.record(f"{mode} reference loss falls", f"{theirs[0]:.4f} -> {theirs[-1]:.4f}", "falls",
                      theirs[-1] < theirs[0])
    checks.record("clipping scaled some steps and left others alone", f"{clipped_steps}/{2 * STEPS}",
                  f"in (0, {2 * STEPS})", 0 < clipped_steps < 2 * STEPS)
    checks.finish()


if __name__ == "__main__":
    main()
