#!/usr/bin/env bash
# explorer-peak.sh: the explorer's peak resident memory over a big store, as
# docs/benchmarks.md measures it ("exp100k"). It copies STORE to a fresh
# directory, starts BINARY --store on the copy in a tmux session (160x48),
# presses 2, m and 3 twelve seconds apart, and prints VmHWM (kB) after each
# key and twelve seconds after the last, then quits (q, and q again to confirm
# while a device is measuring).
#
#   scripts/explorer-peak.sh BINARY STORE [DEVICES]
#
# DEVICES (default cpu) is passed to --devices, so the explorer profiles
# while the views are open. Make the store once with
#   blockprof profile --devices sim-npu --plan uniform=100000 --store big.db --json
# The ort device needs ONNXRUNTIME_LIB (scripts/setup-ort.sh).
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 BINARY STORE [DEVICES]" >&2
	exit 2
fi
bin=$(realpath "$1")
store=$2
devices=${3:-cpu}
command -v tmux >/dev/null || { echo "$0: tmux is needed" >&2; exit 2; }
[ -x "$bin" ] || { echo "$0: $bin is not an executable" >&2; exit 2; }
[ -f "$store" ] || { echo "$0: store $store not found" >&2; exit 2; }

dir=$(mktemp -d)
session=explorer-peak-$$
cp "$store" "$dir/store.db"
[ -f "$store-wal" ] && cp "$store-wal" "$dir/store.db-wal"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$dir"' EXIT

tmux new-session -d -s "$session" -x 160 -y 48 \
	"cd '$dir' && ONNXRUNTIME_LIB='${ONNXRUNTIME_LIB:-}' '$bin' --store store.db --devices '$devices'; echo \$? > '$dir/exit'"
sleep 3
pid=$(pgrep -n -f "$bin --store store.db") || { echo "$0: the explorer did not start" >&2; exit 1; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }

out=""
for key in 2 m 3; do
	sleep 12
	tmux send-keys -t "$session" "$key"
	out="$out $key:$(hwm)"
done
sleep 12
out="$out end:$(hwm)"
# A q while a device is measuring asks to confirm with a second q.
for _ in 1 2; do
	tmux send-keys -t "$session" q 2>/dev/null || break
	sleep 3
done
echo "VmHWM (kB):$out exit: $(cat "$dir/exit" 2>/dev/null || echo '?')"
