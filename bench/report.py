#!/usr/bin/python3
"""Turns dense_step_bench's JSON into the report bench/run prints.

Every figure is a ratio of two rows measured in the same run, because these
machines are noisy and only ratios hold:

  efficiency  = (time the slower of the two limits needs for this n) / (time
                measured), with the limits of the same ISA: the memory
                roofline (roofline/<dtype>/<isa>/<n>: the step's exact traffic
                with trivial math, timed at the same n) and the compute
                ceiling (ceiling/<dtype>/<isa>/1024: one sqrt and one division
                per element on L1 data, times n). 1.00 means the step runs as
                fast as its own loads and stores, or as its own divider, allow.
  speedup     = scalar reference time / path time, same n.

Usage: report.py RESULTS.json [--markdown OUT.md] [--json OUT.json]
                 [--plot OUT.png] [--compare COMPARE.json]
"""
import argparse
import json
import math

ISA_ORDER = ["scalar", "sse2", "avx", "avx2", "avx512f", "neon64"]
BYTES_PER_ELEMENT = {"f32": 20, "f64": 40}
FOOTPRINT_PER_ELEMENT = {"f32": 12, "f64": 24}  # w, g and G resident


def medians(results):
    """name -> the median aggregate row (or the only row) of each benchmark."""
    rows = {}
    for b in results["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "error_occurred" in b:
            continue
        # Per-benchmark settings (".../min_time:1.000/...") are not part of
        # the name the tables look up.
        name = "/".join(part for part in b.get("run_name", b["name"]).split("/")
                        if not part.startswith("min_time:"))
        rows[name] = b
    return rows


def ns(row):
    """The ns_per_element counter is in seconds per element."""
    return row["ns_per_element"] * 1e9


def isa_key(isa):
    return ISA_ORDER.index(isa) if isa in ISA_ORDER else len(ISA_ORDER)


class Report:
    def __init__(self, results):
        self.results = results
        self.rows = medians(results)
        self.context = results.get("context", {})
        self.derived = []

    def get(self, name):
        return self.rows.get(name)

    def family(self, prefix):
        """(dtype, isa, n) -> row for names prefix/dtype/isa/n."""
        out = {}
        for name, row in self.rows.items():
            parts = name.split("/")
            if len(parts) == 4 and parts[0] == prefix:
                out[(parts[1], parts[2], int(parts[3]))] = row
        return out

    def limit_ns(self, dtype, isa, n):
        """Per-element time of the slower limit, or None."""
        roofline = self.get("roofline/%s/%s/%d" % (dtype, isa, n))
        ceiling = self.get("ceiling/%s/%s/1024" % (dtype, isa))
        if roofline is None or ceiling is None:
            return None
        return max(ns(roofline), ns(ceiling))

    def step_table(self):
        steps = self.family("dense_step")
        lines = ["| dtype | n | ISA | ns/element | GB/s | speedup over scalar | roofline ns/element "
                 "| efficiency |", "|---|---:|---|---:|---:|---:|---:|---:|"]
        for dtype in ("f32", "f64"):
            for n in sorted({n for (d, _, n) in steps if d == dtype}):
                scalar = steps.get((dtype, "scalar", n))
                for isa in sorted({i for (d, i, m) in steps if d == dtype and m == n}, key=isa_key):
                    row = steps[(dtype, isa, n)]
                    roofline = self.get("roofline/%s/%s/%d" % (dtype, isa, n))
                    limit = self.limit_ns(dtype, isa, n)
                    speedup = ns(scalar) / ns(row) if scalar else float("nan")
                    efficiency = limit / ns(row) if limit else float("nan")
                    self.derived.append({"table": "dense_step", "dtype": dtype, "isa": isa, "n": n,
                                         "ns_per_element": ns(row),
                                         "gb_per_s": row["bytes_per_second"] / 1e9,
                                         "speedup_over_scalar": speedup,
                                         "limit_ns_per_element": limit,
                                         "efficiency": efficiency})
                    lines.append("| %s | %d | %s | %.3f | %.1f | %.2fx | %s | %.2f |" % (
                        dtype, n, isa, ns(row), row["bytes_per_second"] / 1e9, speedup,
                        "%.3f" % ns(roofline) if roofline else "-", efficiency))
        return "\n".join(lines)

    def ceiling_table(self):
        ceilings = self.family("ceiling")
        lines = ["| dtype | ISA | ceiling ns/element | ceiling speedup over scalar ceiling |",
                 "|---|---|---:|---:|"]
        for dtype in ("f32", "f64"):
            scalar = ceilings.get((dtype, "scalar", 1024))
            for isa in sorted({i for (d, i, _) in ceilings if d == dtype}, key=isa_key):
                row = ceilings[(dtype, isa, 1024)]
                lines.append("| %s | %s | %.3f | %.2fx |" % (
                    dtype, isa, ns(row), ns(scalar) / ns(row) if scalar else float("nan")))
        return "\n".join(lines)

    def threads_table(self):
        active = self.context.get("adagrad_active_isa", "?")
        lines = ["| dtype | n | 1 thread ns/element | 2 threads ns/element | speedup "
                 "| 2-thread roofline ns/element | efficiency (2 threads) |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for dtype in ("f32", "f64"):
            ceiling = self.get("ceiling/%s/%s/1024" % (dtype, active))
            for n in (1 << 16, 1 << 20, 1 << 22, 1 << 24):
                one = self.get("threads/%s/%d/threads:1/real_time" % (dtype, n))
                two = self.get("threads/%s/%d/threads:2/real_time" % (dtype, n))
                roof = self.get("roofline_threads/%s/%d/threads:2/real_time" % (dtype, n))
                if not (one and two and roof and ceiling):
                    continue
                limit = max(ns(roof), ns(ceiling) / 2)
                self.derived.append({"table": "threads", "dtype": dtype, "n": n,
                                     "one_thread_ns_per_element": ns(one),
                                     "two_threads_ns_per_element": ns(two),
                                     "speedup": ns(one) / ns(two),
                                     "two_thread_limit_ns_per_element": limit,
                                     "efficiency": limit / ns(two)})
                lines.append("| %s | %d | %.3f | %.3f | %.2fx | %.3f | %.2f |" % (
                    dtype, n, ns(one), ns(two), ns(one) / ns(two), ns(roof), limit / ns(two)))
        return "\n".join(lines)

    def model_table(self):
        lines = ["| dtype | threads | multi-tensor ms | one flat buffer ms | multi / flat |",
                 "|---|---:|---:|---:|---:|"]
        for dtype in ("f32", "f64"):
            for threads in (1, 2):
                multi = self.get("model/%s/multi/threads:%d/real_time" % (dtype, threads))
                flat = self.get("model/%s/flat/threads:%d/real_time" % (dtype, threads))
                if not (multi and flat):
                    continue
                ratio = multi["real_time"] / flat["real_time"]
                self.derived.append({"table": "model", "dtype": dtype, "threads": threads,
                                     "tensors": multi.get("tensors"),
                                     "multi_ms": multi["real_time"], "flat_ms": flat["real_time"],
                                     "multi_over_flat": ratio})
                lines.append("| %s | %d | %.1f | %.1f | %.3f |" % (
                    dtype, threads, multi["real_time"], flat["real_time"], ratio))
        return "\n".join(lines)

    def call_table(self):
        lines = ["| dtype | n | dispatched ns/call | bare ukernel ns/call | dispatched / bare |",
                 "|---|---:|---:|---:|---:|"]
        for dtype in ("f32", "f64"):
            for n in (1, 4, 16, 64, 256):
                dispatched = self.get("call/%s/dispatched/%d" % (dtype, n))
                bare = self.get("call/%s/bare/%d" % (dtype, n))
                if not (dispatched and bare):
                    continue
                d_ns, b_ns = ns(dispatched) * n, ns(bare) * n
                self.derived.append({"table": "call", "dtype": dtype, "n": n,
                                     "dispatched_ns": d_ns, "bare_ns": b_ns, "ratio": d_ns / b_ns})
                lines.append("| %s | %d | %.2f | %.2f | %.2fx |" % (dtype, n, d_ns, b_ns, d_ns / b_ns))
        return "\n".join(lines)

    def plot(self, path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = self.family("dense_step")
        active = self.context.get("adagrad_active_isa", "?")
        fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=False)
        for ax, dtype in zip(axes, ("f32", "f64")):
            for isa in sorted({i for (d, i, _) in steps if d == dtype}, key=isa_key):
                sizes = sorted(n for (d, i, n) in steps if d == dtype and i == isa)
                ax.plot(sizes, [ns(steps[(dtype, isa, n)]) for n in sizes], marker="o",
                        label="step, %s" % isa)
            roof = self.family("roofline")
            sizes = sorted(n for (d, i, n) in roof if d == dtype and i == active)
            if sizes:
                ax.plot(sizes, [ns(roof[(dtype, active, n)]) for n in sizes], "k--",
                        label="memory roofline (%s)" % active)
            ceiling = self.get("ceiling/%s/%s/1024" % (dtype, active))
            if ceiling:
                ax.axhline(ns(ceiling), color="k", linestyle=":",
                           label="sqrt + div ceiling (%s)" % active)
            for key, label in (("cpuinfo_l1d_bytes", "L1d"), ("cpuinfo_l2_bytes", "L2"),
                               ("cpuinfo_l3_bytes", "L3")):
                if key in self.context:
                    n_fill = int(self.context[key]) / FOOTPRINT_PER_ELEMENT[dtype]
                    ax.axvline(n_fill, color="grey", alpha=0.4)
                    ax.text(n_fill, ax.get_ylim()[1] if ax.get_ylim()[1] > 0 else 1, " " + label,
                            color="grey", va="top", fontsize=8)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("n (elements; grey lines: w, g, G fill that cache)")
            ax.set_ylabel("ns per element")
            ax.set_title("dense AdaGrad step, %s" % dtype)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def compare_table(compare):
    lines = ["| dtype | n | implementation | ns/element | this library is faster by |",
             "|---|---:|---|---:|---:|"]
    rows = compare.get("results", [])
    ours = {(r["dtype"], r["n"]): r["ns_per_element"] for r in rows if r["implementation"] == "adagrad"}
    for r in sorted(rows, key=lambda r: (r["dtype"], r["n"], r["implementation"])):
        base = ours.get((r["dtype"], r["n"]))
        lines.append("| %s | %d | %s | %.3f | %s |" % (
            r["dtype"], r["n"], r["implementation"], r["ns_per_element"],
            "%.2fx" % (r["ns_per_element"] / base) if base else "-"))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--markdown")
    parser.add_argument("--json")
    parser.add_argument("--plot")
    parser.add_argument("--compare")
    args = parser.parse_args()
    with open(args.results) as f:
        report = Report(json.load(f))
    ctx = report.context
    repetitions = next((b.get("repetitions") for b in report.results["benchmarks"]), "?")
    sections = ["Host: %s, %s CPUs; active ISA %s; L1d %s, L2 %s, L3 %s bytes (cpuinfo); "
                "medians of %s repetitions" % (
                    ctx.get("host_name", "?"), ctx.get("num_cpus", "?"),
                    ctx.get("adagrad_active_isa", "?"), ctx.get("cpuinfo_l1d_bytes", "?"),
                    ctx.get("cpuinfo_l2_bytes", "?"), ctx.get("cpuinfo_l3_bytes", "?"), repetitions)]
    for title, table in (("Dense step, one thread", report.step_table()),
                         ("Compute ceiling: one sqrt and one division per element, L1 data",
                          report.ceiling_table()),
                         ("Threads (adagrad_step_parallel, pthreadpool)", report.threads_table()),
                         ("A whole model: BERT-base's parameter list (adagrad_step_multi) "
                          "against one flat buffer of the same size", report.model_table()),
                         ("Per-call cost", report.call_table())):
        if table.count("\n") > 1:
            sections.append("%s:\n\n%s" % (title, table))
    compare = None
    if args.compare:
        with open(args.compare) as f:
            compare = json.load(f)
        sections.append("Side by side, one thread (bench/compare.py):\n\n" + compare_table(compare))
    text = "\n\n".join(sections) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"context": ctx, "derived": report.derived,
                       "compare": compare}, out, indent=1)
    if args.plot:
        report.plot(args.plot)


if __name__ == "__main__":
    main()
