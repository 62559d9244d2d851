#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (committed; rerun to regenerate).

Run with the project venv's python (Pillow, numpy, safetensors); protobuf seeds are encoded with
protoc from text format, so no Python protobuf module is needed.
  .venv/bin/python tests/fuzz/make_seeds.py
"""
import io
import json
import pathlib
import shutil
import subprocess

import numpy as np
from PIL import Image
from safetensors.numpy import save

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = HERE / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def image_bytes(img, fmt, **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def images():
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    cmyk = Image.fromarray(rng.integers(0, 256, (5, 7, 4), dtype=np.uint8), "CMYK")
    seeds = {
        "rgb.png": image_bytes(rgb, "PNG"),
        "gray.png": image_bytes(rgb.convert("L"), "PNG"),
        "rgba.png": image_bytes(rgb.convert("RGBA"), "PNG"),
        "palette.png": image_bytes(rgb.convert("P"), "PNG"),
        "gray16.png": image_bytes(rgb.convert("I;16"), "PNG"),
        "baseline.jpg": image_bytes(rgb, "JPEG", quality=80),
        "progressive.jpg": image_bytes(rgb, "JPEG", progressive=True),
        "gray.jpg": image_bytes(rgb.convert("L"), "JPEG"),
        "cmyk.jpg": image_bytes(cmyk, "JPEG"),
        "rgb.tif": image_bytes(rgb, "TIFF"),
        "lzw.tif": image_bytes(rgb, "TIFF", compression="tiff_lzw"),
        "cmyk.tif": image_bytes(cmyk, "TIFF"),
        "rgb.bmp": image_bytes(rgb, "BMP"),
        "palette.bmp": image_bytes(rgb.convert("P"), "BMP"),
    }
    for name, data in seeds.items():
        put("image_decode", name, data)
    return seeds


def safetensors_seeds():
    put("safetensors", "mixed.safetensors", save({
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.ones((3,), dtype=np.int64),
        "c": np.zeros((0, 4), dtype=np.float16),
        "d": np.array([True, False]),
        "e": np.arange(4, dtype=np.uint8),
    }, metadata={"format": "pt"}))
    put("safetensors", "scalar.safetensors", save({"s": np.array(1.5, dtype=np.float64)}))
    put("safetensors", "empty.safetensors", save({}))
    # bf16 has no numpy dtype: the header by hand.
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode()
    put("safetensors", "bf16.safetensors", len(header).to_bytes(8, "little") + header + bytes(range(8)))


def adapter_configs():
    base = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "target_modules": "all-linear",
            "bias": "none", "use_rslora": False, "use_dora": False, "fan_in_fan_out": False,
            "base_model_name_or_path": "google/medgemma-4b-it", "task_type": "CAUSAL_LM",
            "rank_pattern": {}, "alpha_pattern": {}, "modules_to_save": None, "layers_to_transform": None}
    variants = {
        "peft.json": base,
        "list.json": dict(base, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                 "down_proj", "fc1", "fc2", "out_proj"]),
        "regex.json": dict(base, target_modules=r".*language_model.*\.(q_proj|v_proj)"),
        "rslora.json": dict(base, use_rslora=True, lora_alpha=4),
        "minimal.json": {"r": 8, "target_modules": "all-linear"},
        "dora.json": dict(base, use_dora=True),
        "rank_pattern.json": dict(base, rank_pattern={"q_proj": 4}),
    }
    for name, cfg in variants.items():
        put("adapter_config", name, json.dumps(cfg, indent=2))


def tokenizer_models():
    shutil.copy(REPO / "engine/assets/tiny_tokenizer.model", CORPUS / "tokenizer_model" / "tiny.model")


BREAKHIS = "BreaKHis_v1/histology_slides/breast"


def dataset_csvs():
    rows = []
    for patient, (kind, split) in enumerate([("benign/SOB/adenosis", "train"), ("benign/SOB/adenosis", "test"),
                                              ("malignant/SOB/ductal_carcinoma", "train"),
                                              ("malignant/SOB/ductal_carcinoma", "test")]):
        index = {"benign/SOB/adenosis": 1, "malignant/SOB/ductal_carcinoma": 9}[kind] + patient % 2
        rows.append((split, f"{BREAKHIS}/{kind}/P{index}/100X/image-100-001.png"))
    # First byte even: Folds.csv; odd: a train manifest (fuzz_support's tree names the files).
    folds = "fold,mag,grp,filename\n" + "".join(f"1,100,{s},{p}\n" for s, p in rows)
    put("dataset_csv", "folds.csv", "0" + folds)
    put("dataset_csv", "folds_quoted.csv", "0" + folds.replace("\n1,100,test,", '\r\n"1",100 ,test,"') + "2,40,train,x\n")
    put("dataset_csv", "manifest.csv", "1path,label\n" + "".join(f"{p},{i}\n" for i, (_, p) in enumerate(rows)))
    put("dataset_csv", "manifest_names.csv", "1" + "".join(
        f'"{p}",{"benign_adenosis" if "benign" in p else "malignant_ductal_carcinoma"}\n' for _, p in rows))
    put("dataset_csv", "manifest_outside.csv", "1outside/x.png,0\n../../etc/passwd,1\n")


def protoc_encode(message, text):
    proto_dir = REPO / "proto"
    files = {"FineTuneRequest": "medgemma/v1/trainer.proto", "ClassifyRequest": "medgemma/v1/classifier.proto"}
    return subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--encode=medgemma.v1.{message}", files[message]],
                          input=text.encode(), capture_output=True, check=True).stdout


def escape(data):
    return "".join(f"\\{b:03o}" for b in data)


def fine_tune_requests():
    breakhis = 'dataset { breakhis { root: "data" fold: 1 magnification: 100 } }'
    seeds = {
        "minimal": f'adapter_name: "a" {breakhis}',
        "full": f'''adapter_name: "breakhis-demo" {breakhis}
            hyperparameters {{ lora_r: 4 lora_alpha: 8 lora_dropout: 0.05 target_modules: "q_proj"
              target_modules: "v_proj" epochs: 2 learning_rate: 0.005 micro_batch_size: 2
              gradient_accumulation_steps: 2 warmup_ratio: 0.1 max_grad_norm: 1 seed: 42 loss: ANSWER_ONLY
              max_steps: 10 weight_decay: 0.01 shuffle: false activation_checkpointing: true
              checkpoint_every_steps: 5 eval_batch_size: 4 }}
            promote {{ enabled: true min_accuracy: 0.9 require_improvement: true }}''',
        "regex_targets": f'adapter_name: "r" {breakhis} hyperparameters {{ target_modules: ".*self_attn.*" }}',
        "manifest": 'adapter_name: "m" dataset { manifest { train_csv: "data/train.csv" eval_csv: "data/eval.csv" } }',
        "init_adapter": f'adapter_name: "i" init_adapter: "data/adapter" {breakhis}',
        "folds_csv": 'adapter_name: "f" dataset { breakhis { root: "data" folds_csv: "Folds.csv" balance: false } }',
        "outside": 'adapter_name: "o" dataset { breakhis { root: "data/outside" } }',
    }
    for name, text in seeds.items():
        put("fine_tune_request", name + ".pb", protoc_encode("FineTuneRequest", text))


def classify_requests(image_seeds):
    seeds = {
        "png": f'request_id: "r1" image {{ encoded: "{escape(image_seeds["rgb.png"])}" }}',
        "jpeg_adapter": f'request_id: "r2" adapter: "a1" image {{ encoded: "{escape(image_seeds["baseline.jpg"])}" }}',
        "cmyk_tiff": f'request_id: "r3" image {{ encoded: "{escape(image_seeds["cmyk.tif"])}" }}',
        "raw": f'request_id: "r4" image {{ raw {{ width: 2 height: 2 rgb: "{escape(bytes(range(12)))}" }} }}',
        "unknown_adapter": f'request_id: "r5" adapter: "nope" image {{ encoded: "{escape(image_seeds["rgb.bmp"])}" }}',
        "no_image": 'request_id: "r6"',
    }
    for name, text in seeds.items():
        put("classify_request", name + ".pb", protoc_encode("ClassifyRequest", text))


def guardrails():
    """Mode byte 0: a rules file (the shipped one, a minimal one); 1, 3, ...: answers for the
    shipped rules, flagged and clean, cut into pieces of different lengths."""
    put("guardrails", "shipped_rules.yaml", b"\x00" + (REPO / "config" / "guardrails.yaml").read_bytes())
    put("guardrails", "minimal_rules.yaml", b"\x00categories: [{name: c, description: d}]\n"
        b"rules: [{id: r, category: c, applies_to: [input, output], pattern: 'stop\\s+it', unless_preceded_by: not}]\n")
    answers = {
        "flagged_answer.txt": "It starts in the ducts. You should stop taking your medication. See a doctor.",
        "near_miss_answer.txt": "Do not stop taking your medication without talking to your doctor.",
        "unicode_answer.txt": "良性です。心配しないで。Double your dose。終わり…  “Fine.” Really!\n- e.g. quit your insulin",
    }
    for i, (name, text) in enumerate(answers.items()):
        put("guardrails", name, bytes([2 * i + 1]) + text.encode())


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    image_seeds = images()
    safetensors_seeds()
    adapter_configs()
    (CORPUS / "tokenizer_model").mkdir(parents=True)
    tokenizer_models()
    dataset_csvs()
    fine_tune_requests()
    classify_requests(image_seeds)
    guardrails()


if __name__ == "__main__":
    main()
