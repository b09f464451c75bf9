#!/usr/bin/env bash
# Regenerate the README's images in docs/images/ from the real example sweep, examples/paper.yaml
# (all nine models, three scenarios, 100,000 trials; about a minute on two cores): run it into a
# throwaway SQLite database, then draw GPT-5 under `balanced` and every model under `balanced`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's packages, whatever is installed

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="sqlite:///$tmp/paper.db"

infscale run examples/paper.yaml --db "$db" >"$tmp/run.txt"
infscale plot --db "$db" --model gpt5 --scenario balanced --out "$tmp/plots" >/dev/null
infscale plot --db "$db" --scenario balanced --out "$tmp/plots" >/dev/null

mkdir -p docs/images
for name in cube accuracy cost_time; do
    cp "$tmp/plots/gpt5-balanced-$name.png" "docs/images/$name.png"
done
cp "$tmp/plots/balanced-models.png" docs/images/models.png
ls -l docs/images/*.png
