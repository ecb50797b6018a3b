#!/usr/bin/env bash
# The test command: fetch the ONNX Runtime library once (npm), then vet and
# run every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(bash scripts/setup-ort.sh)
export ONNXRUNTIME_LIB="${ONNXRUNTIME_LIB:-$lib}"
go vet ./...
go test -race -count=1 -timeout 30m ./...
