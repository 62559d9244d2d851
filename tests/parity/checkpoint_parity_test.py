#!/usr/bin/env python3
"""What make-tiny-model writes is a checkpoint transformers loads as it is, and our engine and
transformers then agree on its logits (fp32, CPU). For the default tiny model and the 7-layer
variant: config.json passes transformers' strict config (query_pre_attn_scalar an int), every
tensor loads with nothing missing or unexpected, HF's config has the layer types, window and RoPE
factor asked for, logits agree within 1e-4 for eager and SDPA attention, and our reader takes
query_pre_attn_scalar written as a float too."""
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import torch  # noqa: E402


def check_variant(cli, checks, name, options):
    model_dir = cli.make_tiny_model(cli.work / name, seed=3, **options)
    written = json.loads((model_dir / "config.json").read_text())["text_config"]
    checks.record(f"{name} config.json query_pre_attn_scalar is an int", repr(written["query_pre_attn_scalar"]),
                  "int", type(written["query_pre_attn_scalar"]) is int)

    model, problems = ref.load_model(model_dir, attn="eager")
    checks.record(f"{name} from_pretrained: no missing/unexpected/mismatched tensors", problems or "none", "none",
                  not problems)
    tc = model.config.text_config
    want_layers = options.get("text_layers", 2)
    pattern = min(want_layers, 6)
    want_types = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(want_layers)]
    checks.equal(f"{name} HF layer_types", tc.layer_types, want_types, f"{len(tc.layer_types)} layers")
    checks.equal(f"{name} HF sliding_window", tc.sliding_window, options.get("sliding_window", 24),
                 str(tc.sliding_window))
    factor = tc.rope_parameters["full_attention"].get("factor")
    checks.equal(f"{name} HF global RoPE linear factor", factor, options.get("rope_scaling", 8.0), str(factor))

    config = model.config
    n_img = config.mm_tokens_per_image
    inputs = ref.random_inputs(config, 3, [(30, 40), (3, 2 * n_img), (60, 90)], seed=5)
    expected = ref.hf_forward(model, inputs, "cpu", torch.float32)
    mask = inputs["attention_mask"]
    ours_by_attention = {}
    for attention in ["eager", "sdpa"]:
        ours = cli.forward(model_dir, inputs, f"{name}_{attention}", attention=attention)
        ours_by_attention[attention] = ours
        checks.at_most(f"{name} our checkpoint max|dlogit| all positions ({attention})",
                       ref.max_valid_diff(ours, expected, mask), 1e-4)
        checks.at_most(f"{name} our checkpoint max|dlogit| answer position ({attention})",
                       ref.answer_diff(ours, expected, mask), 1e-4)

    # Checkpoints written before the fix (and some hub files) carry 16.0: still read, same logits.
    float_dir = cli.work / f"{name}_float_scalar"
    shutil.copytree(model_dir, float_dir)
    config_json = json.loads((float_dir / "config.json").read_text())
    config_json["text_config"]["query_pre_attn_scalar"] = float(config_json["text_config"]["query_pre_attn_scalar"])
    (float_dir / "config.json").write_text(json.dumps(config_json))
    assert '"query_pre_attn_scalar": 16.0' in (float_dir / "config.json").read_text()
    ours = cli.forward(float_dir, inputs, f"{name}_float", attention="eager")
    checks.at_most(f"{name} query_pre_attn_scalar 16.0 read as 16: max|dlogit| vs int form",
                   float((ours - ours_by_attention["eager"]).abs().max()), 0.0)


def main():
    cli, checks = ref.test_setup(__doc__)
    for name, options in ref.TINY_VARIANTS.items():
        check_variant(cli, checks, name, options)
    checks.finish()


if __name__ == "__main__":
    main()
