"""PyTorch's side of bench/peer.ts: reads workloads as JSON on stdin, prints median ms per workload as JSON.

Inputs are seeded normal tensors made on the device; timing uses CUDA events on 'cuda' (wall clock on 'cpu'),
after warm-up, as the median of `runs` runs. Run by peer.ts in the same script run as polygrad's side.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def build(w, device):
    g = torch.Generator(device="cpu").manual_seed(w["seed"])
    dt = {"f32": torch.float32, "f16": torch.float16}[w["dtype"]]
    x = [torch.randn(s, generator=g).to(device=device, dtype=dt) for s in w["shapes"]]
    kind = w["kind"]
    if kind == "matmul":
        return lambda: x[0] @ x[1]
    if kind == "conv2d":
        return lambda: F.conv2d(x[0], x[1], x[2], padding=1)
    if kind == "groupnorm_silu":
        return lambda: F.silu(F.group_norm(x[0], 32, x[1], x[2]))
    if kind == "attention":
        return lambda: F.softmax(x[0] @ x[1].transpose(-2, -1) / x[0].shape[-1] ** 0.5, -1) @ x[2]
    raise ValueError(kind)


def timed(f, device, runs):
    with torch.no_grad():
        for _ in range(3):
            f()
        out = []
        for _ in range(runs):
            if device == "cuda":
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                f()
                b.record()
                torch.cuda.synchronize()
                out.append(a.elapsed_time(b))
            else:
                t = time.perf_counter()
                f()
                out.append((time.perf_counter() - t) * 1000)
        return statistics.median(out)


def main():
    spec = json.load(sys.stdin)
    device = spec["device"]
    res = {w["name"]: timed(build(w, device), device, spec["runs"]) for w in spec["workloads"]}
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(json.dumps({"torch": torch.__version__, "device": name, "ms": res}))


main()
