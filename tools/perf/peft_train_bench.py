"""peft's side of bench/train_gpu.sh: the same recipe (rank-8 all-linear LoRA, alpha 16, dropout 0.1,
torch AdamW lr 5e-4, clip 0.3, 8 samples a step as micro-batch x accumulation) on the same
4B-shaped checkpoint in bf16, HF's own gradient checkpointing when asked, on random 357-token
image prompts (speed and memory only: the loss is every text token's). Prints samples/s over all
steps (as our trainer reports it), over the steps after the first two (as train_step_bench does),
and torch's max allocated and reserved memory; the wrapper adds nvidia-smi's peak for the process.
  python3 tools/perf/peft_train_bench.py --model DIR --micro-batch 1 --accumulation 8 --checkpointing on --steps 6
"""
import argparse
import os
import sys
import time

import torch
import transformers
from peft import LoraConfig, get_peft_model

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "parity"))
import hf_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/parity/big")
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--accumulation", type=int, default=8)
    ap.add_argument("--checkpointing", choices=["on", "off"], default="on")
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    model = transformers.Gemma3ForConditionalGeneration.from_pretrained(
        args.model, dtype=torch.bfloat16, attn_implementation="sdpa").to("cuda")
    if args.checkpointing == "on":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules="all-linear"))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=5e-4)
    accumulation = args.accumulation
    samples = args.micro_batch * accumulation
    inputs = ref.random_inputs(model.config, args.micro_batch, [(60, 35)] * args.micro_batch, seed=1)
    inputs = {k: v.to("cuda") for k, v in inputs.items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(torch.bfloat16)
    labels = inputs["input_ids"].masked_fill(inputs["token_type_ids"] == 1, -100)
    model.train()
    torch.cuda.synchronize()
    start = time.time()
    warm = None
    for step in range(args.steps):
        if step == 2:
            warm = time.time()
        for _ in range(accumulation):
            loss = model(**inputs, labels=labels).loss / accumulation
            loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.3)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        print(f"step {step + 1}: loss {loss.item() * accumulation:.4f}, "
              f"{(step + 1) * samples / (time.time() - start):.2f} samples/s", flush=True)
    end = time.time()
    rate = args.steps * samples / (end - start)
    steady = (args.steps - 2) * samples / (end - warm) if warm else float("nan")
    print(f"peft micro-batch {args.micro_batch} checkpointing {args.checkpointing}: {rate:.2f} samples/s "
          f"(after 2 steps: {steady:.2f}) | {torch.cuda.max_memory_allocated() / 2**30:.1f} / "
          f"{torch.cuda.max_memory_reserved() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
