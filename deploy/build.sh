#!/usr/bin/env bash
# Build the Lambda package without Docker: the taxi_stream package plus the wheels the handler
# needs (deploy/function-requirements.txt), downloaded as manylinux x86_64 wheels for CPython
# 3.12 (Lambda's python3.12 runtime), whatever Python runs this script.
# Usage: deploy/build.sh OUT_DIR      (`sam build` calls it through deploy/Makefile)
set -euo pipefail

out="${1:?usage: deploy/build.sh OUT_DIR}"
deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${TAXI_STREAM_ROOT:-$(dirname "$deploy_dir")}"
python="${PYTHON:-python3}"

if [[ ! -f "$root/src/taxi_stream/lambda_handler.py" ]]; then
  echo "build.sh: no src/taxi_stream/lambda_handler.py under $root (set TAXI_STREAM_ROOT)" >&2
  exit 1
fi

mkdir -p "$out"
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --upgrade \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
  --only-binary=:all: --target "$out" -r "$deploy_dir/function-requirements.txt"
rm -rf "$out/taxi_stream"
cp -R "$root/src/taxi_stream" "$out/taxi_stream"
find "$out" -name __pycache__ -type d -prune -exec rm -rf {} +
# The files' own sizes (what Lambda's 250 MB unzipped limit counts), not du's disk blocks.
size="$("$python" -c 'import os, sys
files = [os.path.join(d, f) for d, _, names in os.walk(sys.argv[1]) for f in names]
n = sum(os.path.getsize(f) for f in files)
print(f"{n / 1e6:.1f} MB unzipped: {n:,} bytes in {len(files):,} files")' "$out")"
echo "build.sh: Lambda package in $out ($size)"
