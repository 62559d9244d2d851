"""Hugging Face transformers (+ peft) as the reference for medgemma-serve's engine.

One module for both users: tools/parity/parity.py (the GPU machine's table, 4B-shaped bf16
included) and the CPU parity tests under tests/parity/ that ctest runs. Our side is always
medgemma-cli (make-tiny-model, forward, classify --json, generate --json, tokenize, preprocess), so
what is compared is what ships. Nothing here reaches the network: the hub is switched off before
transformers is imported.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoProcessor, Gemma3ForConditionalGeneration  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TASK_YAML = REPO / "config" / "task-breakhis.yaml"
# Files of a checkpoint that are not weights or config.json: what HF's processor is built from.
PROCESSOR_FILES = ["tokenizer.model", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json",
                   "chat_template.jinja"]


# make-tiny-model options of the parity variants: the default tiny model, and one with 7 text
# layers (Gemma 3's pattern: 5 sliding, 1 global, 1 sliding), a sliding window shorter than the
# image's 16 soft tokens (so the window cuts into the bidirectional image block) and another
# linear RoPE factor on the global layer.
TINY_VARIANTS = {
    "tiny": {},
    "tiny7": dict(text_layers=7, sliding_window=6, image_tokens=16, rope_scaling=2.5),
}


class Checks:
    """Named comparisons against bounds: each is printed as it is made, with its observed value."""

    def __init__(self):
        self.rows = []

    def record(self, check, value, bound, ok, note=""):
        self.rows.append((check, value, bound, "ok" if ok else "FAIL", note))
        print(f"[parity] {check}: {value} (bound {bound}) {'ok' if ok else 'FAIL'} {note}".rstrip(), flush=True)
        return ok

    def at_most(self, check, value, bound, note=""):
        return self.record(check, f"{value:.2e}", f"{bound:g}", value <= bound, note)

    def at_least(self, check, value, bound, note=""):
        return self.record(check, f"{value:.2e}", f">={bound:g}", value >= bound, note)

    def equal(self, check, ours, theirs, summary, note=""):
        same = ours == theirs
        return self.record(check, summary, "equal", same, note if same else f"{note} ours={ours} hf={theirs}".strip())

    @property
    def failed(self):
        return [row[0] for row in self.rows if row[3] != "ok"]

    def table(self):
        lines = ["| check | value | bound | result | note |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def finish(self):
        """Prints the table; exits 1 naming every missed bound."""
        print("\n" + self.table(), flush=True)
        if self.failed:
            print("FAILED: " + "; ".join(self.failed), file=sys.stderr, flush=True)
            sys.exit(1)


class Cli:
    """Our engine, one medgemma-cli process per call, inputs and outputs under `work`."""

    def __init__(self, path, work):
        self.path = str(path)
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.seconds = 0.0

    def run(self, *args, env=None):
        cmd = [self.path, *[str(a) for a in args]]
        t0 = time.time()
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
        self.seconds = time.time() - t0
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def make_tiny_model(self, out, seed=0, **options):
        """options: text_layers, sliding_window, rope_scaling, image_tokens (make-tiny-model flags)."""
        flags = []
        for key, value in options.items():
            flags += ["--" + key.replace("_", "-"), value]
        self.run("make-tiny-model", "--out", out, "--seed", seed, *flags)
        return Path(out)

    def forward(self, model_dir, inputs, tag, device="cpu", dtype="float32", attention="eager", labels=None,
                adapter=None, env=None):
        """Full logits (labels None) or label probabilities at the last valid token; `env` adds
        environment variables (engine/speedup_switches.h)."""
        path_in, path_out = self.work / f"{tag}_in.safetensors", self.work / f"{tag}_out.safetensors"
        save_file({k: v.contiguous() for k, v in inputs.items()}, str(path_in))
        args = ["forward", "--model", model_dir, "--inputs", path_in, "--out", path_out, "--device", device,
                "--dtype", dtype, "--attention", attention]
        args += ["--full-logits"] if labels is None else ["--labels", ",".join(str(x) for x in labels)]
        if adapter:
            args += ["--adapter", adapter]
        self.run(*args, env=env)
        out = load_file(str(path_out))
        return out["logits"] if labels is None else out["label_probs"]

    def classify(self, model_dir, images, attention="eager", adapter=None, task=TASK_YAML):
        """Per image, the class probabilities in label order (our decode, preprocessing and prompt)."""
        args = ["classify", "--model", model_dir, "--device", "cpu", "--dtype", "float32", "--attention", attention,
                "--task", task, "--json"]
        if adapter:
            args += ["--adapter", adapter]
        results = json.loads(self.run(*args, *images))
        return [torch.tensor([p["probability"] for p in r["probabilities"]]) for r in results]

    def generate(self, model_dir, image, text, max_new_tokens, attention="eager", adapter=None, decode_batch=False):
        args = ["generate", "--model", model_dir, "--device", "cpu", "--dtype", "float32", "--attention", attention,
                "--text", text, "--max-new-tokens", max_new_tokens, "--json"]
        if adapter:
            args += ["--adapter", adapter]
        if decode_batch:
            args += ["--decode-batch"]
        return json.loads(self.run(*args, image))["ids"]

    def prompt(self, model_dir, text=None, task=TASK_YAML):
        """The ids and token_type_ids of a one-image chat prompt: `text`, or the task's prompt."""
        args = ["--text", text] if text is not None else ["--task", task]
        out = json.loads(self.run("tokenize", "--model", model_dir, *args))
        return out["ids"], out["token_type_ids"]

    def encode(self, model_dir, text):
        return json.loads(self.run("tokenize", "--model", model_dir, "--raw", "--text", text))["ids"]

    def preprocess(self, model_dir, images, tag):
        out = self.work / f"{tag}.safetensors"
        self.run("preprocess", "--model", model_dir, "--out", out, *images)
        return load_file(str(out))["pixel_values"]


