#!/usr/bin/python3
"""Reads `medgemma-cli classify --json` output on stdin and prints the 8-class accuracy against
the tumour type in each BreakHis path (.../<benign|malignant>/SOB/<type>/...), and which adapters
answered."""
import collections
import json
import sys

results = json.load(sys.stdin)
correct, total, failed = 0, 0, 0
adapters = collections.Counter()
for r in results:
    if "error" in r:
        failed += 1
        continue
    parts = r["file"].split("/")
    i = parts.index("SOB")
    truth = f"{parts[i - 1]}_{parts[i + 1]}"
    correct += r["label_name"] == truth
    total += 1
    adapters[r["adapter"] or "base"] += 1
print(f"accuracy {correct}/{total} = {correct / max(total, 1):.3f}, failed {failed}, answered by {dict(adapters)}")
