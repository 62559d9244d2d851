"""peft (+ a plain torch loop that trains the HF way) against `medgemma-cli train`, step by step.

Both start from one adapter (peft's initialisation, saved by save_pretrained and loaded by ours
through --init-adapter) and read the same examples in the same order (--no-shuffle): torch's AdamW
with transformers' cosine schedule with warmup, clip_grad_norm_ and gradient accumulation (an
epoch's last window may hold fewer micro-batches). A window's loss is the sum over its target tokens
divided by their count, as our trainer takes it (the HF Trainer's num_items_in_batch). Both sides
see the same inputs: pixel values from `medgemma-cli preprocess`, prompt ids from `medgemma-cli
tokenize`; the answer turn is tokenized by HF's tokenizer where the checkpoint has one.

Users: tests/parity/training_parity_test.py (the tiny model, float32 on the CPU, in ctest) and
tools/parity/train_parity.py (the 4B-shaped model, bf16 on the GPU machine, dropout off and on).
"""
import dataclasses
import json
import math

import torch
from safetensors.torch import load_file

import hf_reference as ref

IGNORE = -100


@dataclasses.dataclass
class Recipe:
    steps: int = 20
    micro_batch: int = 2
    accumulation: int = 2
    train_images: int = 6  # 3 micro-batches per epoch: windows of 2 and of 1
    learning_rate: float = 2e-3
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    weight_decay: float = 0.01
    seed: int = 7
    dropout: float = 0.0
    device: str = "cpu"
    dtype: str = "float32"  # both sides' compute dtype; LoRA parameters stay float32
    attention: str = "eager"

    @property
    def steps_per_epoch(self):
        return math.ceil(math.ceil(self.train_images / self.micro_batch) / self.accumulation)

    @property
    def epochs(self):
        return math.ceil(self.steps / self.steps_per_epoch)

    @property
    def torch_dtype(self):
        return {"float32": torch.float32, "bfloat16": torch.bfloat16}[self.dtype]


def sequences(cli, model_dir, encode, end_of_turn, boi_id, answers, answer_only):
    """Per label: input ids, token types and loss labels as engine/training/training_batch.cc makes
    them: the image prompt, the label's answer (`encode`: text -> ids, no special tokens added),
    <end_of_turn>; full-sequence mode learns every token but <start_of_image> and the image soft
    tokens, answer-only mode the answer turn alone."""
    prompt_ids, prompt_types = cli.prompt(model_dir)
    out = []
    for answer in answers:
        turn = encode(answer) + [end_of_turn]
        ids, types = prompt_ids + turn, prompt_types + [0] * len(turn)
        target = [t if i >= len(prompt_ids) or (not answer_only and types[i] != 1 and t != boi_id) else IGNORE
                  for i, t in enumerate(ids)]
        out.append((ids, types, target))
    assert len({len(s[0]) for s in out}) == 1, "answers of different lengths would need padding"
    return out


def windows(recipe):
    """Per optimizer step, the examples of each micro-batch: engine/training/training_plan.cc, unshuffled."""
    micro_per_epoch = math.ceil(recipe.train_images / recipe.micro_batch)
    out = []
    for step in range(recipe.steps):
        first = (step % recipe.steps_per_epoch) * recipe.accumulation
        out.append([list(range(m * recipe.micro_batch, min((m + 1) * recipe.micro_batch, recipe.train_images)))
                    for m in range(first, min(first + recipe.accumulation, micro_per_epoch))])
    return out


def write_data(cli, n_labels, recipe, size=(64, 48)):
    """PNGs with manifests: recipe.train_images to train on (labels spread over the classes), two to evaluate."""
    rows = {"train": [], "eval": []}
    for i in range(recipe.train_images + 2):
        path = ref.make_png(cli.work / f"im{i}.png", size[0] + 8 * i, size[1], seed=100 + i)
        rows["train" if i < recipe.train_images else "eval"].append((path, (3 * i) % n_labels))
    for split, items in rows.items():
        (cli.work / f"{split}.csv").write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in items))
    return rows["train"]


