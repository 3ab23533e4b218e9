#!/usr/bin/python3
"""Draws the pruning sweep (artifacts/pruning-sweep.csv, written by tools/EdgeCompile.PruningSweep) as
docs/pruning-sweep.png: accuracy against weight bytes, one panel per fixture, one line per PruneMode x Quantize
(the Prune values along it, the unpruned build of that precision as its first point), with the issue's target
marked: a vertical line at the FP32 ONNX file's size / 8 and a horizontal line 2 points below ONNX Runtime's FP32
accuracy. Rows of artifacts/pruning-sweep-headline.csv (the sweep tool with --name pruning-sweep-headline and more
Prune values), when it exists, extend the lines they belong to. Run with Debian's python3-matplotlib:

    /usr/bin/python3 docs/plot_pruning_sweep.py [png [csv ...]]
"""
import csv
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLORS = {"None": "#1f77b4", "Int8": "#2ca02c", "Mixed": "#9467bd", "Int4": "#d62728", "Fp16": "#8c564b"}
STYLES = {"Structured": "-", "NM": "--", "Unstructured": ":"}
# INT8 and Mixed often coincide (Mixed keeps every layer at INT8 when that is within its error bound): INT8 is drawn
# as large hollow squares under Mixed's small dots so both stay visible.
MARKERS = {"None": ("o", 4.5, True), "Int8": ("s", 8, False), "Mixed": ("o", 3.5, True), "Int4": ("D", 4.5, True), "Fp16": ("v", 4.5, True)}
LABELS = {"None": "FP32", "Int8": "INT8", "Mixed": "Mixed", "Int4": "INT4", "Fp16": "FP16"}


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    dst = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "pruning-sweep.png")
    sources = sys.argv[2:] or [p for p in (os.path.join(ROOT, "artifacts", n) for n in ("pruning-sweep.csv", "pruning-sweep-headline.csv")) if os.path.exists(p)]
    rows = []
    seen = set()
    for src in sources:
        for r in read(src):
            key = (r["family"], r["prune"], r["mode"], r["quantize"])
            if key not in seen:
                seen.add(key)
                rows.append(r)
    families = list(dict.fromkeys(r["family"] for r in rows))
    cols = 3 if len(families) > 4 else min(2, len(families))
    nrows = math.ceil(len(families) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4.2 * nrows), squeeze=False)
    handles = {}
    for ax, family in zip(axes.flat, families):
        mine = [r for r in rows if r["family"] == family]
        onnx = int(mine[0]["onnx_bytes"])
        ort = 100 * float(mine[0]["ort_fp32_accuracy"])
        ok = [r for r in mine if r["status"] == "ok"]
        base = {r["quantize"]: r for r in ok if r["mode"] == "none"}
        lines = defaultdict(list)
        for r in ok:
            if r["mode"] != "none":
                lines[(r["mode"], r["quantize"])].append(r)
        for (mode, quant), points in sorted(lines.items()):
            points = ([base[quant]] if quant in base else []) + sorted(points, key=lambda r: float(r["prune"]))
            xs = [int(r["weight_bytes"]) / 1024 for r in points]
            ys = [100 * float(r["accuracy"]) for r in points]
            marker, size, filled = MARKERS.get(quant, ("x", 5, True))
            color = COLORS.get(quant, "gray")
            (h,) = ax.plot(xs, ys, STYLES.get(mode, "-."), marker=marker, color=color, lw=1.4, ms=size,
                           mfc=color if filled else "none", zorder=2 if filled else 1)
            handles[(mode, quant)] = h
            last = points[-1]
            if float(last["prune"]) > 0:
                ax.annotate(last["prune"], (xs[-1], ys[-1]), textcoords="offset points", xytext=(-4, 4), ha="right", fontsize=7, color=color)
        for r in ok:
            if r["meets_headline"] == "yes":
                ax.plot([int(r["weight_bytes"]) / 1024], [100 * float(r["accuracy"])], "*", color="gold", mec="black", mew=0.6, ms=13, zorder=3)
        # Quantized-only points with no pruned line (a precision swept without any available mode).
        for quant, r in base.items():
            if not any(q == quant for (_, q) in lines):
                ax.plot([int(r["weight_bytes"]) / 1024], [100 * float(r["accuracy"])], "o", color=COLORS.get(quant, "gray"))
        target = onnx / 8 / 1024
        ax.axvline(target, color="black", lw=1, ls="--")
        ax.axhline(ort - 2, color="black", lw=1, ls=":")
        ax.axhline(ort, color="gray", lw=0.8, ls="-", alpha=0.5)
        ax.set_xscale("log")
        xs_all = [int(r["weight_bytes"]) / 1024 for r in ok] + [target]
        ax.set_xlim(min(xs_all) / 1.15, max(xs_all) * 1.1)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 3, 5)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{family} (model.onnx {onnx / 1024:.0f} KiB, ORT FP32 {ort:.1f} %)", fontsize=10)
        ax.set_xlabel("weight bytes (KiB, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, which="both", alpha=0.25)
        ys_all = [100 * float(r["accuracy"]) for r in ok]
        low = min(ys_all + [ort - 2])
        ax.set_ylim(max(0, low - 3), min(100, max(ys_all + [ort]) + 1.5))
        ax.text(target, ax.get_ylim()[0], " 8× smaller", rotation=90, va="bottom", ha="right", fontsize=7)
        ax.text(ax.get_xlim()[1], ort - 2, "ORT FP32 − 2 points ", va="bottom", ha="right", fontsize=7)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    order = sorted(handles, key=lambda k: (list(STYLES).index(k[0]) if k[0] in STYLES else 9, list(COLORS).index(k[1]) if k[1] in COLORS else 9))
    legend = [handles[k] for k in order]
    names = [f"{mode} + {LABELS.get(quant, quant)}" for mode, quant in order]
    prunes = sorted({float(r["prune"]) for r in rows})
    title = ("Pruning sweep: test accuracy against weight bytes (plan interpreter, fixture test sets)\n"
             + "points along a line: Prune " + ", ".join(f"{p:g}" for p in prunes) + " right to left where run (label: the last); "
             + "dashed: 8× smaller than model.onnx; dotted: 2 points below ONNX Runtime FP32; ★: both met")
    fig.suptitle(title, fontsize=11)
    fig.legend(legend, names, loc="lower center", ncol=min(6, max(1, len(names))), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 0.92))
    fig.savefig(dst, dpi=110)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
