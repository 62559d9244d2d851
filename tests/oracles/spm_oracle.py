#!/usr/bin/python3
"""Writes tokenizer test cases from Debian's python3-sentencepiece: JSON lines {"text", "ids"}.

Strings mix the prompt's words, ASCII, runs of spaces and newlines, digits, Latin accents, CJK,
emoji and symbols absent from the vocab (so byte fallback is exercised).
Also writes --prompt-out: the ids HF's Gemma3Processor gives a one-image chat turn, composed as
observed with transformers 5.17 (shared/spec section 2): [bos] (add_bos_token) + [bos] +
enc("<start_of_turn>user\n\n\n") + [boi] + [image]*N + [eoi] + enc("\n\n" + text + "<end_of_turn>\n<start_of_turn>model\n").
    spm_oracle.py --model tokenizer.model --out cases.jsonl --prompt-out prompts.json [--n 3000] [--seed 1]
"""
import argparse
import json
import random

import sentencepiece as spm

WORDS = ("Analyze this breast tissue histopathology image and classify it Classes benign malignant "
         "carcinoma adenosis fibroadenoma phyllodes tumor tubular ductal lobular mucinous papillary "
         "Answer with only the number user model").split()
PIECES = {
    "ascii": [chr(c) for c in range(32, 127)],
    "space": [" ", "  ", "   ", "\t"],
    "newline": ["\n", "\n\n", "\n\n\n", "\r\n"],
    "digit": list("0123456789"),
    "latin": list("éèüöäßñçÅø"),
    "cjk": list("中文字病理乳腺癌組織画像"),
    "emoji": ["😀", "🔬", "🧬", "👩‍⚕️", "✅"],
    "symbol": list("→≤≥±µ°€£¥©®™"),
}


def random_text(rng):
    parts = []
    for _ in range(rng.randint(1, 25)):
        kind = rng.random()
        if kind < 0.35:
            parts.append(rng.choice(WORDS) + (" " if rng.random() < 0.7 else ""))
        else:
            pool = PIECES[rng.choice(list(PIECES))]
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prompt-out")
    ap.add_argument("--image-token", type=int, default=644)
    ap.add_argument("--tokens-per-image", type=int, default=4)
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=args.model)
    rng = random.Random(args.seed)
    with open(args.out, "w", encoding="utf-8") as out:
        fixed = ["", " ", "\n\n\n", "0123456789", "user\n\n\n", "Answer with only the number (0-7):"]
        for text in fixed + [random_text(rng) for _ in range(args.n)]:
            ids = sp.encode(text)
            out.write(json.dumps({"text": text, "ids": ids, "decoded": sp.decode(ids)}) + "\n")
    if args.prompt_out:
        write_prompt_cases(sp, args, rng)


def write_prompt_cases(sp, args, rng):
    bos, boi, eoi = sp.piece_to_id("<bos>"), sp.piece_to_id("<start_of_image>"), sp.piece_to_id("<end_of_image>")
    texts = ["Answer with only the number (0-7):", "  padded text \n", "Describe 3 cells.\n\nBriefly."]
    texts += [random_text(rng) for _ in range(20)]
    cases = []
    for text in texts:
        ids = [bos, bos] + sp.encode("<start_of_turn>user\n\n\n") + [boi] + [args.image_token] * args.tokens_per_image
        ids += [eoi] + sp.encode("\n\n" + text.strip() + "<end_of_turn>\n<start_of_turn>model\n")
        cases.append({"text": text, "ids": ids})
    with open(args.prompt_out, "w", encoding="utf-8") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
