"""Would an FP8 mode pass its gate? Runs HF transformers on the parity stage's 4B-shaped checkpoint
with every nn.Linear of the vision tower, of the decoder, or of both computed as FP8 e4m3 GEMMs
with row-wise scales (torch._scaled_mm, per-token activation and per-channel weight scales), and
compares the label probabilities with HF fp32 as the parity gate does (an FP8 mode may be off by
2x what HF bf16 is). Also times the vision tower's GEMM shapes in bf16 against FP8 plus the
activation quantisation it needs.

  device run (after bench/gpu.sh's parity stage wrote /tmp/parity/big):
    PYTHONUNBUFFERED=1 python3 tools/perf/fp8_probe.py
"""
import argparse
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "parity"))
import hf_reference as ref  # noqa: E402
from profile_forward import bench  # noqa: E402

FP8_MAX = 448.0


def quantize_rows(t):
    scale = t.abs().amax(-1, keepdim=True).float().clamp(min=1e-12) / FP8_MAX
    return (t.float() / scale).to(torch.float8_e4m3fn), scale


def fp8_forward(module, x):
    flat = x.reshape(-1, x.shape[-1])
    x8, sx = quantize_rows(flat)
    y = torch._scaled_mm(x8, module.w8.t(), scale_a=sx, scale_b=module.sw.view(1, -1), out_dtype=torch.bfloat16)
    if module.bias is not None:
        y = y + module.bias
    return y.view(*x.shape[:-1], y.shape[-1])


def use_fp8(model, prefix):
    patched = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and name.startswith(prefix) and "lm_head" not in name:
            m.w8, m.sw = quantize_rows(m.weight.data)
            m.forward = lambda x, m=m: fp8_forward(m, x)
            patched.append(m)
    return patched


def restore(patched):
    for m in patched:
        del m.forward, m.w8, m.sw


def gate_inputs(config, n):
    """The parity gate's inputs and label ids (tools/parity/parity.py big_parity)."""
    g = torch.Generator().manual_seed(21)
    lens = [(int(torch.randint(20, 60, (1,), generator=g)), int(torch.randint(20, 60, (1,), generator=g)))
            for _ in range(n)]
    inputs = ref.random_inputs(config, n, lens, seed=22)
    labels = torch.randint(1000, 250000, (8,), generator=g).tolist()
    return inputs, labels


def gemm_timings():
    print("== vision GEMM shapes, batch 8 (M = 32768 tokens): bf16 vs FP8 incl. activation quantisation ==")
    for k, n in [(1152, 1152), (1152, 4304), (4304, 1152)]:
        x = torch.randn(32768, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        w8, sw = quantize_rows(w)
        bf16 = bench(lambda: x @ w.t())
        x8, sx = quantize_rows(x)
        mm = bench(lambda: torch._scaled_mm(x8, w8.t(), scale_a=sx, scale_b=sw.view(1, -1), out_dtype=torch.bfloat16))
        quant = bench(lambda: quantize_rows(x))
        print(f"K {k:5d} N {n:5d}: bf16 {bf16:.3f} ms, fp8 GEMM {mm:.3f} ms + quantise {quant:.3f} ms (unfused torch)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/parity/big")
    ap.add_argument("--inputs", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    gemm_timings()
    model = transformers.Gemma3ForConditionalGeneration.from_pretrained(
        args.model, torch_dtype=torch.float32, attn_implementation="sdpa").to("cuda").eval()
    inputs, labels = gate_inputs(model.config, args.inputs)
    run = lambda dtype: ref.hf_forward(model, inputs, "cuda", dtype, labels=labels, batch_size=args.batch)  # noqa: E731
    reference = run(torch.float32)
    model.to(torch.bfloat16)
    bf16 = run(torch.bfloat16)
    hf_d = float((bf16 - reference).abs().max())
    agree = lambda p: int((p.argmax(-1) == reference.argmax(-1)).sum())  # noqa: E731
    print(f"HF bf16 vs fp32: max|dprob| {hf_d:.4f}, argmax {agree(bf16)}/{args.inputs}; FP8 bound 2x = {2 * hf_d:.4f}")
    for label, prefix in [("vision tower", "model.vision_tower"), ("decoder", "model.language_model"),
                          ("both", "model.")]:
        patched = use_fp8(model, prefix)
        probs = run(torch.bfloat16)
        restore(patched)
        d = float((probs - reference).abs().max())
        verdict = "pass" if d <= 2 * hf_d and agree(probs) >= agree(bf16) else "FAIL"
        print(f"FP8 {label:12s} ({len(patched)} linears): max|dprob| {d:.4f}, argmax {agree(probs)}/{args.inputs}: "
              f"{verdict}")


if __name__ == "__main__":
    main()
