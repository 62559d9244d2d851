#!/usr/bin/env python3
"""The Assistant's prompt ids against HF's apply_chat_template (transformers, CPU): a system message
folded into the user turn as Gemma 3's chat template does, text only and with an image.

HF's side is the checkpoint's own template: make-tiny-model writes google/gemma-3-4b-it's
chat_template.jinja (engine/tiny_model.cc), which AutoTokenizer and AutoProcessor read as they
would a hub checkpoint's. Text-only turns go through tokenizer.apply_chat_template(messages,
add_generation_prompt=True); image turns through processor.apply_chat_template(..., tokenize=True,
return_dict=True) with the image in the message. Our side is `medgemma-cli tokenize --ask`
(ChatPrompt::ForTurn). Rendered text, ids and token_type_ids must be equal, for the configured
safety prompt (config/server.yaml's assistant.system_prompt) and for whitespace and Unicode edge
cases of both the system message and the user text."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import yaml  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import AutoTokenizer, Gemma3Config  # noqa: E402


def configured_system_prompt():
    with open(ref.REPO / "config" / "server.yaml") as f:
        return yaml.safe_load(f)["assistant"]["system_prompt"]


SAFETY = configured_system_prompt()
# (system message or None, user text): system messages are used as given (the template adds
# "\n\n" and does not trim them), user texts are trimmed by the template's `trim` (str.strip).
CASES = [
    (SAFETY, "What is ductal carcinoma?"),
    (SAFETY, "  Is this benign?\n\n"),
    (None, "What is ductal carcinoma?"),
    ("", "An empty system message still adds its blank line."),
    ("Line one.\nLine two.\n\n  Indented line three.", "Multi\nline\n\nquestion:"),
    ("  Leading and trailing spaces kept.  \n", "\tTabbed question?\t"),
    ("Windows\r\nline ends\r\n", "Question\r\nwith CRLF\r\n"),
    (SAFETY, "\u3000\u00a0Unicode spaces around\u2029\u0085"),
    ("Système: répondez en français. 医療アシスタント 🔬", "Ist das gutartig? 良性か悪性か 🔬"),
    (SAFETY, "<start_of_turn> and <end_of_turn> are special tokens"),
    ("Trailing blank lines\n\n\n", "x"),
]


def hf_text_only(tokenizer, system, user):
    messages = ([{"role": "system", "content": system}] if system is not None else [])
    messages.append({"role": "user", "content": user})
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    # The list form of the same messages, as a multimodal client sends them, renders the same.
    as_list = ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system is not None else [])
    as_list.append({"role": "user", "content": [{"type": "text", "text": user}]})
    assert tokenizer.apply_chat_template(as_list, add_generation_prompt=True, tokenize=False) == rendered
    return rendered, list(ids)


def hf_with_image(processor, config, image, system, user):
    messages = ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system is not None else [])
    messages.append({"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": user}]})
    rendered = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    out = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    ids = list(out["input_ids"][0])
    hf_image_id = ref.hf_image_token_id(processor)  # see hf_reference.hf_prompt_inputs
    ids = [config.image_token_index if i == hf_image_id else i for i in ids]
    return rendered, ids, list(out["token_type_ids"][0])


def ours(cli, model_dir, system, user, image):
    args = ["tokenize", "--model", model_dir, "--ask", f"--text={user}"]
    if system is not None:
        args.append(f"--system={system}")
    if image:
        args.append("--image")
    out = json.loads(cli.run(*args))
    return out["rendered"], out["ids"], out["token_type_ids"]


def main():
    cli, checks = ref.test_setup(__doc__)
    checks.equal("config/server.yaml's system prompt is the issue's safety prompt", SAFETY,
                 "You are a helpful medical assistant. You provide information, not diagnosis. "
                 "Always advise consulting a doctor.", "text")
    model_dir = cli.make_tiny_model(cli.work / "tiny", seed=4)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    processor = ref.hf_processor(model_dir)
    config = Gemma3Config.from_pretrained(model_dir)
    image = Image.open(ref.make_png(cli.work / "image.png", 300, 200, seed=3))
    for i, (system, user) in enumerate(CASES):
        hf_rendered, hf_ids = hf_text_only(tokenizer, system, user)
        rendered, ids, types = ours(cli, model_dir, system, user, image=False)
        checks.equal(f"case {i} text only: rendered == HF template", rendered, hf_rendered, f"{len(rendered)} chars")
        checks.equal(f"case {i} text only: ids == tokenizer.apply_chat_template", ids, hf_ids, f"{len(ids)} ids")
        checks.equal(f"case {i} text only: no image tokens", sum(types), 0, "token_type_ids")
        hf_rendered, hf_ids, hf_types = hf_with_image(processor, config, image, system, user)
        rendered, ids, types = ours(cli, model_dir, system, user, image=True)
        checks.equal(f"case {i} image: rendered == HF template", rendered, hf_rendered, f"{len(rendered)} chars")
        checks.equal(f"case {i} image: ids == processor.apply_chat_template", ids, hf_ids, f"{len(ids)} ids")
        checks.equal(f"case {i} image: token_type_ids == HF", types, hf_types, f"{sum(types)} image tokens")
    checks.finish()


if __name__ == "__main__":
    main()
