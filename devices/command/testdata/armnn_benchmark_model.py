#!/usr/bin/python3
"""A test stand-in for TFLite's benchmark_model: NOT a phone.

It takes benchmark_model's flags (--graph, --num_threads, --num_runs,
--warmup_runs; others are accepted and ignored), loads the .tflite file with
Arm NN's own TFLite parser, runs it on Arm NN's reference (CpuRef) backend on
this host and prints what benchmark_model prints (the phase statistics in
microseconds and the "Inference timings in us" line). The devices/command
end-to-end test runs it over a fake adb, so that the adb path, the TFLite
writer, the format inference and the benchmark_model parser are exercised on
a real interpreter; its numbers are this host's reference kernels, labelled
as such by the test, never a phone's.
"""
import statistics
import sys
import time

import numpy as np
import pyarmnn as ann


def flags(argv):
    out = {}
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            out[k] = v
    return out


def stat_line(us):
    return "count=%d first=%d curr=%d min=%d max=%d avg=%g std=%d" % (
        len(us), us[0], us[-1], min(us), max(us), statistics.fmean(us),
        statistics.pstdev(us) if len(us) > 1 else 0)


def main(argv):
    f = flags(argv)
    if "graph" not in f:
        raise SystemExit("armnn_benchmark_model: --graph=FILE is required")
    runs, warmup = int(f.get("num_runs", "3")), int(f.get("warmup_runs", "1"))
    print("STARTING!")
    print("stand-in: Arm NN %s CpuRef on the host (not a phone)" % ann.ARMNN_VERSION)
    t0 = time.perf_counter()
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(f["graph"])
    ins = parser.GetSubgraphInputTensorNames(0)
    outs = parser.GetSubgraphOutputTensorNames(0)
    in_info = parser.GetNetworkInputBindingInfo(0, ins[0])
    out_info = parser.GetNetworkOutputBindingInfo(0, outs[0])
    runtime = ann.IRuntime(ann.CreationOptions())
    opt, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, err = runtime.LoadNetwork(opt)
    if err:
        raise SystemExit("armnn_benchmark_model: load: %s" % err)
    init_us = (time.perf_counter() - t0) * 1e6
    data = np.random.default_rng(0).standard_normal(in_info[1].GetNumElements()).astype("<f4")
    it = ann.make_input_tensors([in_info], [data])
    ot = ann.make_output_tensors([out_info])

    def timed(n):
        us = []
        for _ in range(n):
            s = time.perf_counter()
            runtime.EnqueueWorkload(net_id, it, ot)
            us.append(int((time.perf_counter() - s) * 1e6))
        return us

    print("Running benchmark for at least %d iterations and at least 0.5 seconds but terminate if exceeding 150 seconds." % warmup)
    w = timed(warmup)
    print(stat_line(w))
    print("Running benchmark for at least %d iterations and at least 1 seconds but terminate if exceeding 150 seconds." % runs)
    r = timed(runs)
    print(stat_line(r))
    print("Inference timings in us: Init: %d, First inference: %d, Warmup (avg): %g, Inference (avg): %g" % (
        init_us, w[0], statistics.fmean(w), statistics.fmean(r)))


if __name__ == "__main__":
    main(sys.argv[1:])
