#!/usr/bin/env python3
"""Parity of medgemma-serve's engine with Hugging Face transformers (+ peft), on the GPU machine.

Builds Gemma3ForConditionalGeneration models with seeded random weights, saves them with
save_pretrained, and runs transformers and our engine (build/bin/medgemma-cli forward) on the same
input_ids / pixel_values / token_type_ids / attention_mask; then both processors on the same PNG;
then both again with a peft LoRA adapter. Prints one table; exits non-zero if a bound is missed.

  python3 tools/parity/parity.py --cli build-gpu/bin/medgemma-cli --work /tmp/parity [--skip-4b]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import transformers
from transformers import (AutoTokenizer, Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor,
                          Gemma3Processor)

ROWS = []
FAILED = []

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<start_of_image>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}{% endfor %}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")

TASK_PROMPT = (
    "Analyze this breast tissue histopathology image and classify it.\n\n"
    "Classes (0-7):\n0: benign_adenosis\n1: benign_fibroadenoma\n2: benign_phyllodes_tumor\n"
    "3: benign_tubular_adenoma\n4: malignant_ductal_carcinoma\n5: malignant_lobular_carcinoma\n"
    "6: malignant_mucinous_carcinoma\n7: malignant_papillary_carcinoma\n\n"
    "Answer with only the number (0-7):")


def record(check, value, bound, ok, note=""):
    ROWS.append((check, value, bound, "ok" if ok else "FAIL", note))
    if not ok:
        FAILED.append(check)
    print(f"[parity] {check}: {value} (bound {bound}) {'ok' if ok else 'FAIL'} {note}", flush=True)


def run(cmd):
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr, file=sys.stderr)
        raise RuntimeError(f"command failed: {' '.join(cmd)}")
    return out.stdout, time.time() - t0


def tiny_config():
    return Gemma3Config(
        text_config=dict(vocab_size=656, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16,
                         sliding_window=24, layer_types=["sliding_attention", "full_attention"],
                         rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
                                          "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
                         rms_norm_eps=1e-6, max_position_embeddings=4096),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=8, layer_norm_eps=1e-6, vision_use_head=False),
        mm_tokens_per_image=4, boi_token_index=6, eoi_token_index=7, image_token_index=644)


def medgemma_4b_config():
    return Gemma3Config(
        text_config=dict(vocab_size=262208, hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
                         num_attention_heads=8, num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256,
                         sliding_window=1024, sliding_window_pattern=6,
                         rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
                                          "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
                         rms_norm_eps=1e-6),
        vision_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                           image_size=896, patch_size=14, layer_norm_eps=1e-6, vision_use_head=False),
        mm_tokens_per_image=256, boi_token_index=255999, eoi_token_index=256000, image_token_index=262144)


def build_model(config, dtype, attn, seed, device):
    torch.manual_seed(seed)
    config._attn_implementation = attn
    with torch.device(device):
        model = Gemma3ForConditionalGeneration(config).to(dtype).eval()
    g = torch.Generator(device="cpu").manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            siglip_norm = "vision_tower" in name and ("layer_norm" in name or "post_layernorm" in name)
            if siglip_norm:  # LayerNorm with bias: weight around 1
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_((base + torch.randn(p.shape, generator=g) * 0.1).to(p))
            elif "norm" in name:  # Gemma RMSNorm stores w of (1 + w): make it matter
                p.copy_((torch.randn(p.shape, generator=g) * 0.1).to(p))
            if name.endswith("mm_input_projection_weight"):
                p.copy_((torch.randn(p.shape, generator=g) * 0.02).to(p))
    return model


def random_inputs(config, batch, text_lens, seed, pad_right=True):
    """Sequences [bos, bos, text..., boi, img*N, eoi, text...] with right padding."""
    g = torch.Generator().manual_seed(seed)
    tc = config.text_config
    n_img = config.mm_tokens_per_image
    seqs = []
    for i in range(batch):
        before, after = text_lens[i]
        lo, hi = (8, 640) if tc.vocab_size < 1000 else (1000, 250000)
        t1 = torch.randint(lo, hi, (before,), generator=g).tolist()
        t2 = torch.randint(lo, hi, (after,), generator=g).tolist()
        seqs.append([2, 2] + t1 + [config.boi_token_index] + [config.image_token_index] * n_img +
                    [config.eoi_token_index] + t2)
    L = max(len(s) for s in seqs)
    ids = torch.zeros(batch, L, dtype=torch.long)
    mask = torch.zeros(batch, L, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    types = (ids == config.image_token_index).long()
    S = config.vision_config.image_size
    pixels = (torch.rand(batch, 3, S, S, generator=g) * 2 - 1).float()
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types, pixel_values=pixels)


def hf_forward(model, inputs, device, dtype, labels=None, batch_size=None):
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


def ours_forward(cli, model_dir, inputs, work, tag, device, dtype, attention, labels=None, adapter=None):
    path_in = os.path.join(work, f"{tag}_in.safetensors")
    path_out = os.path.join(work, f"{tag}_out.safetensors")
    save_file({k: v.contiguous() for k, v in inputs.items()}, path_in)
    cmd = [cli, "forward", "--model", model_dir, "--inputs", path_in, "--out", path_out, "--device", device,
           "--dtype", dtype, "--attention", attention]
    if labels is None:
        cmd.append("--full-logits")
    else:
        cmd += ["--labels", ",".join(str(x) for x in labels)]
    if adapter:
        cmd += ["--adapter", adapter]
    _, secs = run(cmd)
    out = load_file(path_out)
    return (out["logits"] if labels is None else out["label_probs"]), secs


def max_valid_diff(a, b, mask):
    m = mask.bool().unsqueeze(-1)
    return float(((a - b).abs() * m).max())


def write_tiny_tokenizer_files(cli, work, model_dir):
    src = os.path.join(work, "tiny_src")
    run([cli, "make-tiny-model", "--out", src, "--seed", "0"])
    for name in ["tokenizer.model", "tokenizer_config.json", "preprocessor_config.json"]:
        with open(os.path.join(src, name), "rb") as f, open(os.path.join(model_dir, name), "wb") as g:
            g.write(f.read())


def add_peft_adapter(model, out_dir, seed):
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear")
    peft_model = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_((torch.randn(p.shape, generator=g) * 0.05).to(p))
    peft_model.save_pretrained(out_dir)
    n = sum(p.numel() for n_, p in peft_model.named_parameters() if "lora_" in n_)
    return peft_model.eval(), n


def tiny_parity(cli, work, device):
    print("== tiny fp32 ==", flush=True)
    config = tiny_config()
    model = build_model(config, torch.float32, "eager", 1, device)
    model_dir = os.path.join(work, "tiny")
    model.save_pretrained(model_dir)
    write_tiny_tokenizer_files(cli, work, model_dir)
    inputs = random_inputs(config, 4, [(30, 40), (10, 20), (50, 80), (5, 3)], seed=3)
    ref = hf_forward(model, inputs, device, torch.float32)
    for our_device in ["cpu", "cuda"]:
        ours, _ = ours_forward(cli, model_dir, inputs, work, f"tiny_{our_device}", our_device, "float32", "eager")
        record(f"tiny fp32 max|dlogit| ({our_device}, eager)", f"{max_valid_diff(ours, ref, inputs['attention_mask']):.2e}",
               "1e-4", max_valid_diff(ours, ref, inputs["attention_mask"]) <= 1e-4)
    ours, _ = ours_forward(cli, model_dir, inputs, work, "tiny_sdpa", "cuda", "float32", "sdpa")
    d = max_valid_diff(ours, ref, inputs["attention_mask"])
    record("tiny fp32 max|dlogit| (cuda, sdpa)", f"{d:.2e}", "1e-4", d <= 1e-4)

    # Same PNG through both processors and the tokenizer/prompt.
    tok = AutoTokenizer.from_pretrained(model_dir)
    processor = Gemma3Processor(image_processor=Gemma3ImageProcessor(size={"height": 64, "width": 64}),
                                tokenizer=tok, chat_template=CHAT_TEMPLATE, image_seq_length=4)
    png = os.path.join(work, "breakhis_like.png")
    make_png(png, 700, 460, seed=5)
    from PIL import Image
    image = Image.open(png)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": TASK_PROMPT}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    hf_in = processor(text=text, images=[image], return_tensors="pt")
    # AutoTokenizer appends <image_soft_token> after the pieces it adds itself; the real Gemma
    # tokenizer.json has it at config.image_token_index. Map it there before comparing.
    hf_image_id = tok.convert_tokens_to_ids("<image_soft_token>")
    hf_in["input_ids"][hf_in["input_ids"] == hf_image_id] = config.image_token_index
    ours_ids = json.loads(run([cli, "tokenize", "--model", model_dir])[0])["ids"]
    same = hf_in["input_ids"][0].tolist() == ours_ids
    record("tiny prompt ids == HF processor", f"{len(ours_ids)} ids", "equal", same,
           (f"HF image token id {hf_image_id} mapped to {config.image_token_index}" if same else
            f"hf={hf_in['input_ids'][0].tolist()} ours={ours_ids}"))
    mismatches = 0
    rng = np.random.default_rng(11)
    alphabet = list("abcdefghijklmnopqrstuvwxyz ABC0123456789\n\n  .,:;()-_éü中文😀\t")
    for _ in range(40):
        s = "".join(rng.choice(alphabet, size=int(rng.integers(1, 40))))
        hf_ids = tok.encode(s, add_special_tokens=False)
        our = json.loads(run([cli, "tokenize", "--model", model_dir, "--raw", "--text", s])[0])["ids"]
        mismatches += hf_ids != our
    record("tiny raw text ids == HF tokenizer (40 strings)", f"{40 - mismatches}/40", "40/40", mismatches == 0)
    # Probabilities through both full pipelines.
    label_ids = [tok.convert_tokens_to_ids(str(d)) for d in range(8)]
    with torch.no_grad():
        hf_in = {k: v.to(device) for k, v in hf_in.items()}
        logits = model(**hf_in).logits.float()[0, -1, label_ids]
        hf_probs = torch.softmax(logits, -1).cpu()
    ours_json = json.loads(run([cli, "classify", "--model", model_dir, "--device", "cpu", "--dtype", "float32",
                                "--attention", "eager", "--json", png])[0])
    our_probs = torch.tensor([p["probability"] for p in ours_json[0]["probabilities"]])
    d = float((hf_probs - our_probs).abs().max())
    record("tiny PNG->probabilities vs HF pipeline (own preprocessing)", f"{d:.2e}", "0.02", d <= 0.02)

    print("== tiny fp32 + peft adapter ==", flush=True)
    adapter_dir = os.path.join(work, "tiny_adapter")
    peft_model, n = add_peft_adapter(model, adapter_dir, seed=9)
    ref = hf_forward(peft_model, inputs, device, torch.float32)
    ours, _ = ours_forward(cli, model_dir, inputs, work, "tiny_lora", "cuda", "float32", "eager", adapter=adapter_dir)
    d = max_valid_diff(ours, ref, inputs["attention_mask"])
    record("tiny fp32 + peft LoRA max|dlogit|", f"{d:.2e}", "1e-4", d <= 1e-4, f"{n} LoRA params")


def make_png(path, w, h, seed):
    from PIL import Image
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([127 + 100 * np.sin(xx / (7 + c) + yy / (11 + 2 * c)) for c in range(3)], -1)
    img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)


def preprocessing_parity(cli, work, model_dir):
    print("== preprocessing (896) ==", flush=True)
    from PIL import Image
    proc = Gemma3ImageProcessor(size={"height": 896, "width": 896})
    for (w, h) in [(700, 460), (1000, 300), (2048, 1536)]:
        png = os.path.join(work, f"pre_{w}x{h}.png")
        make_png(png, w, h, seed=w)
        hf = proc(images=[Image.open(png)], return_tensors="pt")["pixel_values"][0]
        out = os.path.join(work, f"pre_{w}x{h}.safetensors")
        run([cli, "preprocess", "--model", model_dir, "--out", out, png])
        ours = load_file(out)["pixel_values"][0]
        d = float((hf - ours).abs().max())
        record(f"preprocess {w}x{h} max|d| vs Gemma3ImageProcessor", f"{d:.4f}", "0.02", d <= 0.02)


def write_4b_tokenizer(cli, work, model_dir, config):
    """A 262144-piece tokenizer.model with <start_of_image>/<end_of_image> at MedGemma's ids, built
    from the tiny one, so the engine's prompt and classify paths run on the 4B-shaped model."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    with open(os.path.join(work, "tiny_src", "tokenizer.model"), "rb") as f:
        m.ParseFromString(f.read())
    unused = pb.ModelProto.SentencePiece.UNUSED
    specials = {config.boi_token_index: "<start_of_image>", config.eoi_token_index: "<end_of_image>"}
    for p in m.pieces:
        if p.piece in specials.values():
            p.piece, p.type = f"<moved_{p.piece[1:-1]}>", unused
    while len(m.pieces) < config.image_token_index:
        i = len(m.pieces)
        p = m.pieces.add()
        p.piece, p.score = specials.get(i, f"<unused_{i}>"), 0.0
        p.type = pb.ModelProto.SentencePiece.USER_DEFINED if i in specials else unused
    with open(os.path.join(model_dir, "tokenizer.model"), "wb") as f:
        f.write(m.SerializeToString())


