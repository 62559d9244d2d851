#!/usr/bin/env python3
"""Our engine reads what transformers writes and computes what transformers computes (fp32, CPU).
For the default tiny model and the 7-layer variant (sliding window shorter than the image run,
another RoPE factor): transformers builds Gemma3ForConditionalGeneration from the config.json our
make-tiny-model writes, with its own seeded random weights (norms and projector randomized so they
matter), and saves it with save_pretrained; our engine loads that directory. A right-padded batch
whose rows are shorter and longer than the window; logits within 1e-4 at every valid position and
at the answer position, our eager and SDPA attention each against HF eager."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import torch  # noqa: E402
from transformers import Gemma3Config  # noqa: E402


def check_variant(cli, checks, name, options):
    src = cli.make_tiny_model(cli.work / f"{name}_src", seed=0, **options)
    config = Gemma3Config.from_pretrained(src)
    model = ref.random_model(config, torch.float32, "eager", seed=11, device="cpu")
    model_dir = cli.work / name
    model.save_pretrained(model_dir)
    ref.copy_processor_files(src, model_dir)  # our loader wants the tokenizer next to the weights
    n_img = config.mm_tokens_per_image
    inputs = ref.random_inputs(config, 4, [(30, 40), (10, 20), (50, 80), (1, n_img // 2)], seed=3)
    expected = ref.hf_forward(model, inputs, "cpu", torch.float32)
    mask = inputs["attention_mask"]
    # The comparison only guards the sliding mask if the window changes the answer.
    window = config.text_config.sliding_window
    model.config.text_config.sliding_window = 1 << 20
    unwindowed = ref.hf_forward(model, inputs, "cpu", torch.float32)
    model.config.text_config.sliding_window = window
    checks.at_least(f"{name} window {window} matters: HF max|dlogit| vs no window", ref.max_valid_diff(
        unwindowed, expected, mask), 1e-2, f"image run {n_img} tokens")
    for attention in ["eager", "sdpa"]:
        ours = cli.forward(model_dir, inputs, f"{name}_{attention}", attention=attention)
        checks.at_most(f"{name} HF-saved max|dlogit| all positions ({attention})",
                       ref.max_valid_diff(ours, expected, mask), 1e-4)
        checks.at_most(f"{name} HF-saved max|dlogit| answer position ({attention})",
                       ref.answer_diff(ours, expected, mask), 1e-4)


def main():
    cli, checks = ref.test_setup(__doc__)
    for name, options in ref.TINY_VARIANTS.items():
        check_variant(cli, checks, name, options)
    checks.finish()


if __name__ == "__main__":
    main()
