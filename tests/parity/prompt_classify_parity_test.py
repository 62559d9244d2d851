#!/usr/bin/env python3
"""Prompt ids and class probabilities against HF's own pipeline (fp32, CPU), for the default tiny
model and the 7-layer variant as make-tiny-model writes them. HF's side is AutoProcessor on the
checkpoint directory (its tokenizer.model, chat_template.jinja and processor_config.json) with
apply_chat_template and the processor call, nothing re-implemented here. Our prompt ids and
token_type_ids must equal HF's for the task prompt and for awkward free texts; raw text ids must
equal HF's tokenizer; label probabilities must agree within 1e-4 given HF's exact tensors (our
eager and SDPA attention) and within 1e-4 through our own decode + preprocess + prompt."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import Gemma3Config  # noqa: E402

FREE_TEXTS = ["  What tissue is this?  ", "Describe the image.\n\nBe brief:", "Ist das gutartig? 良性か悪性か 🔬",
              "<start_of_turn> is a special token; so is <end_of_turn>"]


def check_prompts(cli, checks, name, model_dir, processor, config, image, task_prompt):
    hf = ref.hf_prompt_inputs(processor, config, [image], task_prompt)
    ids, types = cli.prompt(model_dir)
    note = f"HF image token id {ref.hf_image_token_id(processor)} mapped to {config.image_token_index}"
    checks.equal(f"{name} task prompt ids == HF Gemma3Processor", ids, hf["input_ids"][0].tolist(), f"{len(ids)} ids",
                 note)
    checks.equal(f"{name} task prompt token_type_ids == HF", types, hf["token_type_ids"][0].tolist(),
                 f"{sum(types)} image tokens")
    for i, text in enumerate(FREE_TEXTS):
        hf = ref.hf_prompt_inputs(processor, config, [image], text)
        ids, _ = cli.prompt(model_dir, text=text)
        checks.equal(f"{name} free text {i} prompt ids == HF", ids, hf["input_ids"][0].tolist(), f"{len(ids)} ids")


def check_raw_text(cli, checks, model_dir, tokenizer):
    rng = np.random.default_rng(11)
    alphabet = list("abcdefghijklmnopqrstuvwxyz ABC0123456789\n\n  .,:;()-_éü中文😀\t")
    mismatches = []
    for _ in range(20):
        s = "".join(rng.choice(alphabet, size=int(rng.integers(1, 40))))
        if tokenizer.encode(s, add_special_tokens=False) != cli.encode(model_dir, s):
            mismatches.append(s)
    checks.record("raw text ids == HF tokenizer (20 random strings)", f"{20 - len(mismatches)}/20", "20/20",
                  not mismatches, "" if not mismatches else f"differ: {mismatches!r}")


def check_probabilities(cli, checks, name, model_dir, processor, config, png, task_prompt, answers):
    model, problems = ref.load_model(model_dir, attn="eager")
    assert not problems, problems
    label_ids = ref.label_token_ids(processor.tokenizer, answers)
    hf_in = ref.hf_prompt_inputs(processor, config, [Image.open(png)], task_prompt)
    with torch.no_grad():
        hf_probs = torch.softmax(model(**hf_in).logits.float()[0, -1, label_ids], -1)
    for attention in ["eager", "sdpa"]:
        ours = cli.forward(model_dir, dict(hf_in), f"{name}_labels_{attention}", attention=attention, labels=label_ids)
        checks.at_most(f"{name} label probabilities on HF's tensors ({attention})",
                       float((ours[0] - hf_probs).abs().max()), 1e-4)
    for attention in ["eager", "sdpa"]:
        ours = cli.classify(model_dir, [png], attention=attention)[0]
        checks.at_most(f"{name} classify --json vs HF pipeline, own preprocessing ({attention})",
                       float((ours - hf_probs).abs().max()), 1e-4, f"HF argmax {int(hf_probs.argmax())}")


def main():
    cli, checks = ref.test_setup(__doc__)
    task_prompt, answers = ref.load_task()
    png = ref.make_png(cli.work / "breakhis_like.png", 700, 460, seed=5)
    for name, options in ref.TINY_VARIANTS.items():
        model_dir = cli.make_tiny_model(cli.work / name, seed=4, **options)
        processor = ref.hf_processor(model_dir)
        config = Gemma3Config.from_pretrained(model_dir)
        check_prompts(cli, checks, name, model_dir, processor, config, Image.open(png), task_prompt)
        if name == "tiny":
            check_raw_text(cli, checks, model_dir, processor.tokenizer)
        check_probabilities(cli, checks, name, model_dir, processor, config, png, task_prompt, answers)
    checks.finish()


if __name__ == "__main__":
    main()
