#!/usr/bin/env bash
# The main job on the embedded default: a tiny random Gemma 3 checkpoint and synthetic data in
# BreakHis' layout. Installs what is missing, builds, then classifies fold-1 100X test images
# in-process with the engine (the gRPC server and trainer take over this job in their issues).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh medgemma-cli
cli=build/bin/medgemma-cli
work=${MEDGEMMA_DEMO_DIR:-build/demo}
mkdir -p "$work"
[ -f "$work/model/config.json" ] || $cli make-tiny-model --out "$work/model" --seed 1
[ -f "$work/data/Folds.csv" ] || $cli make-demo-data --out "$work/data" --seed 1 --images-per-patient 2
echo "== classify: fold 1, 100X, test split (untrained tiny model: expect chance-level answers) =="
mapfile -t images < <(grep '^1,100,test,' "$work/data/Folds.csv" | cut -d, -f4 | sed "s|^|$work/data/|")
$cli classify --model "$work/model" --task config/task-breakhis.yaml "${images[@]}"
echo "== generate: free text for one image =="
$cli generate --model "$work/model" --max-new-tokens 8 "${images[0]}"
