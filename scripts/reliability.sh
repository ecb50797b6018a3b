#!/usr/bin/env bash
# Reliability figures of issue 13 (docs/reliability-hardening.md), rerunnable:
#
#   bash scripts/reliability.sh kill9 [N]       # N kill -9 at random moments of one profile run (default 10)
#   bash scripts/reliability.sh concurrent [N]  # N trials of two `profile` processes started together on one store (default 5)
#   bash scripts/reliability.sh hung [N]        # the ort device alone, then beside a local tool that hangs (5 s timeout), N times each (default 3)
#   bash scripts/reliability.sh all
#
# BLOCKPROF=path/to/blockprof measures that binary (e.g. one built from an older commit, for a before/after);
# by default the repository is built into a temporary folder. SEED seeds the random kill moments.
# Needs python3 (its sqlite3 module reads the stores); `hung` needs the ONNX Runtime library (scripts/setup-ort.sh).
# Every store, config and lock file lives in a temporary folder removed at the end; the host lock is a
# private one (BLOCKPROF_HOST_LOCK), so a profiler of yours that runs meanwhile is not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/blockprof-reliability.XXXXXX")
trap 'rm -rf "$work"' EXIT
export BLOCKPROF_HOST_LOCK=$work/host.lock
bp=${BLOCKPROF:-}
if [ -z "$bp" ]; then
	go build -o "$work/blockprof" .
	bp=$work/blockprof
fi
RANDOM=${SEED:-13}

# count_plan STORE DEVICE: "rows distinct" of the device's successful plan measurements, over all runs.
count_plan() {
	python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows, distinct = db.execute("SELECT count(*), count(DISTINCT arch) FROM measurements WHERE device = ? AND kind = 'plan' AND error IS NULL", (sys.argv[2],)).fetchone()
print(rows, distinct)
EOF
}

# running_tools MARK: "tool PID" or "child PID" for each running (not zombie) process of the kill9 device: its
# tool (sh -c "sleep MARK ...") and the tool's child (sleep MARK).
running_tools() {
	python3 - "$1" <<'EOF'
import os, sys
mark = sys.argv[1].encode()
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        stat = open(f"/proc/{pid}/stat", "rb").read()
    except OSError:
        continue
    tool = argv[:2] == [b"sh", b"-c"] and len(argv) > 2 and argv[2].startswith(b"sleep " + mark + b" ")
    child = argv[:2] == [b"sleep", mark]
    if (tool or child) and stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X"):
        print("tool" if tool else "child", pid)
EOF
}

kill9() {
	local n=${1:-10} dir=$work/kill9 mark=3617
	mkdir -p "$dir/tmp"
	# A local command device whose tool starts a child that would sleep an hour, then "measures" for 0-2.9 s.
	cat >"$dir/config.toml" <<EOF
[[devices]]
name = "tool"
kind = "command"
argv = ["sh", "-c", "sleep $mark >/dev/null 2>&1 & sleep \$((\$\$ % 3)).\$((\$\$ % 10)); echo 'latency 1.5'", "sh", "{model}"]
parser = "regex"
regex = "latency (\\\\S+)"
unit = "ms"
timeout = "30s"

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
uniform = 60
per_location = 0
seed = 7
reference_every = 0
EOF
	local lost=0 tools=0 children=0 kills=0
	# Leftovers of an earlier run of this script (with an older blockprof) would count as this one's.
	running_tools "$mark" | cut -d' ' -f2 | xargs -r kill -9 2>/dev/null || true
	for i in $(seq 1 "$n"); do
		TMPDIR=$dir/tmp "$bp" profile --config "$dir/config.toml" --store "$dir/s.db" >/dev/null 2>"$dir/err" &
		local pid=$!
		# A random moment between 0.5 and 5.4 s into the run.
		sleep "$((RANDOM % 5)).$((RANDOM % 10))"
		sleep 0.5
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "kill9: run $i ended before its kill (plan finished?)" >&2
			wait "$pid" || true
			break
		fi
		kill -9 "$pid"
		wait "$pid" 2>/dev/null || true
		kills=$((kills + 1))
		# The last progress line before the kill: "tool  N/60 ..." (printed once a second).
		local said stored
		said=$(grep -Eo '^tool  [0-9]+/' "$dir/err" | tail -1 | grep -Eo '[0-9]+' || echo 0)
		stored=$(count_plan "$dir/s.db" tool | cut -d' ' -f2)
		[ "$said" -gt "$stored" ] && lost=$((lost + said - stored))
		sleep 2 # the watchdog's kill is asynchronous
		local t c
		t=$(running_tools "$mark" | grep -c '^tool ' || true)
		c=$(running_tools "$mark" | grep -c '^child ' || true)
		tools=$((tools + t))
		children=$((children + c))
		running_tools "$mark" | cut -d' ' -f2 | xargs -r kill -9 2>/dev/null || true
		# The next start: a short --estimate run (it times at most two archs, then stops).
		TMPDIR=$dir/tmp "$bp" profile --config "$dir/config.toml" --store "$dir/s.db" --estimate >/dev/null 2>&1 || true
		running_tools "$mark" | cut -d' ' -f2 | xargs -r kill -9 2>/dev/null || true
		echo "kill $i: pid $pid, progress said $said, store holds $stored, running after 2 s: $t tools, $c tool children;" \
			"run directories in TMPDIR after the next start: $(find "$dir/tmp" -mindepth 1 -maxdepth 1 -name 'blockprof.*' | wc -l)"
	done
	# Finish the plan, then count.
	TMPDIR=$dir/tmp "$bp" profile --config "$dir/config.toml" --store "$dir/s.db" >/dev/null 2>"$dir/err" || true
	running_tools "$mark" | cut -d' ' -f2 | xargs -r kill -9 2>/dev/null || true
	read -r rows distinct < <(count_plan "$dir/s.db" tool)
	echo "kill9: $kills kills; lost $lost, duplicated $((rows - distinct)), running after the kills: $tools tools and $children tool children," \
		"run directories left: $(find "$dir/tmp" -mindepth 1 -maxdepth 1 -name 'blockprof.*' | wc -l); final store $distinct/60 archs in $rows rows"
}

