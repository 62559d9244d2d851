#!/usr/bin/env bash
# Creates the integration-test venv from scripts/python-requirements-integration.txt and links it
# as .venv-integration, cached by the requirements' hash like the project venv
# (scripts/install-venv.sh). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=scripts/python-requirements-integration.txt
key=$(sha256sum "$requirements" | cut -c1-16)
cache=${MEDGEMMA_VENV_CACHE:-$HOME/.cache/medgemma-serve}
venv=$cache/venv-integration-$key
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"; mkdir -p "$cache"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  touch "$venv/.complete"
  echo "install-integration-venv: created $venv"
fi
ln -sfn "$venv" .venv-integration
