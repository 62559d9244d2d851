"""Where a 4B-shaped MedGemma forward spends its GPU time, and what the candidate changes of the
serving-speed issue would buy, measured in one run on the GPU machine (no engine build needed):

  device run:  PYTHONUNBUFFERED=1 python3 tools/perf/profile_forward.py [--batch 8]

Prints (1) HF forward-only throughput per batch size, (2) a kernel-time table of one batch by
category and the top kernels, (3) micro-benchmarks: SDPA backends on the vision attention shape
and on the masked text shape, fc1+GELU as one cuBLASLt epilogue, fused QKV / gate-up GEMMs, rank-8
LoRA in fp32 (peft's way) vs bf16, and a CUDA-graph replay of the vision tower.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "parity"))
import hf_reference as ref  # noqa: E402
from parity import medgemma_4b_config  # noqa: E402
from kernel_categories import print_table  # noqa: E402


def bench(fn, iters=20, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


def forward_inputs(config, batch, device):
    inputs = ref.random_inputs(config, batch, [(60, 35)] * batch, seed=1)  # 357 tokens as the prompt
    inputs = {k: v.to(device) for k, v in inputs.items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(torch.bfloat16)
    return inputs


def hf_throughput(model, config, batches):
    print("== HF forward-only, bf16, sdpa ==")
    for b in batches:
        inputs = forward_inputs(config, b, "cuda")
        with torch.no_grad():
            ms = bench(lambda: model(**inputs), iters=5, warmup=2)
        print(f"batch {b:3d}: {ms:8.1f} ms  {b * 1000 / ms:6.1f} img/s", flush=True)


def profile(model, config, batch):
    inputs = forward_inputs(config, batch, "cuda")
    with torch.no_grad():
        model(**inputs)
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            model(**inputs)
            torch.cuda.synchronize()
    kernels = [(ev.name, ev.device_time_total) for ev in prof.events()
               if ev.device_type == torch.autograd.DeviceType.CUDA]
    print_table(kernels, f"HF batch-{batch} forward")


def sdpa_backends():
    print("== SDPA backends ==")
    torch.manual_seed(0)
    for b in (8, 16):
        q, k, v = (torch.randn(b, 16, 4096, 72, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        ref_out = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
        for be in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION):
            try:
                with sdpa_kernel([be]):
                    ms = bench(lambda: F.scaled_dot_product_attention(q, k, v))
                    err = (F.scaled_dot_product_attention(q, k, v).float() - ref_out).norm() / ref_out.norm()
                print(f"  vision B={b} H16 L4096 d72 {be.name:20s} {ms:7.2f} ms  rel err {err:.1e}")
            except RuntimeError as e:
                print(f"  vision B={b} {be.name}: unavailable ({str(e).splitlines()[0][:80]})")
        qp, kp, vp = (F.pad(t, (0, 8)) for t in (q, k, v))
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
            ms = bench(lambda: F.scaled_dot_product_attention(qp, kp, vp, scale=72 ** -0.5))
        print(f"  vision B={b} padded to d80, flash     {ms:7.2f} ms")
    b, L = 8, 357
    q = torch.randn(b, 8, L, 256, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(b, 8, L, 256, device="cuda", dtype=torch.bfloat16)
    v = torch.randn_like(k)
    mask = torch.ones(L, L, device="cuda", dtype=torch.bool).tril().expand(b, 1, L, L).clone()
    mask[:, :, 62:318, 62:318] = True
    add = torch.zeros(b, 1, L, L, device="cuda", dtype=torch.bfloat16).masked_fill(~mask, float("-inf"))
    for name, m in (("bool mask", mask), ("additive bf16 mask", add)):
        for be in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION,
                   SDPBackend.MATH):
            try:
                with sdpa_kernel([be]):
                    ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
                print(f"  text B8 H8 L357 d256 {name:18s} {be.name:20s} {ms:7.3f} ms")
            except RuntimeError as e:
                print(f"  text {name} {be.name}: unavailable ({str(e).splitlines()[0][:60]})")


def gemm_fusions():
    print("== GEMM fusions (bf16) ==")
    torch.manual_seed(0)
    x = torch.randn(8 * 4096, 1152, device="cuda", dtype=torch.bfloat16)
    w1 = torch.randn(4304, 1152, device="cuda", dtype=torch.bfloat16) * 0.03
    b1 = torch.randn(4304, device="cuda", dtype=torch.bfloat16) * 0.03
    plain = bench(lambda: F.gelu(F.linear(x, w1, b1), approximate="tanh"))
    fused = bench(lambda: torch._addmm_activation(b1, x, w1.t(), use_gelu=True))
    r = F.gelu(F.linear(x.float(), w1.float(), b1.float()), approximate="tanh")
    e1 = (F.gelu(F.linear(x, w1, b1), approximate="tanh").float() - r).norm() / r.norm()
    e2 = (torch._addmm_activation(b1, x, w1.t(), use_gelu=True).float() - r).norm() / r.norm()
    print(f"  vision fc1+gelu B8: linear then gelu {plain:.2f} ms (err {e1:.1e}); epilogue {fused:.2f} ms (err {e2:.1e})")
    wq, wk, wv = (torch.randn(1152, 1152, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    bq, bk, bv = (torch.randn(1152, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    wqkv, bqkv = torch.cat([wq, wk, wv]), torch.cat([bq, bk, bv])
    three = bench(lambda: (F.linear(x, wq, bq), F.linear(x, wk, bk), F.linear(x, wv, bv)))
    one = bench(lambda: F.linear(x, wqkv, bqkv).split(1152, -1))
    print(f"  vision qkv B8: three GEMMs {three:.2f} ms, one {one:.2f} ms")
    t = torch.randn(8 * 357, 2560, device="cuda", dtype=torch.bfloat16)
    wg, wu = (torch.randn(10240, 2560, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    wgu = torch.cat([wg, wu])
    two = bench(lambda: F.gelu(F.linear(t, wg), approximate="tanh") * F.linear(t, wu))
    def fused_gu():
        g, u = F.linear(t, wgu).chunk(2, -1)
        return F.gelu(g, approximate="tanh") * u
    print(f"  text gate/up B8: two GEMMs+gelu*up {two:.2f} ms, one GEMM {bench(fused_gu):.2f} ms")
    # rank-8 LoRA on the text MLP up projection and the vision fc1
    for name, inp, w in (("text up 2560->10240", t, wu), ("vision fc1 1152->4304", x, w1)):
        a = torch.randn(8, w.shape[1], device="cuda") * 0.01
        bb = torch.randn(w.shape[0], 8, device="cuda") * 0.01
        def peft_way():
            y = F.linear(inp, w)
            return (y + F.linear(F.linear(inp.float(), a), bb) * 2.0).to(y.dtype)
        a16, b16 = a.bfloat16(), (bb * 2.0).bfloat16()
        def bf16_way():
            y = F.linear(inp, w)
            return torch.addmm(y.view(-1, y.shape[-1]), F.linear(inp, a16).view(-1, 8), b16.t())
        base = bench(lambda: F.linear(inp, w))
        print(f"  LoRA r8 {name}: base {base:.2f} ms, peft fp32 {bench(peft_way):.2f} ms, "
              f"bf16 addmm {bench(bf16_way):.2f} ms")


def vision_graph(model, config, batch):
    print("== vision tower: eager vs CUDA graph ==")
    inputs = forward_inputs(config, batch, "cuda")
    tower = model.model.vision_tower
    px = inputs["pixel_values"]
    with torch.no_grad():
        eager = bench(lambda: tower(pixel_values=px), iters=10)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                tower(pixel_values=px)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            tower(pixel_values=px)
        graphed = bench(g.replay, iters=10)
    print(f"  batch {batch}: eager {eager:.1f} ms, graph replay {graphed:.1f} ms")
    lm = model.model.language_model
    embeds = torch.randn(batch, 357, 2560, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        ms = bench(lambda: lm(inputs_embeds=embeds, use_cache=False), iters=10)
    print(f"  text decoder alone, batch {batch}, 357 tokens: {ms:.1f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batches", default="1,8,16,32")
    ap.add_argument("--only-hf", action="store_true", help="HF forward-only throughput, nothing else")
    args = ap.parse_args()
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    if not args.only_hf:
        sdpa_backends()
        gemm_fusions()
    config = medgemma_4b_config()
    model = ref.random_model(config, torch.bfloat16, "sdpa", 4, "cuda")
    hf_throughput(model, config, [int(b) for b in args.batches.split(",")])
    if args.only_hf:
        return
    profile(model, config, args.batch)
    vision_graph(model, config, args.batch)


if __name__ == "__main__":
    main()