def big_parity(cli, work, device, n_inputs, batch):
    print("== MedGemma-4B-shaped bf16 ==", flush=True)
    config = medgemma_4b_config()
    t0 = time.time()
    model = build_model(config, torch.bfloat16, "sdpa", 4, device)
    model_dir = os.path.join(work, "big")
    model.save_pretrained(model_dir, max_shard_size="2GB")
    write_4b_tokenizer(cli, work, model_dir, config)
    print(f"built+saved 4B in {time.time() - t0:.0f}s; params {sum(p.numel() for p in model.parameters())/1e9:.2f}B",
          flush=True)
    g = torch.Generator().manual_seed(21)
    lens = [(int(torch.randint(20, 60, (1,), generator=g)), int(torch.randint(20, 60, (1,), generator=g)))
            for _ in range(n_inputs)]
    inputs = random_inputs(config, n_inputs, lens, seed=22)
    labels = torch.randint(1000, 250000, (8,), generator=g).tolist()
    ref = hf_forward(model, inputs, device, torch.bfloat16, labels=labels, batch_size=batch)
    ours, secs = ours_forward(cli, model_dir, inputs, work, "big", "cuda", "bfloat16", "sdpa", labels=labels)
    d = float((ours - ref).abs().max())
    agree = int((ours.argmax(-1) == ref.argmax(-1)).sum())
    record("4B bf16 max|dprob| (64 inputs)", f"{d:.4f}", "0.02", d <= 0.02, f"ours {secs:.1f}s incl. load")
    record("4B bf16 argmax agreement", f"{agree}/{n_inputs}", f">={n_inputs - 1}", agree >= n_inputs - 1)

    adapter_dir = os.path.join(work, "big_adapter")
    peft_model, n = add_peft_adapter(model, adapter_dir, seed=23)
    record("4B all-linear r=8 LoRA parameters (peft)", f"{n}", "19248896", n == 19248896)
    ref = hf_forward(peft_model, inputs, device, torch.bfloat16, labels=labels, batch_size=batch)
    ours, _ = ours_forward(cli, model_dir, inputs, work, "big_lora", "cuda", "bfloat16", "sdpa", labels=labels,
                           adapter=adapter_dir)
    d = float((ours - ref).abs().max())
    agree = int((ours.argmax(-1) == ref.argmax(-1)).sum())
    record("4B bf16 + peft LoRA max|dprob|", f"{d:.4f}", "0.02", d <= 0.02)
    record("4B bf16 + peft LoRA argmax agreement", f"{agree}/{n_inputs}", f">={n_inputs - 1}", agree >= n_inputs - 1)
    del peft_model, model
    torch.cuda.empty_cache()
    return model_dir


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", default="/tmp/parity")
    ap.add_argument("--skip-4b", action="store_true")
    ap.add_argument("--inputs", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    device = "cuda"
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name(0)}", flush=True)
    tiny_parity(args.cli, args.work, device)
    if not args.skip_4b:
        big_dir = big_parity(args.cli, args.work, device, args.inputs, args.batch)
        preprocessing_parity(args.cli, args.work, big_dir)
    print("\n| check | value | bound | result | note |\n|---|---|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(str(x) for x in row) + " |")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
