#!/usr/bin/env python3
"""blockprof's PyTorch agent: times networks that blockprof describes.

It speaks blockprof's agent protocol, JSON lines over stdin and stdout:

  hello (first line, unprompted):
    {"hello": "blockprof-agent", "protocol": 1, "agent": "torch_agent.py",
     "version": "1.0.0", "runtime": "pytorch", "runtime_version": "2.3.0",
     "python": "3.11.2", "host": "...", "cpu": "...", "threads": 8,
     "cuda": true, "gpu": "NVIDIA H100 80GB HBM3", "cuda_version": "12.1",
     "targets": ["cpu", "cuda"]}
    (with "error" instead when PyTorch cannot be imported; then it exits)

  request, one per line:
    {"id": 7, "arch": "ofa-mbv3:224:...", "network": {...model.Network...},
     "batch": 1, "warmup": 10, "repeat": 50, "max_repeat": 200,
     "target_spread": 0.05, "precision": "fp32" | "fp16",
     "mode": "graph" | "eager", "target": "cuda" | "cpu",
     "channels_last": false, "threads": 0, "seed": 0}
    or {"id": 8, "count": true, "network": {...}}

  response, one line per request, in order:
    {"id": 7, "samples_ms": [...], "warmup": 10, "mode": "cuda-graph",
     "device": "NVIDIA H100 80GB HBM3", ...}
    {"id": 8, "macs": 218992112, "params": 7608064, "layers": 27}
    {"id": 7, "error": "..."}

The network is built layer by layer from the description the Go side sends
(model.Network: conv, mbconv, bottleneck, maxpool, gap, linear; see
model/network.go), with seeded random weights, in eval mode under no_grad.
Timing: warm-up runs, then timed runs until at least `repeat` samples and
the relative spread (IQR/median) is at most `target_spread`, or
`max_repeat` samples. On CUDA each sample is the time between two CUDA
events around one replay of a captured CUDA graph (mode "graph") or one
eager forward (mode "eager"); on the CPU, wall-clock time of one forward.

Only protocol lines go to stdout; everything else (warnings, logs, library
output) goes to stderr. Errors in a request are answered, never fatal.
"""

import json
import math
import os
import platform
import socket
import sys
import time

AGENT = "torch_agent.py"
VERSION = "1.0.0"
PROTOCOL = 1

# Protocol lines go to a private copy of the original stdout; file
# descriptor 1 and sys.stdout are pointed at stderr so that nothing else
# (prints, C libraries) can corrupt the protocol stream.
_proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", newline="\n")
os.dup2(2, 1)
sys.stdout = sys.stderr


def log(*args):
    print("torch_agent:", *args, file=sys.stderr, flush=True)