def test_setup(description):
    """A tests/parity script's command line (--cli PATH); returns (Cli on a fresh work dir, Checks).
    The work dir is removed when the process exits."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cli", required=True, help="medgemma-cli")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="medgemma-parity-")
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    torch.manual_seed(0)
    return Cli(args.cli, work), Checks()


def load_task(path=TASK_YAML):
    """The task prompt and each label's answer text, as our --task reads them."""
    with open(path) as f:
        task = yaml.safe_load(f)["task"]
    answers = [str(label.get("answer", i)) for i, label in enumerate(task["labels"])]
    return task["prompt"], answers


def copy_processor_files(src, dst):
    for name in PROCESSOR_FILES:
        if (Path(src) / name).exists():
            shutil.copyfile(Path(src) / name, Path(dst) / name)


def randomize(model, seed):
    """Non-trivial norms (HF zero-inits Gemma's (1 + w) RMSNorm weights) and projector, seeded."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            siglip_norm = "vision_tower" in name and ("layer_norm" in name or "post_layernorm" in name)
            if siglip_norm:  # LayerNorm with bias: weight around 1
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_((base + torch.randn(p.shape, generator=g) * 0.1).to(p))
            elif "norm" in name:
                p.copy_((torch.randn(p.shape, generator=g) * 0.1).to(p))
            if name.endswith("mm_input_projection_weight"):
                p.copy_((torch.randn(p.shape, generator=g) * 0.02).to(p))
    return model


def random_model(config, dtype, attn, seed, device):
    """Gemma3ForConditionalGeneration built by transformers from `config`, seeded random weights."""
    torch.manual_seed(seed)
    config._attn_implementation = attn
    with torch.device(device):
        model = Gemma3ForConditionalGeneration(config).to(dtype).eval()
    return randomize(model, seed + 1)


def load_model(model_dir, attn="eager", dtype=torch.float32, device="cpu"):
    """from_pretrained as a user would; returns (model, loading problems as text, empty when clean)."""
    model, info = Gemma3ForConditionalGeneration.from_pretrained(model_dir, dtype=dtype, attn_implementation=attn,
                                                                 output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    return model.to(device).eval(), (json.dumps({k: sorted(map(str, v)) for k, v in problems.items()})
                                     if problems else "")


def random_inputs(config, batch, text_lens, seed):
    """Sequences [bos, bos, text..., boi, img*N, eoi, text...], right-padded, random pixels."""
    g = torch.Generator().manual_seed(seed)
    tc = config.text_config
    n_img = config.mm_tokens_per_image
    lo, hi = (8, 640) if tc.vocab_size < 1000 else (1000, 250000)
    seqs = []
    for before, after in text_lens[:batch]:
        t1 = torch.randint(lo, hi, (before,), generator=g).tolist()
        t2 = torch.randint(lo, hi, (after,), generator=g).tolist()
        seqs.append([2, 2] + t1 + [config.boi_token_index] + [config.image_token_index] * n_img +
                    [config.eoi_token_index] + t2)
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    types = (ids == config.image_token_index).long()
    size = config.vision_config.image_size
    pixels = (torch.rand(len(seqs), 3, size, size, generator=g) * 2 - 1).float()
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types, pixel_values=pixels)


def hf_forward(model, inputs, device, dtype, labels=None, batch_size=None):
    """Full float32 logits, or softmax over `labels` at each row's last valid token."""
    outs = []
    n = inputs["input_ids"].shape[0]
    bs = batch_size or n
    with torch.no_grad():
        for s in range(0, n, bs):
            part = {k: v[s:s + bs].to(device) for k, v in inputs.items()}
            part["pixel_values"] = part["pixel_values"].to(dtype)
            logits = model(**part).logits.float()
            if labels is None:
                outs.append(logits.cpu())
            else:
                last = part["attention_mask"].sum(1) - 1
                ll = logits[torch.arange(logits.shape[0]), last][:, labels]
                outs.append(torch.softmax(ll, -1).cpu())
    return torch.cat(outs)


