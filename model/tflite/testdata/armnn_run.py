"""Run .tflite models in Arm NN's TFLite parser on its reference backend.

Usage: armnn_run.py MODEL INPUT OUTPUT [MODEL INPUT OUTPUT ...]

INPUT is the model's one input as raw little-endian float32 (NHWC); the
model's one output is written to OUTPUT the same way. Used by the
model/tflite tests as a TFLite runtime independent of blockprof: it loads
the file with Arm NN's own flatbuffer parser and computes with Arm NN's
reference (CpuRef) kernels.
"""
import sys

import numpy as np
import pyarmnn as ann


def run(runtime, path, inp, outp):
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(path)
    ins = parser.GetSubgraphInputTensorNames(0)
    outs = parser.GetSubgraphOutputTensorNames(0)
    if len(ins) != 1 or len(outs) != 1:
        raise SystemExit(f"{path}: inputs {ins}, outputs {outs}: want one each")
    in_info = parser.GetNetworkInputBindingInfo(0, ins[0])
    out_info = parser.GetNetworkOutputBindingInfo(0, outs[0])
    opt, msgs = ann.Optimize(net, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, err = runtime.LoadNetwork(opt)
    if err:
        raise SystemExit(f"{path}: load: {err}")
    data = np.fromfile(inp, dtype="<f4")
    want = in_info[1].GetNumElements()
    if data.size != want:
        raise SystemExit(f"{path}: input {inp} has {data.size} floats, the model wants {want}")
    it = ann.make_input_tensors([in_info], [data])
    ot = ann.make_output_tensors([out_info])
    runtime.EnqueueWorkload(net_id, it, ot)
    res = ann.workload_tensors_to_ndarray(ot)[0]
    np.asarray(res, dtype="<f4").tofile(outp)
    runtime.UnloadNetwork(net_id)


def main(argv):
    if len(argv) == 0 or len(argv) % 3 != 0:
        raise SystemExit(__doc__)
    runtime = ann.IRuntime(ann.CreationOptions())
    for i in range(0, len(argv), 3):
        run(runtime, *argv[i:i + 3])


if __name__ == "__main__":
    main(sys.argv[1:])
