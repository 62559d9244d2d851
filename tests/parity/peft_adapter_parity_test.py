#!/usr/bin/env python3
"""A LoRA adapter made and saved by peft, loaded by our engine (fp32, CPU). On the checkpoint
make-tiny-model writes (default and 7-layer variant), peft wraps a subset of the linear layers
(different per variant, text and vision tower both hit), lora_B is seeded random so the adapter
moves the logits (checked: at least 1e-2), and our forward with --adapter on that directory must
match peft's logits within 1e-4 (eager and SDPA), our classify --adapter its label probabilities."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402

TARGETS = {"tiny": ["q_proj", "v_proj", "down_proj"], "tiny7": ["k_proj", "o_proj", "gate_proj", "up_proj", "fc1"]}


def check_variant(cli, checks, name, options, png):
    model_dir = cli.make_tiny_model(cli.work / name, seed=6, **options)
    model, problems = ref.load_model(model_dir, attn="eager")
    assert not problems, problems
    config = model.config
    n_img = config.mm_tokens_per_image
    inputs = ref.random_inputs(config, 3, [(30, 40), (5, n_img), (50, 80)], seed=8)
    mask = inputs["attention_mask"]
    base = ref.hf_forward(model, inputs, "cpu", torch.float32)
    adapter_dir = cli.work / f"{name}_adapter"
    peft_model, n = ref.add_peft_adapter(model, adapter_dir, seed=9, target_modules=TARGETS[name], r=4, alpha=8)
    expected = ref.hf_forward(peft_model, inputs, "cpu", torch.float32)
    checks.at_least(f"{name} adapter moves HF's logits (max|d| vs base)", ref.max_valid_diff(expected, base, mask),
                    1e-2, f"{n} LoRA params on {','.join(TARGETS[name])}")
    for attention in ["eager", "sdpa"]:
        ours = cli.forward(model_dir, inputs, f"{name}_lora_{attention}", attention=attention, adapter=adapter_dir)
        checks.at_most(f"{name} + peft LoRA max|dlogit| all positions ({attention})",
                       ref.max_valid_diff(ours, expected, mask), 1e-4)
        checks.at_most(f"{name} + peft LoRA max|dlogit| answer position ({attention})",
                       ref.answer_diff(ours, expected, mask), 1e-4)

    processor = ref.hf_processor(model_dir)
    task_prompt, answers = ref.load_task()
    label_ids = ref.label_token_ids(processor.tokenizer, answers)
    hf_in = ref.hf_prompt_inputs(processor, config, [Image.open(png)], task_prompt)
    with torch.no_grad():
        hf_probs = torch.softmax(peft_model(**hf_in).logits.float()[0, -1, label_ids], -1)
    ours = cli.classify(model_dir, [png], adapter=adapter_dir)[0]
    checks.at_most(f"{name} + peft LoRA classify --json vs HF pipeline", float((ours - hf_probs).abs().max()), 1e-4)


def main():
    cli, checks = ref.test_setup(__doc__)
    png = ref.make_png(cli.work / "breakhis_like.png", 460, 700, seed=12)
    for name, options in ref.TINY_VARIANTS.items():
        check_variant(cli, checks, name, options, png)
    checks.finish()


if __name__ == "__main__":
    main()