def max_valid_diff(a, b, mask):
    """max |a - b| over the positions the attention mask keeps."""
    m = mask.bool().unsqueeze(-1)
    return float(((a - b).abs() * m).max())


def answer_diff(a, b, mask):
    """max |a - b| over each row's last valid position: where the answer token is read."""
    last = mask.sum(1) - 1
    rows = torch.arange(a.shape[0])
    return float((a[rows, last] - b[rows, last]).abs().max())


def hf_processor(model_dir):
    """HF's own Gemma3Processor for a checkpoint: AutoProcessor reads tokenizer.model, the
    chat_template.jinja and processor_config.json that make-tiny-model writes, as it would a hub
    checkpoint's. Without torchvision transformers falls back to Gemma3ImageProcessorPil."""
    return AutoProcessor.from_pretrained(model_dir)


def hf_image_token_id(processor):
    return processor.tokenizer.convert_tokens_to_ids("<image_soft_token>")


def hf_prompt_inputs(processor, config, images, text):
    """The processor's tensors for one user turn [image, text] + generation prompt.

    The real Gemma tokenizer has <image_soft_token> at config.image_token_index (262144). The
    GemmaTokenizer that transformers 5.x converts from a bare tokenizer.model appends its default
    <mask> (644 for the tiny model) and then the extra special tokens, so <image_soft_token> lands
    one id later (645) than the tiny config's 644; those ids are moved to the config's id here so
    the model sees image tokens where it expects them.
    """
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    rendered = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=rendered, images=images, return_tensors="pt")
    hf_id = hf_image_token_id(processor)
    inputs["input_ids"][inputs["input_ids"] == hf_id] = config.image_token_index
    return inputs


def label_token_ids(tokenizer, answers):
    """One token id per answer text: our classifier reads the one token each answer adds after the prompt."""
    ids = [tokenizer.encode(a, add_special_tokens=False) for a in answers]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"answers must be single tokens: {dict(zip(answers, ids))}")
    return [i[0] for i in ids]


def add_peft_adapter(model, out_dir, seed, target_modules, r=8, alpha=16):
    """A peft LoRA on `model` with seeded random lora_B (peft zero-inits it), saved by peft."""
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=target_modules)
    peft_model = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_((torch.randn(p.shape, generator=g) * 0.05).to(p))
    peft_model.save_pretrained(out_dir)
    n = sum(p.numel() for n_, p in peft_model.named_parameters() if "lora_" in n_)
    return peft_model.eval(), n


def test_pattern(w, h, seed):
    """A smooth RGB pattern with noise: resampling errors show, compression does not hide it all."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([127 + 100 * np.sin(xx / (7 + c) + yy / (11 + 2 * c)) for c in range(3)], -1)
    return np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)


def make_png(path, w, h, seed):
    Image.fromarray(test_pattern(w, h, seed)).save(path)
    return path
