#!/bin/sh
# A stand-in for TensorRT's trtexec in tests: it prints trtexec 8.6's
# output format, with a latency that depends on the model it was given
# (the file's size in bytes / 10^6 ms), so a test can tell that the tool
# read the model blockprof exported.
#   fake_trtexec.sh --onnx=FILE [--log=DIR] [--fail] [--garbage] [--sleep] [other args...]
# --log=DIR writes the arguments to DIR/argv, NUL-separated.
onnx=
for a; do
	case "$a" in
	--onnx=*) onnx=${a#--onnx=} ;;
	--log=*) printf '%s\000' "$@" >"${a#--log=}/argv" ;;
	--sleep) sleep 60 ;;
	esac
done
echo "&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec $*"
echo "[03/14/2024-10:21:05] [I] === Model Options ==="
echo "[03/14/2024-10:21:05] [I] Model: $onnx"
if [ ! -s "$onnx" ]; then
	echo "[03/14/2024-10:21:05] [E] Cannot open ONNX file: $onnx"
	echo "&&&& FAILED TensorRT.trtexec [TensorRT v8601] # trtexec $*"
	exit 1
fi
for a; do
	case "$a" in
	--fail)
		echo "[03/14/2024-10:21:06] [E] Error[4]: [network.cpp::validate::2997] Error Code 4: Internal Error (out of memory)"
		echo "&&&& FAILED TensorRT.trtexec [TensorRT v8601] # trtexec $*"
		exit 1
		;;
	--garbage)
		echo "Segmentation fault"
		exit 0
		;;
	esac
done
size=$(wc -c <"$onnx")
awk -v s="$size" 'BEGIN {
	m = s / 1000000
	printf "[03/14/2024-10:21:44] [I] Warmup completed 412 queries over 200 ms\n"
	printf "[03/14/2024-10:21:44] [I] Timing trace has 6187 queries over 3.00091 s\n"
	printf "[03/14/2024-10:21:44] [I] === Performance summary ===\n"
	printf "[03/14/2024-10:21:44] [I] Throughput: %.2f qps\n", 1000 / m
	printf "[03/14/2024-10:21:44] [I] Latency: min = %.6f ms, max = %.6f ms, mean = %.6f ms, median = %.6f ms, percentile(99%%) = %.6f ms\n", m * 1.1, m * 1.5, m * 1.2, m * 1.2, m * 1.4
	printf "[03/14/2024-10:21:44] [I] GPU Compute Time: min = %.6f ms, max = %.6f ms, mean = %.6f ms, median = %.6f ms, percentile(99%%) = %.6f ms\n", m * 0.9, m * 1.3, m * 1.01, m, m * 1.2
	printf "[03/14/2024-10:21:44] [I] Total Host Walltime: 3.00091 s\n"
}'
echo "&&&& PASSED TensorRT.trtexec [TensorRT v8601] # trtexec $*"
