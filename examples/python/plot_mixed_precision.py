#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plots the loss curves written by examples/c/mixed_precision_training.c.

The C example trains a small MLP with AdaGrad on fp32 weights, on bf16
weights rounded to nearest-even and on bf16 weights rounded stochastically,
and writes the training loss of the three runs as CSV
(step,fp32,bf16_rne,bf16_sr). This script draws the three curves, the loss on
a log scale, into a PNG:

    build/examples/mixed_precision_training /tmp/mixed_precision.csv
    /usr/bin/python3 examples/python/plot_mixed_precision.py \\
        /tmp/mixed_precision.csv docs/mixed_precision.png

The CSV may also be the program's stdout (no argument, or "-"): reading stops
at the first line that is not a row of numbers, where the table begins.
Needs matplotlib (Debian's python3-matplotlib); draws with the Agg backend,
without a display.
"""

import argparse
import csv
import sys

# Column of the CSV -> label, line style, colour and width of its curve. fp32
# is drawn wide and stochastic rounding thin on top of it: the two nearly
# coincide, and both should stay visible.
SERIES = (
    ("fp32", "fp32 weights (adagrad_step)", "-", "tab:blue", 3.0),
    ("bf16_rne", "bf16 weights, round to nearest-even", "--", "tab:red", 1.6),
    ("bf16_sr", "bf16 weights, stochastic rounding", "-", "tab:green", 1.2),
)


def read_curves(path):
    """Returns (steps, {column: losses}) from the CSV at path ("-": stdin)."""
    stream = sys.stdin if path == "-" else open(path, newline="")
    try:
        rows = csv.reader(stream)
        header = next(rows)
        missing = [name for name in ("step",) + tuple(s[0] for s in SERIES) if name not in header]
        if missing:
            raise SystemExit(f"{path}: no column {', '.join(missing)} in the header {header}")
        steps, curves = [], {series[0]: [] for series in SERIES}
        for row in rows:
            try:
                values = {name: float(value) for name, value in zip(header, row)}
            except ValueError:
                break
            if len(values) != len(header):
                break
            steps.append(int(values["step"]))
            for name in curves:
                curves[name].append(values[name])
    finally:
        if stream is not sys.stdin:
            stream.close()
    if not steps:
        raise SystemExit(f"{path}: no rows")
    return steps, curves


def plot(steps, curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, label, style, color, width in SERIES:
        final = curves[name][-1]
        ax.plot(steps, curves[name], style, color=color, linewidth=width,
                label=f"{label}: {final:.4f} at step {steps[-1]}")
    # Log scale, labelled at 1, 2 and 5 times the powers of ten: the losses
    # span little more than one decade, where the default would label one tick.
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("AdaGrad step")
    ax.set_ylabel("training loss (mean log loss over the training set)")
    ax.set_title("AdaGrad on bf16 weights: nearest-even vs stochastic rounding\n"
                 "(examples/c/mixed_precision_training.c)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="CSV written by mixed_precision_training ('-': stdin)")
    parser.add_argument("png", help="PNG to write")
    args = parser.parse_args()
    steps, curves = read_curves(args.csv)
    plot(steps, curves, args.png)


if __name__ == "__main__":
    main()