def send(obj):
    _proto.write(json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n")
    _proto.flush()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() in ("model name", "Hardware", "Processor") and v.strip():
                    return v.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


try:
    import torch
    import torch.nn as nn
except Exception as e:  # noqa: BLE001 - report any import failure
    send({"hello": "blockprof-agent", "protocol": PROTOCOL, "agent": AGENT, "version": VERSION,
          "python": platform.python_version(), "host": socket.gethostname(),
          "error": "cannot import torch with %s: %s: %s" % (sys.executable, type(e).__name__, e)})
    sys.exit(1)


def hello():
    cuda = torch.cuda.is_available()
    h = {
        "hello": "blockprof-agent", "protocol": PROTOCOL, "agent": AGENT, "version": VERSION,
        "runtime": "pytorch", "runtime_version": torch.__version__,
        "python": platform.python_version(), "host": socket.gethostname(),
        "cpu": cpu_name(), "threads": torch.get_num_threads(), "cuda": cuda,
        "targets": ["cpu", "cuda"] if cuda else ["cpu"],
    }
    if cuda:
        h["gpu"] = torch.cuda.get_device_name(0)
        h["cuda_version"] = torch.version.cuda or ""
        h["gpus"] = torch.cuda.device_count()
    return h


# ---- network construction -------------------------------------------------

class RequestError(Exception):
    """A request the agent cannot serve; answered as an error response."""


def need(d, key, kind=int, minimum=None):
    v = d.get(key)
    if kind is int and isinstance(v, bool) or not isinstance(v, kind):
        raise RequestError("%s: want %s, got %r" % (key, kind.__name__, v))
    if minimum is not None and v < minimum:
        raise RequestError("%s: want >= %s, got %r" % (key, minimum, v))
    return v


def make_act(name):
    if name in (None, "", "none"):
        return None
    if name == "relu":
        return nn.ReLU(inplace=False)
    if name == "relu6":
        return nn.ReLU6(inplace=False)
    if name == "h_swish":
        return nn.Hardswish()
    raise RequestError("unknown activation %r (want relu, relu6, h_swish or none)" % name)


def conv(cin, cout, k, stride=1, groups=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


class ConvLayer(nn.Module):
    """conv: K x K conv (padding K/2, groups), optional BN, bias, activation
    and identity residual (added after the activation)."""

    def __init__(self, l):
        super().__init__()
        cin, cout, k = need(l, "in", int, 1), need(l, "out", int, 1), need(l, "k", int, 1)
        stride, groups = l.get("stride") or 1, l.get("groups") or 1
        if cin % groups or cout % groups:
            raise RequestError("%s: %d->%d channels do not split into %d groups" % (l.get("name"), cin, cout, groups))
        self.conv = conv(cin, cout, k, stride, groups, bool(l.get("bias")))
        self.bn = nn.BatchNorm2d(cout) if l.get("bn") else None
        self.act = make_act(l.get("act"))
        self.residual = bool(l.get("residual"))
        if self.residual and (cin != cout or stride != 1):
            raise RequestError("%s: identity residual needs stride 1 and in = out" % l.get("name"))

    def forward(self, x):
        y = self.conv(x)
        if self.bn is not None:
            y = self.bn(y)
        if self.act is not None:
            y = self.act(y)
        return x + y if self.residual else y


class SE(nn.Module):
    """OFA's squeeze-and-excite: mean, 1x1 conv (bias), ReLU, 1x1 conv
    (bias), h_sigmoid, multiply."""

    def __init__(self, mid, r):
        super().__init__()
        self.reduce = conv(mid, r, 1, bias=True)
        self.relu = nn.ReLU(inplace=False)
        self.expand = conv(r, mid, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        y = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.relu(self.reduce(y))))


class MBConv(nn.Module):
    """mbconv: optional 1x1 expansion In->Mid + BN + act, K x K depthwise +
    BN + act, optional SE, 1x1 projection Mid->Out + BN, residual add."""

    def __init__(self, l):
        super().__init__()
        cin, cout, mid, k = need(l, "in", int, 1), need(l, "out", int, 1), need(l, "mid", int, 1), need(l, "k", int, 1)
        stride = need(l, "stride", int, 1)
        act = l.get("act")
        self.expand = None
        if l.get("expand"):
            self.expand = nn.Sequential(conv(cin, mid, 1), nn.BatchNorm2d(mid), *opt(make_act(act)))
        elif mid != cin:
            raise RequestError("%s: mbconv without expansion has mid %d != in %d" % (l.get("name"), mid, cin))
        self.depthwise = nn.Sequential(conv(mid, mid, k, stride, groups=mid), nn.BatchNorm2d(mid), *opt(make_act(act)))
        self.se = SE(mid, l["se"]) if l.get("se") else None
        self.project = nn.Sequential(conv(mid, cout, 1), nn.BatchNorm2d(cout))
        self.residual = bool(l.get("residual"))
        if self.residual and (cin != cout or stride != 1):
            raise RequestError("%s: residual needs stride 1 and in = out" % l.get("name"))

    def last_bn(self):
        return self.project[1] if self.residual else None

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.depthwise(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


def opt(m):
    return [m] if m is not None else []


class Bottleneck(nn.Module):
    """bottleneck: 1x1 In->Mid BN ReLU, 3x3 stride Mid->Mid BN ReLU, 1x1
    Mid->Out BN; shortcut identity or AvgPool(stride, ceil) + 1x1 conv + BN;
    add; ReLU."""

    def __init__(self, l):
        super().__init__()
        cin, cout, mid = need(l, "in", int, 1), need(l, "out", int, 1), need(l, "mid", int, 1)
        stride = need(l, "stride", int, 1)
        self.conv1 = conv(cin, mid, 1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = conv(mid, mid, 3, stride)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = conv(mid, cout, 1)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=False)
        if l.get("downsample"):
            pool = [nn.AvgPool2d(stride, stride, 0, ceil_mode=True)] if stride > 1 else []
            self.shortcut = nn.Sequential(*pool, conv(cin, cout, 1), nn.BatchNorm2d(cout))
        elif l.get("residual"):
            if cin != cout or stride != 1:
                raise RequestError("%s: identity shortcut needs stride 1 and in = out" % l.get("name"))
            self.shortcut = None
        else:
            raise RequestError("%s: bottleneck with neither an identity nor a downsample shortcut" % l.get("name"))

    def last_bn(self):
        return self.bn3

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return self.relu(y + s)


class Linear(nn.Module):
    """linear: flatten, fully connected In->Out with bias."""

    def __init__(self, l):
        super().__init__()
        self.fc = nn.Linear(need(l, "in", int, 1), need(l, "out", int, 1), bias=l.get("bias", True) is not False)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def build_layer(l):
    if not isinstance(l, dict):
        raise RequestError("layer: want an object, got %r" % (l,))
    kind = l.get("kind")
    if kind == "conv":
        return ConvLayer(l)
    if kind == "mbconv":
        return MBConv(l)
    if kind == "bottleneck":
        return Bottleneck(l)
    if kind == "maxpool":
        k, s = need(l, "k", int, 1), need(l, "stride", int, 1)
        return nn.MaxPool2d(k, s, k // 2)
    if kind == "gap":
        return nn.AdaptiveAvgPool2d(1)
    if kind == "linear":
        return Linear(l)
    raise RequestError("layer %s: unknown kind %r" % (l.get("name"), kind))


# Residual branches end in a BN with this gamma (as the ONNX exporter does)
# so that activations stay bounded through deep stacks of random blocks.
RESIDUAL_GAMMA = 0.25


def build(network, seed):
    """The network as an nn.Sequential of its layers, seeded random weights,
    eval mode."""
    if not isinstance(network, dict):
        raise RequestError("network: want an object")
    layers = network.get("layers")
    if not isinstance(layers, list) or not layers:
        raise RequestError("network has no layers")
    need(network, "resolution", int, 1)
    torch.manual_seed(seed)
    mods = [build_layer(l) for l in layers]
    net = nn.Sequential(*mods)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=0, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = math.sqrt(3.0 / m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in mods:
            bn = m.last_bn() if hasattr(m, "last_bn") else None
            if bn is not None:
                bn.weight.fill_(RESIDUAL_GAMMA)
    return net.eval()


# ---- counting (structure check) --------------------------------------------

def count(network):
    """MACs and params as the modules define them, with every layer's
    output shape checked against the description."""
    net = build(network, 0)
    params = sum(p.numel() for p in net.parameters())
    macs = [0]

    def conv_hook(m, inp, out):
        c, h, w = out.shape[1:]
        kh, kw = m.kernel_size
        macs[0] += c * h * w * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        macs[0] += m.in_features * m.out_features

    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear_hook)
    r = network["resolution"]
    x = torch.zeros(1, 3, r, r)
    with torch.no_grad():
        for i, (l, m) in enumerate(zip(network["layers"], net)):
            x = m(x)
            want = [l.get("out")] if l.get("kind") == "linear" else [l.get("out"), l.get("out_h"), l.get("out_w")]
            if list(x.shape[1:]) != want:
                raise RequestError("layer %d (%s, %s): output shape %s, the description says %s"
                                   % (i + 1, l.get("name"), l.get("kind"), list(x.shape[1:]), want))
    return {"macs": int(macs[0]), "params": int(params), "layers": len(net), "output": list(x.shape)}


# ---- timing -----------------------------------------------------------------

def rel_spread(xs):
    """IQR / median with type-7 quantiles: the Go protocol's stopping rule."""
    s = sorted(xs)

    def q(p):
        h = p * (len(s) - 1)
        lo = int(h)
        if lo + 1 >= len(s):
            return s[-1]
        return s[lo] + (h - lo) * (s[lo + 1] - s[lo])

    med = q(0.5)
    return 0.0 if med == 0 else (q(0.75) - q(0.25)) / med


def protocol_loop(one, warmup, repeat, max_repeat, spread):
    for _ in range(warmup):
        one()
    samples = []
    while len(samples) < max_repeat:
        samples.append(one())
        if len(samples) >= repeat and rel_spread(samples) <= spread:
            break
    return samples


def measure(req):
    network = req.get("network")
    batch = req.get("batch", 1)
    warmup = req.get("warmup", 10)
    repeat = req.get("repeat", 50)
    max_repeat = req.get("max_repeat", repeat)
    spread = req.get("target_spread", 0.0)
    for k, v, lo in (("batch", batch, 1), ("warmup", warmup, 0), ("repeat", repeat, 1), ("max_repeat", max_repeat, repeat)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise RequestError("%s: want an integer >= %s, got %r" % (k, lo, v))
    if isinstance(spread, bool) or not isinstance(spread, (int, float)) or spread < 0:
        raise RequestError("target_spread: want a number >= 0, got %r" % (spread,))
    precision = req.get("precision", "fp32")
    mode = req.get("mode", "graph")
    target = req.get("target") or ("cuda" if torch.cuda.is_available() else "cpu")
    if precision not in ("fp32", "fp16"):
        raise RequestError("precision %r: want fp32 or fp16" % (precision,))
    if mode not in ("graph", "eager"):
        raise RequestError("mode %r: want graph or eager" % (mode,))
    if target not in ("cuda", "cpu"):
        raise RequestError("target %r: want cuda or cpu" % (target,))
    if target == "cuda" and not torch.cuda.is_available():
        raise RequestError("target cuda: PyTorch %s sees no CUDA device on %s" % (torch.__version__, socket.gethostname()))
    if target == "cpu" and mode == "graph":
        raise RequestError("mode graph (CUDA graphs) needs target cuda; use mode eager on the CPU")
    if target == "cpu" and precision == "fp16":
        raise RequestError("precision fp16 needs target cuda (PyTorch has no fp16 convolutions on the CPU)")
    threads = req.get("threads", 0)
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        torch.set_num_threads(threads)
    seed = req.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RequestError("seed: want an integer")

    net = build(network, seed)
    r = network["resolution"]
    dtype = torch.float16 if precision == "fp16" else torch.float32
    dev = torch.device(target)
    net = net.to(device=dev, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, r, r, generator=gen).to(device=dev, dtype=dtype)
    if req.get("channels_last"):
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    try:
        with torch.no_grad():
            if target == "cpu":
                def one():
                    t0 = time.perf_counter()
                    net(x)
                    return (time.perf_counter() - t0) * 1e3
                samples = protocol_loop(one, warmup, repeat, max_repeat, spread)
                run_mode, device = "cpu-eager", "cpu: " + cpu_name()
            else:
                torch.backends.cudnn.benchmark = True
                run = lambda: net(x)  # noqa: E731
                graph = None
                if mode == "graph":
                    # Warm up on a side stream (cuDNN picks its kernels),
                    # then capture one forward and replay it.
                    s = torch.cuda.Stream()
                    s.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(s):
                        for _ in range(3):
                            net(x)
                    torch.cuda.current_stream().wait_stream(s)
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        net(x)
                    run = graph.replay
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)

                def one():
                    start.record()
                    run()
                    end.record()
                    end.synchronize()
                    return float(start.elapsed_time(end))
                samples = protocol_loop(one, warmup, repeat, max_repeat, spread)
                run_mode = "cuda-graph" if mode == "graph" else "cuda-eager"
                device = torch.cuda.get_device_name(dev)
                del graph
    finally:
        del net, x
        if target == "cuda":
            torch.cuda.empty_cache()
    if any(not math.isfinite(v) or v < 0 for v in samples):
        raise RequestError("timer returned a sample that is not a finite non-negative number")
    return {"samples_ms": samples, "warmup": warmup, "mode": run_mode, "device": device,
            "precision": precision, "batch": batch, "channels_last": bool(req.get("channels_last"))}


def handle(line):
    try:
        req = json.loads(line)
    except ValueError as e:
        return {"id": None, "error": "bad request (not JSON): %s" % e}
    if not isinstance(req, dict):
        return {"id": None, "error": "bad request: want a JSON object"}
    rid = req.get("id")
    try:
        if req.get("count"):
            out = count(req.get("network"))
        else:
            out = measure(req)
    except RequestError as e:
        return {"id": rid, "error": str(e)}
    except Exception as e:  # noqa: BLE001 - every failure is an answer
        if "out of memory" in str(e).lower() and torch.cuda.is_available():
            torch.cuda.empty_cache()
        log("request %r failed: %s: %s" % (rid, type(e).__name__, e))
        return {"id": rid, "error": "%s: %s" % (type(e).__name__, e)}
    out["id"] = rid
    return out


def main():
    if len(sys.argv) > 1:
        log("usage: %s (no arguments): speaks blockprof's agent protocol on stdin/stdout; see the module docstring" % sys.argv[0])
        sys.exit(2)
    if hasattr(torch, "set_flush_denormal"):
        torch.set_flush_denormal(True)  # denormal arithmetic would distort CPU timings
    send(hello())
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        if not line.strip():
            continue
        resp = handle(line)
        try:
            send(resp)
        except ValueError as e:  # a NaN or an unserialisable value
            send({"id": resp.get("id"), "error": "cannot encode the response: %s" % e})


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