def save_peft_init(model_dir, init_dir, recipe):
    """peft's own initialisation of every linear layer (kaiming-uniform A, zero B), saved as peft saves it."""
    from peft import LoraConfig, get_peft_model
    base, _ = ref.load_model(model_dir, attn=recipe.attention, dtype=recipe.torch_dtype, device=recipe.device)
    torch.manual_seed(recipe.seed)
    get_peft_model(base, LoraConfig(r=8, lora_alpha=16, lora_dropout=recipe.dropout, target_modules="all-linear")) \
        .save_pretrained(str(init_dir))
    boi_id = base.config.boi_token_index
    del base
    if recipe.device == "cuda":
        torch.cuda.empty_cache()
    return boi_id


def peft_run(model_dir, init_dir, pixels, labels, seqs, recipe, dropout_seed=0):
    """The reference: per-step losses, the final LoRA tensors by peft key, and how many steps clipped."""
    from peft import PeftModel
    from peft.utils import get_peft_model_state_dict
    from transformers import get_cosine_schedule_with_warmup

    base, problems = ref.load_model(model_dir, attn=recipe.attention, dtype=recipe.torch_dtype, device=recipe.device)
    assert not problems, problems
    model = PeftModel.from_pretrained(base, str(init_dir), is_trainable=True)
    model.train()
    torch.manual_seed(dropout_seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=recipe.learning_rate, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=recipe.weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, math.ceil(recipe.warmup_ratio * recipe.steps), recipe.steps)
    losses, clipped = [], 0
    for window in windows(recipe):
        optimizer.zero_grad(set_to_none=True)
        window_tokens = sum(sum(t != IGNORE for t in seqs[labels[i]][2][1:]) for micro in window for i in micro)
        step_loss = 0.0
        for micro in window:
            ids, types, target = (torch.tensor([seqs[labels[i]][k] for i in micro]).to(recipe.device)
                                  for k in range(3))
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=types,
                           pixel_values=pixels[micro].to(recipe.device, recipe.torch_dtype)).logits.float()
            shifted = target[:, 1:]
            keep = shifted != IGNORE
            loss = torch.nn.functional.cross_entropy(logits[:, :-1][keep], shifted[keep], reduction="sum")
            loss = loss / window_tokens
            loss.backward()
            step_loss += loss.item()
        clipped += bool(torch.nn.utils.clip_grad_norm_(params, recipe.max_grad_norm) > recipe.max_grad_norm)
        optimizer.step()
        schedule.step()
        losses.append(step_loss)
    state = {k: v.detach().cpu() for k, v in get_peft_model_state_dict(model).items()}
    del model, base
    if recipe.device == "cuda":
        torch.cuda.empty_cache()
    return losses, state, clipped


def our_run(cli, model_dir, init_dir, mode, recipe, tag=None):
    """`medgemma-cli train` with the recipe: per-step losses, the final adapter, seconds taken."""
    out = cli.work / (tag or f"ours_{mode.lower()}")
    cli.run("train", "--model", model_dir, "--device", recipe.device, "--dtype", recipe.dtype,
            "--attention", recipe.attention, "--task", ref.TASK_YAML, "--out", out,
            "--train-csv", cli.work / "train.csv", "--eval-csv", cli.work / "eval.csv", "--init-adapter", init_dir,
            "--no-shuffle", "--lora-r", 8, "--lora-alpha", 16, "--lora-dropout", recipe.dropout,
            "--target-modules", "all-linear", "--epochs", recipe.epochs, "--max-steps", recipe.steps,
            "--learning-rate", recipe.learning_rate, "--micro-batch-size", recipe.micro_batch,
            "--gradient-accumulation-steps", recipe.accumulation, "--warmup-ratio", recipe.warmup_ratio,
            "--max-grad-norm", recipe.max_grad_norm, "--weight-decay", recipe.weight_decay, "--seed", recipe.seed,
            "--loss", mode, "--checkpoint-every-steps", recipe.steps)
    losses = json.loads((out / "metrics.json").read_text())["step_losses"]
    return losses, load_file(str(out / "adapter" / "adapter_model.safetensors")), cli.seconds


def max_relative(ours, theirs):
    return max(abs(o - t) / abs(t) for o, t in zip(ours, theirs))
