#!/usr/bin/python3
"""Turns dense_step_bench's JSON into the table bench/run prints.

For every (element type, n): each path's median time per element, its
bandwidth (true traffic: 20 bytes per f32 element, 40 per f64) and its
speedup over the scalar reference measured in the same run.

Usage: report.py RESULTS.json [MARKDOWN_OUT]
"""
import json
import sys


def medians(results):
    """(dtype, isa, n) -> the median aggregate row of each benchmark."""
    rows = {}
    for b in results["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        parts = name.split("/")
        if len(parts) != 4 or parts[0] != "dense_step":
            continue
        _, dtype, isa, n = parts
        if "error_occurred" in b:
            continue
        rows[(dtype, isa, int(n))] = b
    return rows


def table(results):
    rows = medians(results)
    isas = []
    for (_, isa, _) in rows:
        if isa not in isas:
            isas.append(isa)
    order = ["scalar", "sse2", "avx", "avx512f", "neon64"]
    isas.sort(key=lambda i: order.index(i) if i in order else len(order))
    lines = ["| dtype | n | ISA | ns/element | GB/s | speedup over scalar |",
             "|---|---:|---|---:|---:|---:|"]
    for dtype in ("f32", "f64"):
        sizes = sorted({n for (d, _, n) in rows if d == dtype})
        for n in sizes:
            scalar = rows.get((dtype, "scalar", n))
            for isa in isas:
                row = rows.get((dtype, isa, n))
                if row is None:
                    continue
                ns = row["ns_per_element"] * 1e9  # the counter is seconds per element
                gbps = row["bytes_per_second"] / 1e9
                speedup = (scalar["ns_per_element"] / row["ns_per_element"]) if scalar else float("nan")
                lines.append("| %s | %d | %s | %.3f | %.1f | %.2fx |" % (dtype, n, isa, ns, gbps, speedup))
    return "\n".join(lines)


def main():
    with open(sys.argv[1]) as f:
        results = json.load(f)
    ctx = results.get("context", {})
    header = "Host: %s, %s CPUs at %s MHz; active ISA %s; medians of %s repetitions" % (
        ctx.get("host_name", "?"), ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
        ctx.get("adagrad_active_isa", "?"), ctx.get("repetitions", "the"))
    text = header + "\n\n" + table(results) + "\n"
    print(text)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
