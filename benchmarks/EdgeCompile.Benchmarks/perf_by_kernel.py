#!/usr/bin/env python3
"""Where EdgeCompile's time goes, per kernel: groups the samples of `perf script` by the runtime kernel that the
generated model called (the frame right under the generated class's RunStepN), then by operator class (the classes
of BENCHMARKS.md's "Where the FP32 time goes" tables).

    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 perf record -F 499 -g -o perf.data \
        dotnet <bin>/EdgeCompile.Benchmarks.dll --loop <model> fp32 <calls>
    perf script -i perf.data | python3 benchmarks/EdgeCompile.Benchmarks/perf_by_kernel.py [--ms-per-call MS]

A sample counts for the model when some frame of its stack is a generated RunStep method; the frame just below it
(towards the leaf) names the kernel, e.g. `EdgeCompile.Runtime.Kernels::LayerNorm(...)`. Samples outside any RunStep
(setup, the JIT, the GC, other threads) are counted apart and left out of the shares. With --ms-per-call (the mean
that --loop printed) the shares are also shown as ms per call.
"""
import re
import sys
from collections import Counter

CLASSES = [
    ("dense/MatMul GEMMs", r"^(Dense|Gemm|MatMul|BatchMatMul|DensePacked|DenseInt|DenseHalf|DenseSparse|DenseWeight)"),
    ("attention", r"^Attention"),
    ("LayerNorm", r"^(LayerNorm|SkipLayerNorm|AddLayerNorm|RmsNorm|NoNorm)"),
    ("GELU", r"^(Gelu|Erf|BiasGelu)"),
    ("softmax", r"^Softmax"),
    ("add/residual/elementwise", r"^(Add|Sub|Mul|Div|Pow|Sqrt|ScaleShift|ChannelAffine|Where|Max|Min|Relu|Neg|Reciprocal|Binary|InvokeSpan)"),
    ("embeddings/gather", r"^(Gather|Embedding)"),
    ("conv", r"^(Conv|Im2Col|PatchEmbed)"),
    ("data movement", r"^(Copy|Transpose|Concat|Slice|Split|Expand|Reshape|Cast|Fill|Pad)"),
]


def kernel_name(frame):
    """`... EdgeCompile.Runtime.Kernels::LayerNorm(...)` / `[...] Kernels.LayerNorm` -> `LayerNorm`."""
    m = re.search(r"Kernels(?:::|\.)([A-Za-z0-9_]+)", frame)
    if m:
        return m.group(1)
    m = re.search(r"([A-Za-z0-9_]+)(?:\[[^\]]*\])?\(", frame)
    return m.group(1) if m else frame.strip()[:60]


def class_of(kernel):
    for name, pattern in CLASSES:
        if re.search(pattern, kernel):
            return name
    return "other"


def samples(lines):
    stack = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if stack:
                yield stack
            stack = []
        elif line.startswith((" ", "\t")):
            # "    7f12.. symbol (module)": keep the symbol.
            parts = line.strip().split(" ", 1)
            stack.append(parts[1] if len(parts) > 1 else parts[0])
        else:
            stack = []
    if stack:
        yield stack


def main():
    ms_per_call = None
    if "--ms-per-call" in sys.argv:
        ms_per_call = float(sys.argv[sys.argv.index("--ms-per-call") + 1])
    kernels, outside = Counter(), 0
    for stack in samples(sys.stdin):
        # stack[0] is the leaf; find the outermost RunStep frame's callee.
        step = next((i for i in range(len(stack) - 1, -1, -1) if re.search(r"::RunStep[0-9]+\(|\.RunStep[0-9]+", stack[i])), None)
        if step is None:
            outside += 1
            continue
        kernels[kernel_name(stack[step - 1]) if step > 0 else "(the generated code itself)"] += 1
    total = sum(kernels.values())
    if total == 0:
        print("no sample inside a generated RunStep method: was DOTNET_PerfMapEnabled=1 set?")
        return 1
    print(f"{total} samples in the generated model ({outside} outside it, left out)")
    scale = f"{'ms/call':>9}" if ms_per_call else ""
    print(f"{'kernel':<34} {'samples':>8} {'share':>7} {scale}")
    for k, n in kernels.most_common():
        ms = f"{n / total * ms_per_call:9.3f}" if ms_per_call else ""
        print(f"{k:<34} {n:8d} {n / total:7.1%} {ms}")
    groups = Counter()
    for k, n in kernels.items():
        groups[class_of(k)] += n
    print(f"{'operator class':<34} {'samples':>8} {'share':>7} {scale}")
    for g, n in groups.most_common():
        ms = f"{n / total * ms_per_call:9.3f}" if ms_per_call else ""
        print(f"{g:<34} {n:8d} {n / total:7.1%} {ms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
