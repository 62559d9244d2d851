"""Kernel names grouped into the categories the performance notes speak of."""
import collections

_RULES = (
    ("gemm", ("gemm", "cutlass", "sm90_xmma", "nvjet", "cublas", "matmul")),
    ("attention", ("flash", "fmha", "attention", "efficient", "cudnn")),
    ("norm", ("layer_norm", "layernorm", "rms_norm", "rmsnorm")),
    ("reduction", ("reduce", "mean", "sum")),
    ("copy/cat", ("copy", "cat", "memcpy", "memset")),
    ("elementwise", ("elementwise", "vectorized", "unrolled")),
    ("conv", ("conv", "im2col")),
)


def category(name):
    n = name.lower()
    for cat, keys in _RULES:
        if any(k in n for k in keys):
            return cat
    return "other"


def print_table(kernels, title, top=25):
    """kernels: iterable of (name, microseconds)."""
    per_cat, per_kernel, counts = collections.Counter(), collections.Counter(), collections.Counter()
    for name, us in kernels:
        per_cat[category(name)] += us
        per_kernel[name[:150]] += us
        counts[name[:150]] += 1
    total = sum(per_cat.values()) or 1
    print(f"== {title}: {total / 1e3:.1f} ms of kernels, {sum(counts.values())} launches ==")
    for cat, t in per_cat.most_common():
        print(f"  {cat:12s} {t / 1e3:8.2f} ms  {100 * t / total:5.1f}%")
    print("  top kernels:")
    for name, t in per_kernel.most_common(top):
        print(f"   {t / 1e3:8.2f} ms x{counts[name]:5d}  {name}")
