#!/usr/bin/python3
"""Turns dense_step_bench's JSON into the tables bench/run prints.

1. For every (element type, n): each path's median time per element, its
   bandwidth (true traffic: 20 bytes per f32 element, 40 per f64) and its
   speedup over the scalar reference measured in the same run.
2. The compute ceiling of each path (only the sqrt and the division, on L1
   data) beside the step at n = 4096: the ceiling's own speedup over the
   scalar ceiling is the most any exact kernel can show on this CPU, and the
   efficiency (ceiling time / step time) says how close the step gets.

Usage: report.py RESULTS.json [MARKDOWN_OUT]
"""
import json
import sys


def medians(results, family="dense_step"):
    """(dtype, isa, n) -> the median aggregate row of each benchmark."""
    rows = {}
    for b in results["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        parts = name.split("/")
        if len(parts) != 4 or parts[0] != family:
            continue
        _, dtype, isa, n = parts
        if "error_occurred" in b:
            continue
        rows[(dtype, isa, int(n))] = b
    return rows


ISA_ORDER = ["scalar", "sse2", "avx", "avx512f", "neon64"]


def isas_in(rows):
    isas = sorted({isa for (_, isa, _) in rows},
                  key=lambda i: ISA_ORDER.index(i) if i in ISA_ORDER else len(ISA_ORDER))
    return isas


def table(results):
    rows = medians(results)
    isas = isas_in(rows)
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


def ceiling_table(results, step_n=4096):
    steps = medians(results)
    ceilings = medians(results, "sqrt_div_ceiling")
    if not ceilings:
        return ""
    lines = ["| dtype | ISA | ceiling ns/element | ceiling speedup over scalar ceiling "
             "| step ns/element (n = %d) | step speedup over scalar | step efficiency |" % step_n,
             "|---|---|---:|---:|---:|---:|---:|"]
    for dtype in ("f32", "f64"):
        scalar_ceiling = next((r for (d, i, _), r in ceilings.items()
                               if d == dtype and i == "scalar"), None)
        scalar_step = steps.get((dtype, "scalar", step_n))
        for isa in isas_in(ceilings):
            ceiling = next((r for (d, i, _), r in ceilings.items() if d == dtype and i == isa), None)
            step = steps.get((dtype, isa, step_n))
            if ceiling is None or step is None or scalar_ceiling is None or scalar_step is None:
                continue
            lines.append("| %s | %s | %.3f | %.2fx | %.3f | %.2fx | %.2f |" % (
                dtype, isa, ceiling["ns_per_element"] * 1e9,
                scalar_ceiling["ns_per_element"] / ceiling["ns_per_element"],
                step["ns_per_element"] * 1e9,
                scalar_step["ns_per_element"] / step["ns_per_element"],
                ceiling["ns_per_element"] / step["ns_per_element"]))
    return "\n".join(lines)


def main():
    with open(sys.argv[1]) as f:
        results = json.load(f)
    ctx = results.get("context", {})
    repetitions = next((b.get("repetitions") for b in results["benchmarks"]), "?")
    header = "Host: %s, %s CPUs at %s MHz; active ISA %s; medians of %s repetitions" % (
        ctx.get("host_name", "?"), ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
        ctx.get("adagrad_active_isa", "?"), repetitions)
    text = header + "\n\nDense step:\n\n" + table(results) + "\n"
    ceilings = ceiling_table(results)
    if ceilings:
        text += "\nCompute ceiling (one sqrt and one division per element, L1 data):\n\n" + ceilings + "\n"
    print(text)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
