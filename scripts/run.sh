#!/usr/bin/env bash
# Fetch the ONNX Runtime library once (npm), build blockprof, and open the
# explorer on the embedded default config. Extra arguments go to blockprof.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(bash scripts/setup-ort.sh)
export ONNXRUNTIME_LIB="${ONNXRUNTIME_LIB:-$lib}"
# One glibc malloc arena: ONNX Runtime's sessions otherwise leave freed
# memory in per-thread arenas (391 → 215 MB resident, docs/benchmarks.md).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-1}"
mkdir -p bin
go build -o bin/blockprof .
exec ./bin/blockprof "$@"
