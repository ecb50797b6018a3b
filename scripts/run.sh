#!/usr/bin/env bash
# Fetch the ONNX Runtime library once (npm), build blockprof, and open the
# explorer on the embedded default config. Extra arguments go to blockprof.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(bash scripts/setup-ort.sh)
export ONNXRUNTIME_LIB="${ONNXRUNTIME_LIB:-$lib}"
mkdir -p bin
go build -o bin/blockprof .
exec ./bin/blockprof "$@"
