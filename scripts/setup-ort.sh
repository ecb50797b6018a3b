#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library that the ort device loads, once.
#
# It uses the ordinary npm client: `npm pack onnxruntime-node@VERSION` only
# downloads the package tarball (its install script never runs); the library
# for this OS and CPU is extracted from it and copied to the user cache dir
# (the directory Go's os.UserCacheDir returns):
#
#   linux:  ${XDG_CACHE_HOME:-$HOME/.cache}/blockprof/onnxruntime/VERSION/libonnxruntime.so
#   darwin: $HOME/Library/Caches/blockprof/onnxruntime/VERSION/libonnxruntime.dylib
#
# Idempotent: when the library is already there nothing is fetched. The
# library's path is the only thing printed on stdout (progress goes to
# stderr), so `lib=$(bash scripts/setup-ort.sh)` works; blockprof finds the
# cached copy by itself, or set ONNXRUNTIME_LIB=$lib.
set -euo pipefail

version=1.30.0

os=$(uname -s)
case "$(uname -m)" in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "setup-ort: unsupported CPU $(uname -m): onnxruntime-node ships x64 and arm64 builds only; build ONNX Runtime yourself and set ONNXRUNTIME_LIB" >&2
	exit 1
	;;
esac

case "$os" in
Linux)
	cache=${XDG_CACHE_HOME:-$HOME/.cache}
	member=package/bin/napi-v6/linux/$arch/libonnxruntime.so.1
	name=libonnxruntime.so
	;;
Darwin)
	cache=$HOME/Library/Caches
	member=package/bin/napi-v6/darwin/$arch/libonnxruntime.1.dylib
	name=libonnxruntime.dylib
	;;
*)
	echo "setup-ort: unsupported OS $os: fetch ONNX Runtime $version yourself and set ONNXRUNTIME_LIB to the shared library" >&2
	exit 1
	;;
esac

dir=$cache/blockprof/onnxruntime/$version
dest=$dir/$name
if [ -s "$dest" ]; then
	echo "$dest"
	exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "setup-ort: npm not found: install Node.js/npm, or download ONNX Runtime $version and set ONNXRUNTIME_LIB to its shared library" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "setup-ort: fetching onnxruntime-node@$version with npm pack (about 110 MB) ..." >&2
(cd "$tmp" && npm pack --ignore-scripts --silent "onnxruntime-node@$version" >/dev/null)
tgz=$(ls "$tmp"/onnxruntime-node-*.tgz 2>/dev/null | head -n 1)
if [ -z "$tgz" ]; then
	echo "setup-ort: npm pack onnxruntime-node@$version produced no tarball in $tmp" >&2
	exit 1
fi
tar tzf "$tgz" >"$tmp/contents"
if ! grep -qxF "$member" "$tmp/contents"; then
	echo "setup-ort: $(basename "$tgz") has no $member (no ONNX Runtime build for $os/$arch in this release)" >&2
	exit 1
fi
tar xzf "$tgz" -C "$tmp" "$member"

mkdir -p "$dir"
cp "$tmp/$member" "$dest.partial.$$"
mv -f "$dest.partial.$$" "$dest"
echo "setup-ort: installed ONNX Runtime $version at $dest" >&2
echo "$dest"
