#!/usr/bin/env bash
# Creates the project venv from scripts/python-requirements.txt and links it as .venv. The venv
# lives in a cache directory keyed by the requirements' hash, so fresh clones on the same machine
# (CI) reuse it, and a changed pin builds a new one. Idempotent: a finished venv is marked and kept.
# $MEDGEMMA_TORCH_INDEX_URL: where torch comes from instead of PyPI (the CPU image: PyTorch's CPU
# index, a libtorch without CUDA); part of the cache key.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=scripts/python-requirements.txt
torch_index=${MEDGEMMA_TORCH_INDEX_URL:-}
key=$( (cat "$requirements"; [ -z "$torch_index" ] || echo "$torch_index") | sha256sum | cut -c1-16)
cache=${MEDGEMMA_VENV_CACHE:-$HOME/.cache/medgemma-serve}
venv=$cache/venv-$key
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"; mkdir -p "$cache"
  python=$(command -v python3)
  "$python" -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; /usr/bin/python3 -m venv "$venv"; }
  if [ -n "$torch_index" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check --index-url "$torch_index" \
      "$(grep '^torch==' "$requirements")"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  touch "$venv/.complete"
  echo "install-venv: created $venv"
fi
ln -sfn "$venv" .venv