concurrent() {
	local n=${1:-5} dir=$work/concurrent
	mkdir -p "$dir"
	cat >"$dir/config.toml" <<EOF
[[devices]]
name = "sim"
kind = "sim"
sim = { preset = "npu" }

[plan]
space = "ofa-mbv3-w1.0"
resolution = 224
uniform = 200
per_location = 0
seed = 1
reference_every = 0
EOF
	local twice=0 refused=0 both=0
	for i in $(seq 1 "$n"); do
		rm -f "$dir"/s.db*
		"$bp" profile --config "$dir/config.toml" --store "$dir/s.db" >/dev/null 2>"$dir/e1" &
		local a=$!
		"$bp" profile --config "$dir/config.toml" --store "$dir/s.db" >/dev/null 2>"$dir/e2" &
		local b=$!
		local ca=0 cb=0
		wait "$a" || ca=$?
		wait "$b" || cb=$?
		read -r rows distinct < <(count_plan "$dir/s.db" sim)
		local r=0
		grep -q "another profiler" "$dir/e1" && r=$((r + 1))
		grep -q "another profiler" "$dir/e2" && r=$((r + 1))
		[ "$ca" = 0 ] && [ "$cb" = 0 ] && both=$((both + 1))
		twice=$((twice + rows - distinct))
		refused=$((refused + r))
		echo "trial $i: exit codes $ca $cb, refused $r, $distinct archs in $rows rows"
		[ "$r" -gt 0 ] && grep -h -m1 "another profiler" "$dir/e1" "$dir/e2" | cut -c1-300
	done
	echo "concurrent: $n trials; archs measured twice $twice; second profiler refused $refused times; both exited 0 in $both trials"
}

hung() {
	local n=${1:-3} dir=$work/hung
	mkdir -p "$dir"
	export ONNXRUNTIME_LIB=${ONNXRUNTIME_LIB:-$(bash "$repo/scripts/setup-ort.sh")}
	cat >"$dir/config.toml" <<'EOF'
[[devices]]
name = "cpu"
kind = "ort"
threads = 1
warmup = 2
repeat = 20
max_repeat = 20
timeout = "30s"

[[devices]]
name = "hung"
kind = "command"
argv = ["sh", "-c", "sleep 600", "sh", "{model}"]
parser = "regex"
regex = "latency ([0-9.]+)"
unit = "ms"
timeout = "5s"

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
uniform = 12
per_location = 0
seed = 1
reference_every = 0
retries = 2
max_failures = 3
EOF
	local devs i out
	for devs in cpu cpu,hung; do
		: >"$dir/walls"
		for i in $(seq 1 "$n"); do
			rm -f "$dir"/s.db*
			out=$("$bp" profile --config "$dir/config.toml" --store "$dir/s.db" --devices "$devs" --json 2>/dev/null || true)
			python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s %s %d %.2f" % (x["device"], x["state"], x["measured"], x["wall_s"]) for x in d["devices"]))' <<<"$out" >>"$dir/walls"
			echo "--devices $devs run $i: $(tail -1 "$dir/walls")"
		done
		python3 - "$devs" "$dir/walls" <<'EOF'
import statistics, sys
runs = [l.split() for l in open(sys.argv[2]) if l.strip()]
cpu = [float(r[3]) for r in runs]
line = "hung: --devices %s: ort device wall median %.2f s (runs %s)" % (sys.argv[1], statistics.median(cpu), ", ".join("%.2f" % w for w in cpu))
if len(runs[0]) > 4:
    line += "; the hung device ended %s after median %.2f s" % (runs[0][5], statistics.median(float(r[7]) for r in runs))
print(line)
EOF
	done
}

case "${1:-all}" in
kill9) kill9 "${2:-10}" ;;
concurrent) concurrent "${2:-5}" ;;
hung) hung "${2:-3}" ;;
all)
	kill9 10
	concurrent 5
	hung 3
	;;
*)
	echo "usage: bash scripts/reliability.sh kill9|concurrent|hung|all [N]" >&2
	exit 2
	;;
esac
