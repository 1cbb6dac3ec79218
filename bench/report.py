#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
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

The sparse section (--sparse, from sparse_step_bench's JSON) is built the
same way; see bench/sparse_step_bench.cc for the definitions:

  traffic     = per unique row 16 * dim bytes (per-element state: table and
                state rows read and written) or 8 * dim + 8 (row-wise state),
                plus 4 * dim per index (its gradient row read); unique rows
                count once in both duplicate modes.
  efficiency  = (time of a sequential stream of the best ISA moving the same
                bytes with the same read/write mix, sparse_roofline/...) /
                (step time); both move the same bytes, so it is also the ratio
                of their GB/s.
  speedup     = scalar path time / dispatched time (dim 128); 1 thread time /
                2 threads time (there the fastest of the repetitions, since
                other processes only slow a two-core run down, and a warning
                when the roofline's own speedup shows a core was taken);
                per-element dense step time / row-wise dense step time;
                torch.optim.Adagrad's sparse step time / this library's
                (--compare).
  gather      = a diagnostic: the step's own rows visited in its own order
                with trivial arithmetic (sparse_gather/...), the most any
                kernel gets from these scattered rows on this CPU.

The report checks itself (class SelfCheck) and lists, at its top, every row
that measured something other than the kernel:

  re-timed    each row at n >= 2^22 (n: the last number in its name, or rows
              x dim), timed again alone in a fresh process after the complete
              run (bench/run: --retime-names lists them, --retime reads the
              results); a row whose two times differ by more than 25% is
              suspect (page faults, another process, a previous benchmark's
              state: the complete run and the lone run disagree). Each such
              row is timed alone once more (bench/run: --disagreeing-names
              lists them, --retime-again reads the results), and the list
              says how far the two lone runs are apart: where they too
              differ by more than 25%, the disagreement is within what this
              machine varies from one lone run to the next at that size,
              measured in the same run; the row stays marked.
  limit       a row slower than 1/3 of its own limit is suspect: the dense
              step (its ISA's roofline and ceiling), two threads, the other
              dense steps out of cache (n >= 2^22, where the memory roofline
              is their limit), the conversion and the per-ISA bf16 step
              there, the row-wise dense step, and the dispatched sparse steps
              against the gather limit of their own rows (their sequential
              stream is not a limit scattered rows can reach).

The embedding-bag section (--embedding-bag, from embedding_bag_bench's
JSON; see bench/embedding_bag_bench.cc):

  fused gain  = (time of materialising the gradient + the sparse step) /
                (time of the fused step), same case, same run.
  of stream   = (time of a sequential stream of the fused step's bytes,
                embedding_bag_stream/...) / (fused step time); target 0.5.
  of gather   = (time of the fastest prefetch form and distance of the gather
                kernel on the step's own rows, embedding_bag_gather/.../<form>:<D>) /
                (fused step time); target 0.9, where the stream's is missed.
  threads     = 1 thread time / 2 threads time on a table in cache
                (embedding_bag_threads/...); target 1.7.
  speed kept  = quiet time / time beside a process streaming over 1 GiB
                (embedding_bag_loaded/.../neighbour:<none|stream>); target 0.8;
                also by the step's CPU time, which leaves out the time the
                neighbour took the step's CPU on a machine with more runnable
                threads than CPUs.
  huge pages  = the table's and state's bytes on transparent huge pages, as
                /proc/self/smaps reported them (what the row got).

Usage: report.py RESULTS.json [--dispatch DISPATCH.json] [--sparse SPARSE.json]
                 [--variants VARIANTS.json] [--embedding-bag EMBEDDING_BAG.json]
                 [--retime RETIMED.json ...] [--retime-again AGAIN.json ...]
                 [--markdown OUT.md] [--json OUT.json]
                 [--plot OUT.png] [--compare COMPARE.json] [--torch TORCH.json]
                 [--embedding-torch EMBEDDING_TORCH.json] [--emulated WHY]
         --torch, --embedding-torch: bench/torch_bench.py's and
                 bench/embedding_torch_bench.py's JSON (bench/run --compare),
                 their tables made by bench/report_torch.py.
         --emulated: the binaries ran under an emulator (the benchmark
                 bundle's run script detects it, bench/bundle): WHY goes at
                 the top of the report, which then says its figures mean
                 nothing. Without matplotlib the plot is skipped and the
                 report says so; the JSON and the markdown are complete.
       report.py --retime-names SUITE.json   the rows to time again, one
                 anchored filter (^name$) a line
       report.py --disagreeing-names SUITE.json --retime RETIMED.json ...
                 the rows whose lone run disagrees, to time alone again
"""
import argparse
import collections
import json
import math
import os
import re

from report_dispatch import dispatch_section
from report_torch import embedding_tables, torch_tables


def isa_order():
    """ISA names in the order of the one ISA list, include/adagrad/isa_list.h
    (the scalar reference first); without the source tree, scalar alone (the
    others then keep the order they came in, after it)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "include",
                        "adagrad", "isa_list.h")
    try:
        with open(path) as isa_list:
            return ["scalar"] + re.findall(r"^ADAGRAD_ISA_ENTRY\(\w+, *\d+, *(\w+),",
                                           isa_list.read(), re.M)
    except OSError:
        return ["scalar"]


ISA_ORDER = isa_order()
BYTES_PER_ELEMENT = {"f32": 20, "f64": 40}
FOOTPRINT_PER_ELEMENT = {"f32": 12, "f64": 24}  # w, g and G resident
# The context keys of bench/cache_context.h.
CACHE_LEVELS = (("l1d_cache_bytes", "L1d"), ("l2_cache_bytes", "L2"), ("l3_cache_bytes", "L3"))


def medians(results):
    """name -> the median aggregate row (or the only row) of each benchmark."""
    rows = {}
    for b in results["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "error_occurred" in b:
            continue
        rows[base_name(b)] = b
    return rows


def base_name(b):
    """The name the tables look up: per-benchmark settings
    (".../min_time:1.000/...", ".../repeats:10/...") are not part of it."""
    return "/".join(part for part in b.get("run_name", b["name"]).split("/")
                    if not part.startswith(("min_time:", "repeats:")))


def ns(row):
    """The ns_per_element counter is in seconds per element."""
    return row["ns_per_element"] * 1e9


def isa_key(isa):
    return ISA_ORDER.index(isa) if isa in ISA_ORDER else len(ISA_ORDER)


def real_ns(row):
    """A row's wall time per iteration in ns."""
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[row.get("time_unit", "ns")]
    return row["real_time"] * scale


def fmt_time(t_ns):
    for unit, scale in (("ms", 1e6), ("us", 1e3)):
        if t_ns >= scale:
            return "%.3g %s" % (t_ns / scale, unit)
    return "%.3g ns" % t_ns


RETIME_MIN_N = 1 << 22
RETIME_TOLERANCE = 0.25  # |complete run / alone - 1| above this: suspect
LIMIT_FACTOR = 3         # slower than its own limit by more than this: suspect


def row_size(name, row):
    """The n a row steps: the last number in its name (dense_step/f32/avx2/<n>,
    threads/f32/<n>/threads:2/real_time, variant_roofline/<bytes>/<n>), else
    rows x dim (rowwise_vs_dense/...); None for rows of no single n (model/...;
    the sparse steps' last number is their dim, far below 2^22)."""
    for part in reversed(name.split("/")):
        if part.isdigit():
            return int(part)
    if "rows" in row and "dim" in row:
        return int(row["rows"] * row["dim"])
    return None


def retime_names(results):
    """Base names of the rows of one suite's results to time again alone."""
    return [name for name, row in medians(results).items()
            if (row_size(name, row) or 0) >= RETIME_MIN_N]


def disagreeing_names(results, retimed):
    """Base names of the rows of one suite whose complete-run and lone times
    differ by more than RETIME_TOLERANCE: the rows to time alone again."""
    names = []
    for name in retime_names(results):
        row, alone = medians(results)[name], (retimed or {}).get(name)
        if alone is not None and abs(real_ns(row) / real_ns(alone) - 1) > RETIME_TOLERANCE:
            names.append(name)
    return names


def anchored_filter(name):
    """A --benchmark_filter matching exactly the row name (and the
    per-benchmark settings base_name drops)."""
    return "^%s(/min_time:[0-9.]+|/repeats:[0-9]+)*$" % re.escape(name)


def huge_page_shares(row, alone):
    """The rows' huge_pages counters (bench/harness.h count_huge_pages),
    when both have one: the page size each run got, a cause of disagreement
    the times alone cannot show."""
    if "huge_pages" not in row or "huge_pages" not in alone:
        return ""
    return "; on huge pages: %.0f%% of its buffers in the complete run, %.0f%% alone" % (
        100 * row["huge_pages"], 100 * alone["huge_pages"])


class SelfCheck:
    """Collects the suspect rows of every table (see the top of this file).
    retimed: name -> the median row of the same benchmark run alone, or None
    when there was no re-timing pass (a filtered or an old run)."""

    def __init__(self, retimed, retimed_again=None):
        self.retimed = retimed
        self.retimed_again = retimed_again or {}
        self.lone_spread = []  # suspect rows whose two lone runs disagree too
        self.suspects = collections.OrderedDict()  # name -> reasons
        self.compared = 0

    def flag(self, name, reason):
        self.suspects.setdefault(name, []).append(reason)

    def compare(self, rows):
        """Every row of one suite at n >= 2^22 against its lone run."""
        if self.retimed is None:
            return
        for name, row in rows.items():
            if (row_size(name, row) or 0) < RETIME_MIN_N:
                continue
            alone = self.retimed.get(name)
            if alone is None:
                self.flag(name, "not re-timed alone (no result from the lone run)")
                continue
            self.compared += 1
            change = real_ns(row) / real_ns(alone) - 1
            if abs(change) > RETIME_TOLERANCE:
                self.flag(name, "%s in the complete run, %s alone in a fresh process (%+.0f%%)%s%s" % (
                    fmt_time(real_ns(row)), fmt_time(real_ns(alone)), 100 * change,
                    huge_page_shares(row, alone), self.alone_again(name, alone)))

    def alone_again(self, name, alone):
        """The second lone run of a disagreeing row, against the first."""
        again = self.retimed_again.get(name)
        if again is None:
            return ""
        spread = real_ns(again) / real_ns(alone) - 1
        if abs(spread) > RETIME_TOLERANCE:
            self.lone_spread.append(name)
        return "; alone again: %s (%+.0f%% from the first lone run)" % (
            fmt_time(real_ns(again)), 100 * spread)

    def limit(self, name, efficiency, limit_name):
        """efficiency = the row's own limit's time / the row's time."""
        if efficiency is not None and not math.isnan(efficiency) and \
                efficiency < 1.0 / LIMIT_FACTOR:
            self.flag(name, "efficiency %.2f: more than %dx slower than its limit (%s)" % (
                efficiency, LIMIT_FACTOR, limit_name))

    def mark(self, *names):
        """The marker a table row gets when any row it is computed from is
        suspect."""
        return " **(suspect)**" if any(n in self.suspects for n in names) else ""

    def section(self):
        if self.suspects:
            lines = ["Suspect rows: %d, marked (suspect) in the tables below; their figures "
                     "measure something other than the kernel until a run clears them:" %
                     len(self.suspects), ""]
            if self.retimed_again:
                lines[0] += (" (%d of the %d rows timed alone twice differ between their two lone "
                             "runs by more than %d%% as well: at those sizes this machine varies "
                             "that much from one lone run to the next)" % (
                                 len(self.lone_spread), len(self.retimed_again),
                                 100 * RETIME_TOLERANCE))
            lines += ["- `%s`: %s" % (name, "; ".join(reasons))
                      for name, reasons in self.suspects.items()]
            return "\n".join(lines)
        if self.retimed is None:
            return ("Self-check: no row is more than %dx slower than its own limit; rows were "
                    "not re-timed alone (no --retime)." % LIMIT_FACTOR)
        return ("Self-check: each of the %d rows at n >= 2^22 agrees within %d%% with the same "
                "row run alone in a fresh process, and no row is more than %dx slower than its "
                "own limit." % (self.compared, 100 * RETIME_TOLERANCE, LIMIT_FACTOR))


class Report:
    def __init__(self, results, check):
        self.results = results
        self.rows = medians(results)
        self.context = results.get("context", {})
        self.derived = []
        self.check = check

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
                    name = "dense_step/%s/%s/%d" % (dtype, isa, n)
                    limit_names = ("roofline/%s/%s/%d" % (dtype, isa, n),
                                   "ceiling/%s/%s/1024" % (dtype, isa))
                    self.check.limit(name, efficiency, " and ".join(limit_names))
                    self.derived.append({"table": "dense_step", "dtype": dtype, "isa": isa, "n": n,
                                         "ns_per_element": ns(row),
                                         "gb_per_s": row["bytes_per_second"] / 1e9,
                                         "speedup_over_scalar": speedup,
                                         "limit_ns_per_element": limit,
                                         "efficiency": efficiency})
                    lines.append("| %s | %d | %s | %.3f | %.1f | %.2fx | %s | %.2f |" % (
                        dtype + self.check.mark(name, *limit_names), n, isa, ns(row), row["bytes_per_second"] / 1e9, speedup,
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

    def under_load_table(self):
        """2 threads against 1 with 0, 1 and 2 spinning processes beside the
        step: the library's pool against the same chunks on pthreadpool."""
        lines = ["| busy processes | pool | 1 thread ms | 2 threads ms | 2 threads / 1 thread |",
                 "|---:|---|---:|---:|---:|"]
        n = 1 << 20
        for busy in (0, 1, 2):
            for pool in ("adagrad", "pthreadpool"):
                names = ["parallel_under_load/%s/%d/threads:%d/busy:%d/real_time" % (pool, n, t, busy)
                         for t in (1, 2)]
                one, two = (self.get(name) for name in names)
                if not (one and two):
                    continue
                one_ms, two_ms = real_ns(one) / 1e6, real_ns(two) / 1e6
                self.derived.append({"table": "parallel_under_load", "pool": pool, "busy": busy,
                                     "n": n, "one_thread_ms": one_ms, "two_threads_ms": two_ms,
                                     "speedup": one_ms / two_ms})
                lines.append("| %d%s | %s | %.3f | %.3f | %.2fx |" % (
                    busy, self.check.mark(*names), pool, one_ms, two_ms, one_ms / two_ms))
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
                names = ["%s/%s/%d/threads:%d/real_time" % (kind, dtype, n, t)
                         for kind in ("threads", "roofline_threads") for t in (1, 2)]
                self.check.limit(names[1], limit / ns(two),
                                 "%s and ceiling/%s/%s/1024 / 2" % (names[3], dtype, active))
                self.derived.append({"table": "threads", "dtype": dtype, "n": n,
                                     "one_thread_ns_per_element": ns(one),
                                     "two_threads_ns_per_element": ns(two),
                                     "speedup": ns(one) / ns(two),
                                     "two_thread_limit_ns_per_element": limit,
                                     "efficiency": limit / ns(two)})
                lines.append("| %s | %d | %.3f | %.3f | %.2fx | %.3f | %.2f |" % (
                    dtype + self.check.mark(*names), n, ns(one), ns(two), ns(one) / ns(two), ns(roof), limit / ns(two)))
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

    def plot(self, path, emulated=False):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from matplotlib.lines import Line2D

        steps = self.family("dense_step")
        roof = self.family("roofline")
        fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=False)
        for ax, dtype in zip(axes, ("f32", "f64")):
            # Every ISA's own limits in its step's colour: a faster ISA
            # cannot hide below another ISA's ceiling.
            for isa in sorted({i for (d, i, _) in steps if d == dtype}, key=isa_key):
                sizes = sorted(n for (d, i, n) in steps if d == dtype and i == isa)
                (line,) = ax.plot(sizes, [ns(steps[(dtype, isa, n)]) for n in sizes], marker="o",
                                  label="step, %s" % isa)
                roof_sizes = sorted(n for (d, i, n) in roof if d == dtype and i == isa)
                if roof_sizes:
                    ax.plot(roof_sizes, [ns(roof[(dtype, isa, n)]) for n in roof_sizes], "--",
                            color=line.get_color(), linewidth=1)
                ceiling = self.get("ceiling/%s/%s/1024" % (dtype, isa))
                if ceiling:
                    ax.axhline(ns(ceiling), color=line.get_color(), linestyle=":", linewidth=1)
            unknown = []
            for key, label in CACHE_LEVELS:
                if key not in self.context:
                    unknown.append(label)
                    continue
                n_fill = int(self.context[key]) / FOOTPRINT_PER_ELEMENT[dtype]
                ax.axvline(n_fill, color="grey", alpha=0.4)
                ax.text(n_fill, ax.get_ylim()[1] if ax.get_ylim()[1] > 0 else 1, " " + label,
                        color="grey", va="top", fontsize=8)
            if unknown:
                ax.text(0.01, 0.01, "cache sizes unknown: %s" % ", ".join(unknown),
                        transform=ax.transAxes, color="grey", fontsize=8)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("n (elements; grey lines: w, g, G fill that cache)")
            ax.set_ylabel("ns per element")
            ax.set_title("dense AdaGrad step, %s" % dtype)
            ax.grid(True, which="both", alpha=0.3)
            handles, _ = ax.get_legend_handles_labels()
            handles += [Line2D([], [], color="k", linestyle="--", label="memory roofline (same ISA)"),
                        Line2D([], [], color="k", linestyle=":", label="sqrt + div ceiling (same ISA)")]
            ax.legend(handles=handles, fontsize=8)
        if emulated:
            # The plot travels without the report: it says so itself.
            fig.suptitle("EMULATED: these times are the emulator's and mean nothing",
                         color="red")
        fig.tight_layout()
        fig.savefig(path, dpi=110)


class SparseReport:
    """The sparse section, from sparse_step_bench's JSON."""

    STATES = (("elem", "per-element"), ("rowwise", "row-wise"))
    DUPS = (("sum", "SUM"), ("seq", "SEQUENTIAL"), ("torch", "TORCH"))

    def __init__(self, results, check):
        self.results = results
        self.rows = medians(results)
        self.context = results.get("context", {})
        self.derived = []
        self.check = check

    def get(self, name):
        return self.rows.get(name)

    def step_table(self):
        steps = {}
        for name, row in self.rows.items():
            parts = name.split("/")
            if len(parts) == 6 and parts[0] == "sparse":
                steps[tuple(parts[1:5]) + (int(parts[5]),)] = row
        if not steps:
            return ""
        lines = ["| state | duplicates | dim | distribution | unique rows | ISA | ns/index "
                 "| M indices/s | GB/s | roofline GB/s | efficiency | gather GB/s | of gather "
                 "| speedup over scalar |",
                 "|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        ceiling = self.ceiling()
        isas = sorted({k[2] for k in steps}, key=lambda i: (i == "scalar", isa_key(i)))
        for state, state_label in self.STATES:
            for dup, dup_label in self.DUPS:
                for dim in sorted({k[4] for k in steps}):
                    for dist in ("uniform", "zipf"):
                        roofline = self.get("sparse_roofline/%s/%s/%d" % (state, dist, dim))
                        gather = self.get("sparse_gather/%s/%s/%d" % (state, dist, dim))
                        scalar = steps.get((state, dup, "scalar", dist, dim))
                        for isa in isas:
                            row = steps.get((state, dup, isa, dist, dim))
                            if row is None:
                                continue
                            gbs = row["bytes_per_second"] / 1e9
                            roof_gbs = roofline["bytes_per_second"] / 1e9 if roofline else None
                            efficiency = gbs / roof_gbs if roof_gbs else float("nan")
                            gather_gbs = gather["bytes_per_second"] / 1e9 if gather else None
                            # sqrt + div per element updated: every element of
                            # each unique row (SUM) or of each occurrence
                            # (SEQUENTIAL); one per row update row-wise.
                            updates = row["indices"] if dup == "seq" else row["unique_rows"]
                            per_update = 1 if state == "rowwise" else dim
                            sqrt_div_ms = (ns(ceiling) * updates * per_update / 1e6
                                           if ceiling else None)
                            speedup = (ns_index(scalar) / ns_index(row)
                                       if scalar is not None and isa != "scalar" else None)
                            name = "sparse/%s/%s/%s/%s/%d" % (state, dup, isa, dist, dim)
                            gather_name = "sparse_gather/%s/%s/%d" % (state, dist, dim)
                            # The gather kernel runs on the best ISA, as the
                            # dispatched step does: the scalar path's limit
                            # is a scalar gather, not measured.
                            if isa != "scalar" and gather_gbs:
                                self.check.limit(name, gbs / gather_gbs, gather_name)
                            self.derived.append({
                                "table": "sparse_step", "state": state, "duplicates": dup,
                                "dim": dim, "distribution": dist, "isa": isa,
                                "unique_rows": int(row["unique_rows"]),
                                "indices": int(row["indices"]),
                                "bytes_per_step": row["bytes_per_step"],
                                "ns_per_index": ns_index(row),
                                "m_indices_per_s": 1e3 / ns_index(row),
                                "gb_per_s": gbs, "roofline_gb_per_s": roof_gbs,
                                "efficiency": efficiency,
                                "ms_per_step": step_ms(row),
                                "roofline_ms_per_step": step_ms(roofline) if roofline else None,
                                "gather_gb_per_s": gather_gbs,
                                "fraction_of_gather": gbs / gather_gbs if gather_gbs else None,
                                "sqrt_div_ceiling_ms": sqrt_div_ms,
                                "speedup_over_scalar": speedup})
                            lines.append("| %s | %s | %d | %s | %d | %s | %.1f | %.2f | %.2f | %s "
                                         "| %.2f | %s | %s | %s |" % (
                                             state_label + self.check.mark(name, gather_name),
                                             dup_label, dim, dist,
                                             int(row["unique_rows"]), isa, ns_index(row),
                                             1e3 / ns_index(row), gbs,
                                             "%.2f" % roof_gbs if roof_gbs else "-", efficiency,
                                             "%.2f" % gather_gbs if gather_gbs else "-",
                                             "%.2f" % (gbs / gather_gbs) if gather_gbs else "-",
                                             "%.2fx" % speedup if speedup else "-"))
        note = self.ceiling_note(ceiling)
        if note:
            lines += ["", note]
        return "\n".join(lines)

    def ceiling(self):
        """The sqrt + div ceiling row of the roofline's ISA, or None."""
        return self.get("ceiling/f32/%s/1024" % self.context.get("roofline_isa", "?"))

    def ceiling_note(self, ceiling):
        """One line putting the arithmetic alone next to the memory roofline."""
        roofline = self.get("sparse_roofline/elem/uniform/128")
        step = self.get("sparse/elem/sum/%s/uniform/128"
                        % self.context.get("adagrad_active_wide_isa"))
        if not (ceiling and roofline and step):
            return ""
        sqrt_div_ms = ns(ceiling) * step["unique_rows"] * 128 / 1e6
        return ("Arithmetic alone (ceiling/f32/%s/1024: one sqrt and one division per element on "
                "L1 data, %.3f ns/element): %.2f ms of the per-element SUM step at dim 128, "
                "uniform (%.2f ms/step), whose memory roofline is %.2f ms. gather = the same rows "
                "in the step's order with trivial arithmetic (sparse_gather/...): what this CPU "
                "gives any kernel on these scattered rows; of gather = step GB/s / gather GB/s." % (
                    self.context.get("roofline_isa", "?"), ns(ceiling), sqrt_div_ms,
                    step_ms(step), step_ms(roofline)))

    def minimum(self, name):
        """The "min" aggregate of a benchmark (the fastest repetition), or its
        median row when it has none."""
        for b in self.results["benchmarks"]:
            if b.get("aggregate_name") == "min" and base_name(b) == name:
                return b
        return self.get(name)

    def threads_table(self):
        lines = ["| state | duplicates | 1 thread ms/step | 2 threads ms/step | speedup "
                 "| roofline speedup | efficiency 1 thread | efficiency 2 threads |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]
        self.threads_disturbed = False
        for state, state_label in self.STATES:
            roof = [self.minimum("sparse_roofline_threads/%s/threads:%d/real_time" % (state, t))
                    for t in (1, 2)]
            for dup, dup_label in self.DUPS:
                one, two = (self.minimum("sparse_threads/%s/%s/threads:%d/real_time"
                                         % (state, dup, t)) for t in (1, 2))
                if not (one and two and all(roof)):
                    continue
                ms = [step_ms(one), step_ms(two)]
                roof_ms = [step_ms(r) for r in roof]
                entry = {"table": "sparse_threads", "state": state, "duplicates": dup,
                         "rows": int(self.context.get("sparse_threads_table_rows", 0)),
                         "dim": int(one["dim"]), "unique_rows": int(one["unique_rows"]),
                         "one_thread_ms": ms[0], "two_threads_ms": ms[1],
                         "speedup": ms[0] / ms[1],
                         "roofline_one_thread_ms": roof_ms[0],
                         "roofline_two_threads_ms": roof_ms[1],
                         "roofline_speedup": roof_ms[0] / roof_ms[1],
                         "efficiency_one_thread": roof_ms[0] / ms[0],
                         "efficiency_two_threads": roof_ms[1] / ms[1],
                         "statistic": "min"}
                # A streaming kernel split over two cores that gains less than
                # 1.5x had a core taken by another process during the run.
                self.threads_disturbed |= entry["roofline_speedup"] < 1.5
                self.derived.append(entry)
                lines.append("| %s | %s | %.3f | %.3f | %.2fx | %.2fx | %.2f | %.2f |" % (
                    state_label, dup_label, ms[0], ms[1], entry["speedup"],
                    entry["roofline_speedup"], entry["efficiency_one_thread"],
                    entry["efficiency_two_threads"]))
        return "\n".join(lines)

    def rowwise_dense_table(self):
        names = {k: self.get("rowwise_vs_dense/" + k)
                 for k in ("rowwise", "dense", "rowwise_roofline", "dense_roofline")}
        if not (names["rowwise"] and names["dense"]):
            return ""
        lines = ["| step | bytes/element | ms/step | ns/element | GB/s | roofline GB/s | efficiency "
                 "| speedup over the per-element step |",
                 "|---|---:|---:|---:|---:|---:|---:|---:|"]
        dense_ns = ns(names["dense"])
        for key, label, roof_key in (("dense", "adagrad_step (per-element state)",
                                      "dense_roofline"),
                                     ("rowwise", "adagrad_rowwise_step (row-wise state)",
                                      "rowwise_roofline")):
            row = names[key]
            roof = names[roof_key]
            n = int(row["rows"] * row["dim"])
            gbs = row["bytes_per_second"] / 1e9
            roof_gbs = roof["bytes_per_second"] / 1e9 if roof else None
            entry = {"table": "rowwise_vs_dense", "step": key, "rows": int(row["rows"]),
                     "dim": int(row["dim"]), "elements": n,
                     "bytes_per_element": row["bytes_per_second"] / row["items_per_second"],
                     "ms_per_step": ns(row) * n / 1e6, "ns_per_element": ns(row),
                     "gb_per_s": gbs, "roofline_gb_per_s": roof_gbs,
                     "efficiency": gbs / roof_gbs if roof_gbs else None,
                     "speedup_over_dense": dense_ns / ns(row)}
            if roof and names["dense_roofline"]:
                entry["roofline_speedup_over_dense"] = ns(names["dense_roofline"]) / ns(roof)
            self.derived.append(entry)
            self.check.limit("rowwise_vs_dense/" + key, entry["efficiency"],
                             "rowwise_vs_dense/" + roof_key)
            lines.append("| %s | %.2f | %.2f | %.3f | %.2f | %s | %s | %.2fx |" % (
                label + self.check.mark("rowwise_vs_dense/" + key, "rowwise_vs_dense/" + roof_key), entry["bytes_per_element"], entry["ms_per_step"], ns(row), gbs,
                "%.2f" % roof_gbs if roof_gbs else "-",
                "%.2f" % entry["efficiency"] if roof_gbs else "-", entry["speedup_over_dense"]))
        if names["rowwise_roofline"] and names["dense_roofline"]:
            lines.append("")
            lines.append("The two rooflines' own ratio (the most a memory-bound row-wise step "
                         "can gain here): %.2fx." % (
                             ns(names["dense_roofline"]) / ns(names["rowwise_roofline"])))
        return "\n".join(lines)

    def sections(self):
        ctx = self.context
        out = []
        table = self.step_table()
        if table:
            out.append(("Embedding tables, one thread: a batch of %s int64 indices on a table of "
                        "%s rows (f32; Zipf s = %s, ranks scattered by a fixed permutation); "
                        "traffic per step = 16*dim bytes (per-element state) or 8*dim + 8 "
                        "(row-wise) per unique row + 4*dim per index; efficiency = time of a "
                        "sequential %s stream of the same bytes and read/write mix / step time"
                        % (ctx.get("sparse_batch", "?"), ctx.get("sparse_table_rows", "?"),
                           ctx.get("sparse_zipf_exponent", "?"), ctx.get("roofline_isa", "?")),
                        table))
        table = self.threads_table()
        if table.count("\n") > 1:
            if self.threads_disturbed:
                table += ("\n\nWARNING: the roofline itself gained less than 1.5x from the second "
                          "thread: another process held a core during this measurement, so the "
                          "thread speedups above say nothing about the library. Run again on an "
                          "idle machine (bench/run --benchmark_filter=threads).")
            out.append(("Embedding tables, threads: %s rows x %s (table and state stay in the "
                        "last-level cache), the uniform batch, adagrad_pool of 1 and 2 threads, "
                        "wall time, the fastest of each benchmark's repetitions (other processes "
                        "only slow a run down)" % (ctx.get("sparse_threads_table_rows", "?"),
                                                   ctx.get("sparse_threads_dim", "?")), table))
        table = self.rowwise_dense_table()
        if table:
            out.append(("Row-wise dense step against the per-element dense step, 2^24 floats "
                        "(131072 rows x 128), one thread", table))
        return out


class VariantReport:
    """The proximal, dual-averaging and mixed-precision steps, from
    variant_step_bench's JSON: variant/<step>/<n>,
    variant_isa/<step>/<isa>/<n> and variant_roofline/<bytes>/<n>."""

    def __init__(self, results, check):
        self.rows = medians(results)
        self.derived = []
        self.check = check

    def efficiency(self, name, row, n, isa=None):
        """The roofline moving the row's bytes per element / the row's time,
        and the roofline's name. Checked against the limit out of cache only,
        and for a per-ISA row only on the roofline's ISA or a wider one: on a
        narrower one (sse2 and avx here) the bf16 kernels are bound by their
        arithmetic, a limit not measured."""
        roof_name = "variant_roofline/%d/%d" % (row.get("bytes_per_element", 0), n)
        roof = self.rows.get(roof_name)
        efficiency = real_ns(roof) / real_ns(row) if roof else None
        if n >= RETIME_MIN_N and (isa is None or roof is None or
                                  isa_key(isa) >= isa_key(roof.get("label", ""))):
            self.check.limit(name, efficiency, roof_name)
        return efficiency, roof_name

    def table(self):
        steps = {}
        for name, row in self.rows.items():
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "variant":
                steps[(parts[1], int(parts[2]))] = row
        if not steps:
            return ""
        lines = ["| step | n | ISA | bytes/elem | ns/elem | GB/s | efficiency "
                 "| speedup over f32 step |",
                 "|---|---|---|---|---|---|---|---|"]
        order = ["dense_f32", "proximal_f32", "proximal_f64", "da_f32", "mixed_bf16",
                 "mixed_f16", "mixed_bf16_sr", "master_bf16_copy", "dense_then_convert_bf16"]
        for (step, n) in sorted(steps, key=lambda k: (k[1], order.index(k[0])
                                                     if k[0] in order else 99)):
            row = steps[(step, n)]
            t = real_ns(row)
            per_element = row.get("bytes_per_element", 0)
            name = "variant/%s/%d" % (step, n)
            efficiency, roof_name = self.efficiency(name, row, n)
            dense = steps.get(("dense_f32", n))
            speedup = real_ns(dense) / t if dense else None
            isa = row.get("label", "?")
            self.derived.append({"step": step, "n": n, "isa": isa,
                                 "bytes_per_element": per_element,
                                 "ns_per_element": t / n, "efficiency": efficiency,
                                 "speedup_over_f32_step": speedup})
            lines.append("| %s | %d | %s | %d | %.3f | %.1f | %s | %s |" % (
                step + self.check.mark(name, roof_name), n, isa, per_element, t / n, per_element * n / t,
                "%.2f" % efficiency if efficiency else "-",
                "%.2fx" % speedup if speedup else "-"))
        return "\n".join(lines)

    def isa_table(self):
        """The bf16 step and conversion on each ISA, same run."""
        rows = {}
        for name, row in self.rows.items():
            parts = name.split("/")
            if len(parts) == 4 and parts[0] == "variant_isa":
                rows[(parts[1], int(parts[3]), parts[2])] = row
        if not rows:
            return ""
        lines = ["| step | n | ISA | ns/elem | GB/s | efficiency |", "|---|---|---|---|---|---|"]
        for (step, n, isa) in sorted(rows, key=lambda k: (k[0], k[1], isa_key(k[2]))):
            row = rows[(step, n, isa)]
            t = real_ns(row)
            per_element = row.get("bytes_per_element", 0)
            name = "variant_isa/%s/%s/%d" % (step, isa, n)
            efficiency, roof_name = self.efficiency(name, row, n, isa)
            lines.append("| %s | %d | %s | %.3f | %.1f | %s |" % (
                step + self.check.mark(name, roof_name), n, isa, t / n, per_element * n / t,
                "%.2f" % efficiency if efficiency else "-"))
        return "\n".join(lines)


def ns_index(row):
    """The ns_per_index counter is in seconds per index."""
    return row["ns_per_index"] * 1e9


def step_ms(row):
    return row["ns_per_index"] * row["indices"] * 1e3


def sparse_compare_table(compare, derived):
    rows = compare.get("sparse_results") or []
    if not rows:
        return ""
    ctx = compare.get("sparse_context", {})
    lines = ["| dim | distribution | unique rows | torch.optim.Adagrad ms/step "
             "| adagrad_sparse_step ms/step | speedup |", "|---:|---|---:|---:|---:|---:|"]
    by_key = {}
    for r in rows:
        by_key.setdefault((r["dim"], r["distribution"]), {})[r["implementation"]] = r
    for (dim, dist) in sorted(by_key, key=lambda k: (k[1] != "uniform", k[0])):
        pair = by_key[(dim, dist)]
        ours, torch = pair.get("adagrad"), pair.get("torch_sparse")
        if not (ours and torch):
            continue
        speedup = torch["ms_per_step"] / ours["ms_per_step"]
        derived.append({"table": "sparse_compare", "dim": dim, "distribution": dist,
                        "unique_rows": ours["unique_rows"], "torch_ms": torch["ms_per_step"],
                        "adagrad_ms": ours["ms_per_step"], "speedup": speedup})
        lines.append("| %d | %s | %d | %.2f | %.2f | %.1fx |" % (
            dim, dist, ours["unique_rows"], torch["ms_per_step"], ours["ms_per_step"], speedup))
    title = ("Sparse step side by side, one thread (bench/compare.py): torch %s, "
             "nn.Embedding(%s, dim, sparse=True) + torch.optim.Adagrad, only optimizer.step() "
             "timed with a prebuilt uncoalesced sparse COO gradient of %s indices; this library's "
             "adagrad_sparse_step (per-element state, SUM duplicates, as PyTorch's coalesce) "
             "through ctypes on the same batch" % (
                 ctx.get("torch_version", "?"), ctx.get("rows", "?"), ctx.get("batch", "?")))
    return title + ":\n\n" + "\n".join(lines)


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


def embedding_bag_table(rows, derived):
    """Fused against unfused, from embedding_bag_bench's rows
    embedding_bag/<path>/<state>/<pages>/<dist>/pool:<p>/<dim>."""
    cases = {}
    for name, row in rows.items():
        parts = [part for part in name.split("/") if part != "real_time"]
        if len(parts) != 7 or parts[0] != "embedding_bag":
            continue
        key = (parts[2], parts[3], parts[4], int(parts[5].split(":")[1]), int(parts[6]))
        cases.setdefault(key, {})[parts[1]] = row
    if not cases:
        return ""
    lines = ["| state | pages | dist | pooling | dim | fused | unfused | fused gain "
             "| huge pages obtained |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(cases):
        fused, unfused = cases[key].get("fused"), cases[key].get("unfused")
        t_fused = real_ns(fused) if fused else None
        t_unfused = real_ns(unfused) if unfused else None
        gain = t_unfused / t_fused if t_fused and t_unfused else None
        huge = fused.get("huge_bytes") if fused else None
        state, pages, dist, pooling, dim = key
        derived.append({"state": state, "pages": pages, "dist": dist, "pooling": pooling,
                        "dim": dim, "fused_ns": t_fused, "unfused_ns": t_unfused,
                        "fused_gain": gain, "huge_bytes": huge})
        lines.append("| %s | %s | %s | %d | %d | %s | %s | %s | %s |" % (
            state, pages, dist, pooling, dim,
            fmt_time(t_fused) if t_fused else "-", fmt_time(t_unfused) if t_unfused else "-",
            "%.2fx" % gain if gain else "-",
            "%.0f MiB" % (huge / 2**20) if huge is not None else "-"))
    return "\n".join(lines)


# The targets of issue 20, printed next to the figures they judge.
EMBEDDING_BAG_FUSED_TARGET = 1.5    # unfused step time / fused step time
EMBEDDING_BAG_STREAM_TARGET = 0.5   # fused step time / same-traffic stream time
EMBEDDING_BAG_GATHER_TARGET = 0.9   # ... or / best gather time, where the stream is out of reach
EMBEDDING_BAG_THREADS_TARGET = 1.7  # 1 thread time / 2 threads time, table in cache
EMBEDDING_BAG_LOADED_TARGET = 0.8   # quiet time / time beside a memory-heavy process


def name_parts(name):
    return [part for part in name.split("/") if part != "real_time"]


def met(value, target):
    if value is None:
        return "-"
    return "yes" if value >= target else "no"


# The gather limit's prefetch forms (bench/sparse_limits_best.h,
# prefetch_form_name) and how the report names a setting.
GATHER_PREFETCH_FORMS = {"prefetch": "%d", "prefetch_l2": "L2 %d",
                         "prefetch_l2_l1": "L2 %d + L1 2", "prefetch_l2_bursts": "L2 %d bursts"}


def gather_prefetch_label(setting):
    """(form, distance) as the limits table names it: "8" (into L1 8 rows
    ahead), "L2 8", "L2 8 + L1 2" or "L2 8 bursts"."""
    form, distance = setting
    if distance == 0:
        return "0"
    return GATHER_PREFETCH_FORMS[form] % distance


def embedding_bag_limits_table(rows, derived):
    """The fused step against its two limits, per case: the same-traffic
    stream (embedding_bag_stream/<state>/<pages>/<dist>/pool:<p>/<dim>) and
    the fastest prefetch form and distance of the gather kernel
    (embedding_bag_gather/<same>/<form>:<D>); each fraction is the limit's
    time / the fused step's time."""
    cases = {}
    for name, row in rows.items():
        parts = name_parts(name)
        if parts[0] == "embedding_bag" and len(parts) == 7 and parts[1] in ("fused", "unfused"):
            key, what = tuple(parts[2:7]), parts[1]
        elif parts[0] == "embedding_bag_stream" and len(parts) == 6:
            key, what = tuple(parts[1:6]), "stream"
        elif parts[0] == "embedding_bag_gather" and len(parts) == 7 and \
                parts[6].split(":")[0] in GATHER_PREFETCH_FORMS:
            form, distance = parts[6].split(":")
            key, what = tuple(parts[1:6]), (form, int(distance))
        else:
            continue
        cases.setdefault(key, {})[what] = row
    lines = ["| state | pages | dist | pooling | dim | fused | stream | fused / stream "
             "(target >= %.1f) | best gather (prefetch) | fused / best gather "
             "(target >= %.1f) | met | largest fused gain: unfused / best gather "
             "(target fused / unfused >= %.1f) |" % (
                 EMBEDDING_BAG_STREAM_TARGET, EMBEDDING_BAG_GATHER_TARGET,
                 EMBEDDING_BAG_FUSED_TARGET),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(cases, key=lambda k: (k[0], k[1], k[2], k[3], int(k[4]))):
        found = cases[key]
        fused = found.get("fused")
        gathers = {d: real_ns(r) for d, r in found.items() if isinstance(d, tuple)}
        if fused is None or ("stream" not in found and not gathers):
            continue
        t_fused = real_ns(fused)
        t_stream = real_ns(found["stream"]) if "stream" in found else None
        best = min(gathers, key=gathers.get) if gathers else None
        t_gather = gathers[best] if gathers else None
        of_stream = t_stream / t_fused if t_stream else None
        of_gather = t_gather / t_fused if t_gather else None
        # What fused / unfused would be with the fused step at its gather
        # limit: below the 1.5x target, no fused step reaches it here.
        t_unfused = real_ns(found["unfused"]) if "unfused" in found else None
        largest_gain = t_unfused / t_gather if t_unfused and t_gather else None
        meets = (of_stream is not None and of_stream >= EMBEDDING_BAG_STREAM_TARGET) or \
            (of_gather is not None and of_gather >= EMBEDDING_BAG_GATHER_TARGET)
        state, pages, dist, pooling, dim = key
        derived.append({"state": state, "pages": pages, "dist": dist,
                        "pooling": int(pooling.split(":")[1]), "dim": int(dim),
                        "fused_ns": t_fused, "stream_ns": t_stream,
                        "gather_ns": {gather_prefetch_label(d): t for d, t in gathers.items()},
                        "best_prefetch": gather_prefetch_label(best) if best else None, "fraction_of_stream": of_stream,
                        "fraction_of_best_gather": of_gather, "target_met": meets,
                        "largest_fused_gain": largest_gain})
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            state, pages, dist, pooling.split(":")[1], dim, fmt_time(t_fused),
            fmt_time(t_stream) if t_stream else "-",
            "%.2f" % of_stream if of_stream is not None else "-",
            "%s (%s)" % (fmt_time(t_gather), gather_prefetch_label(best)) if gathers else "-",
            "%.2f" % of_gather if of_gather is not None else "-",
            "yes" if meets else "no",
            "%.2fx" % largest_gain if largest_gain is not None else "-"))
    return "\n".join(lines) if len(lines) > 2 else ""


def embedding_bag_threads_table(rows, derived):
    """One thread against two on a table in cache:
    embedding_bag_threads/<path>/<state>/threads:<t>; speedup = 1 thread
    time / 2 threads time."""
    cases = {}
    for name, row in rows.items():
        parts = name_parts(name)
        if parts[0] != "embedding_bag_threads" or len(parts) != 4:
            continue
        cases.setdefault((parts[1], parts[2]), {})[int(parts[3].split(":")[1])] = row
    lines = ["| path | state | 1 thread | 2 threads | speedup (target >= %.1fx) | met |" %
             EMBEDDING_BAG_THREADS_TARGET, "|---|---|---|---|---|---|"]
    for key in sorted(cases):
        one, two = cases[key].get(1), cases[key].get(2)
        if one is None or two is None:
            continue
        speedup = real_ns(one) / real_ns(two)
        derived.append({"path": key[0], "state": key[1], "one_thread_ns": real_ns(one),
                        "two_threads_ns": real_ns(two), "speedup": speedup})
        lines.append("| %s | %s | %s | %s | %.2fx | %s |" % (
            key[0], key[1], fmt_time(real_ns(one)), fmt_time(real_ns(two)), speedup,
            met(speedup, EMBEDDING_BAG_THREADS_TARGET)))
    return "\n".join(lines) if len(lines) > 2 else ""


def embedding_bag_loaded_table(rows, derived):
    """The fused step quiet and beside a memory-heavy process:
    embedding_bag_loaded/fused/<state>/<pages>/<dist>/pool:<p>/<dim>/neighbour:<none|stream>;
    kept = quiet time / loaded time (the fraction of its quiet speed)."""
    cases = {}
    for name, row in rows.items():
        parts = name_parts(name)
        if parts[0] != "embedding_bag_loaded" or len(parts) != 8:
            continue
        cases.setdefault(tuple(parts[1:7]), {})[parts[7].split(":")[1]] = row
    lines = ["| path | state | pages | dist | pooling | dim | quiet | beside a stream "
             "| speed kept (target >= %.1f) | met | CPU time kept |" %
             EMBEDDING_BAG_LOADED_TARGET,
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(cases):
        quiet, loaded = cases[key].get("none"), cases[key].get("stream")
        if quiet is None or loaded is None:
            continue
        kept = real_ns(quiet) / real_ns(loaded)
        # On a machine with more runnable threads than CPUs the neighbour also
        # takes the step's CPU, which wall time counts and the step's own CPU
        # time does not: the second column is the memory's share alone.
        cpu_kept = quiet["cpu_time"] / loaded["cpu_time"] if loaded.get("cpu_time") else None
        path, state, pages, dist, pooling, dim = key
        derived.append({"path": path, "state": state, "pages": pages, "dist": dist,
                        "pooling": int(pooling.split(":")[1]), "dim": int(dim),
                        "quiet_ns": real_ns(quiet), "loaded_ns": real_ns(loaded),
                        "speed_kept": kept, "cpu_time_kept": cpu_kept})
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |" % (
            path, state, pages, dist, pooling.split(":")[1], dim, fmt_time(real_ns(quiet)),
            fmt_time(real_ns(loaded)), kept, met(kept, EMBEDDING_BAG_LOADED_TARGET),
            "%.2f" % cpu_kept if cpu_kept is not None else "-"))
    return "\n".join(lines) if len(lines) > 2 else ""


def load_results(path):
    """Google Benchmark's JSON, or an empty run when the file is missing or
    empty (what a --benchmark_filter matching nothing leaves)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    if not text.strip():
        return {"context": {}, "benchmarks": []}
    return json.loads(text)


def cache_sizes(ctx):
    """The host line's cache sizes and where they came from (bench/cache_context.h)."""
    sizes = ", ".join("%s %s" % (label, ctx.get(key, "unknown")) for key, label in CACHE_LEVELS)
    return "%s bytes (%s); buffers of 2 MiB and more on transparent huge pages (THP mode: %s)" % (
        sizes, ctx.get("cache_sizes_from", "neither cpuinfo, sysfs nor cpuid"),
        ctx.get("transparent_hugepage", "unknown"))


def load_retimed(paths):
    """name -> median row over the lone runs' results files, or None when
    there are none."""
    if not paths:
        return None
    retimed = {}
    for path in paths:
        retimed.update(medians(load_results(path)))
    return retimed


def have_matplotlib():
    """Whether the plot can be drawn: a target machine's python3 may lack
    matplotlib, and the rest of the report needs only the standard library."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?")
    parser.add_argument("--markdown")
    parser.add_argument("--json")
    parser.add_argument("--plot")
    parser.add_argument("--compare")
    parser.add_argument("--torch", help="bench/torch_bench.py's JSON")
    parser.add_argument("--embedding-torch", help="bench/embedding_torch_bench.py's JSON")
    parser.add_argument("--sparse")
    parser.add_argument("--variants")
    parser.add_argument("--dispatch")
    parser.add_argument("--embedding-bag")
    parser.add_argument("--retime", nargs="*", default=[],
                        help="results of the rows timed again alone (one file or many)")
    parser.add_argument("--emulated", metavar="WHY",
                        help="the binaries ran under an emulator: say so, and why we think so")
    parser.add_argument("--retime-again", nargs="*", default=[],
                        help="results of the disagreeing rows timed alone a second time")
    parser.add_argument("--retime-names", metavar="SUITE_JSON",
                        help="print the rows of SUITE_JSON to time again, as anchored filters")
    parser.add_argument("--disagreeing-names", metavar="SUITE_JSON",
                        help="print the rows of SUITE_JSON whose lone run (--retime) "
                        "disagrees, as anchored filters")
    args = parser.parse_args()
    if args.retime_names or args.disagreeing_names:
        results = load_results(args.retime_names or args.disagreeing_names)
        names = (retime_names(results) if args.retime_names else
                 disagreeing_names(results, load_retimed(args.retime)))
        for name in names:
            print(anchored_filter(name))
        return
    if args.results is None:
        parser.error("the dense results file is required")
    check = SelfCheck(load_retimed(args.retime), load_retimed(args.retime_again))
    # A --benchmark_filter that matches nothing in one of the two executables
    # leaves no results file for it: report what there is.
    report = Report(load_results(args.results), check)
    sparse = SparseReport(load_results(args.sparse), check) if args.sparse else None
    variants = VariantReport(load_results(args.variants), check) if args.variants else None
    for suite in (report, sparse, variants):
        if suite is not None:
            check.compare(suite.rows)
    ctx = report.context or (sparse.context if sparse is not None else {})
    all_benchmarks = report.results["benchmarks"] + (
        sparse.results["benchmarks"] if sparse is not None else [])
    counts = collections.Counter(b.get("repetitions") for b in all_benchmarks)
    repetitions = counts.most_common(1)[0][0] if counts else "?"
    wide = (sparse.context.get("adagrad_active_wide_isa", "?") if sparse is not None else "?")
    sections = ["Host: %s, %s CPUs; dispatched ISAs: %s (dense f32 step), %s (sparse step; "
                "every family: the dispatch table); %s; medians of %s repetitions" % (
                    ctx.get("host_name", "?"), ctx.get("num_cpus", "?"),
                    ctx.get("adagrad_active_isa", "?"), wide, cache_sizes(ctx), repetitions)]
    dispatch_derived = []
    if args.dispatch:
        dispatch = load_results(args.dispatch)
        check.compare(medians(dispatch))
        section = dispatch_section(medians(dispatch), dispatch.get("context", {}),
                                   dispatch_derived, check.mark)
        if section:
            sections.append(section)
    for title, table in (("Dense step, one thread", report.step_table()),
                         ("Compute ceiling: one sqrt and one division per element, L1 data",
                          report.ceiling_table()),
                         ("Threads (adagrad_step_parallel, adagrad_pool)", report.threads_table()),
                         ("Threads on a busy machine: adagrad_step_parallel at 2^20 floats with "
                          "processes spinning beside it, against the same chunks on pthreadpool "
                          "(whose call waits for every worker)", report.under_load_table()),
                         ("A whole model: BERT-base's parameter list (adagrad_step_multi) "
                          "against one flat buffer of the same size", report.model_table()),
                         ("Per-call cost", report.call_table())):
        if table.count("\n") > 1:
            sections.append("%s:\n\n%s" % (title, table))
    if sparse is not None:
        for title, table in sparse.sections():
            sections.append("%s:\n\n%s" % (title, table))
    if variants is not None:
        table = variants.table()
        if table:
            sections.append("The other dense steps, each on the ISA it dispatches to "
                            "(variant_step_bench): "
                            "efficiency = the dense roofline kernel moving the same bytes / step "
                            "time (the memory bound only: at 4096, in cache, the divider bounds every step); "
                            "speedup = the f32 step (adagrad_step) / this step, same n:\n\n"
                            + table)
        table = variants.isa_table()
        if table:
            sections.append("The bf16 step (bf16 weights and gradients, nearest even) and the "
                            "float-to-bf16 conversion alone on each ISA (variant_step_bench); "
                            "efficiency as above:\n\n" + table)
    embedding_bag_derived = []
    embedding_bag_limits = {"limits": [], "threads": [], "loaded": []}
    if args.embedding_bag:
        embedding_bag_rows = medians(load_results(args.embedding_bag))
        # Each table with its introduction, and the list its derived rows go to.
        for make_table, derived, introduction in (
                (embedding_bag_table, embedding_bag_derived,
                 "The fused embedding-bag step (embedding_bag_bench): 2^20 rows, 2048 bags of SUM "
                 "pooling, one thread, the dispatched ISA; fused = adagrad_embedding_bag_step, "
                 "unfused = the gradient materialised, then the sparse step (the same bits); "
                 "fused gain = unfused time / fused time; 4k = MADV_NOHUGEPAGE, huge = "
                 "adagrad_table_alloc, with the huge-page bytes the kernel gave:"),
                (embedding_bag_limits_table, embedding_bag_limits["limits"],
                 "The fused embedding-bag step against its limits, one thread: stream = its "
                 "bytes moved sequentially (embedding_bag_stream), best gather = its own rows in "
                 "its order with trivial arithmetic, at the fastest software prefetch "
                 "(embedding_bag_gather; D: whole rows D rows ahead into L1, L2 D: into L2, "
                 "L2 D + L1 2: into L2 D ahead and into L1 two ahead, L2 D bursts: into L2, "
                 "16 rows back to back once fewer than D are asked for ahead); each fraction "
                 "= the limit's time / the fused time; met: either target:"),
                (embedding_bag_threads_table, embedding_bag_limits["threads"],
                 "The embedding-bag steps on two threads (adagrad_pool) against one, table in "
                 "cache (4096 x 128, 2048 bags of 20; unfused: the gradient materialised on the "
                 "calling thread); speedup = 1 thread time / 2 threads time:"),
                (embedding_bag_loaded_table, embedding_bag_limits["loaded"],
                 "The fused embedding-bag step beside a memory-heavy process (another process "
                 "copying 1 GiB on 4 KiB pages back and forth); speed kept = quiet time / loaded "
                 "time:")):
            table = make_table(embedding_bag_rows, derived)
            if table:
                sections.append(introduction + "\n\n" + table)
    compare = None
    sparse_derived = sparse.derived if sparse is not None else []
    if args.compare:
        with open(args.compare) as f:
            compare = json.load(f)
        if compare.get("results"):
            sections.append("Side by side, one thread (bench/compare.py): adagrad = "
                            "adagrad_step through ctypes, adagrad_python = the package's "
                            "adagrad.step(w, g, G, lr=0.01); speedup = that row's time / "
                            "adagrad's:\n\n" + compare_table(compare))
        table = sparse_compare_table(compare, sparse_derived)
        if table:
            sections.append(table)
    # The torch benchmarks' JSON as they wrote it, and their tables.
    torch_results = {}
    for key, path, make_tables in (("torch_bench", args.torch, torch_tables),
                                   ("embedding_torch_bench", args.embedding_torch,
                                    embedding_tables)):
        torch_results[key] = None
        if path:
            with open(path) as f:
                torch_results[key] = json.load(f)
            table = make_tables(torch_results[key])
            if table:
                sections.append(table)
    # After every table: the limit checks are made as the tables are built.
    sections.insert(1, check.section())
    if args.emulated:
        sections.insert(0, "**Emulated: these figures mean nothing.** The benchmarks ran under "
                        "an emulator (%s): times measure the emulator's translation, not the "
                        "CPU, and no ratio between two rows says anything about real hardware. "
                        "The report checks that the bundle works; run it on the target CPU "
                        "itself for figures." % args.emulated)
    plot = args.plot if args.plot and report.family("dense_step") else None
    if plot and not have_matplotlib():
        sections.append("Plot skipped: this python3 has no matplotlib (python3-matplotlib on "
                        "Debian and Ubuntu, pip install matplotlib elsewhere); the tables above "
                        "and the JSON are complete.")
        plot = None
    text = "\n\n".join(sections) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"context": ctx, "derived": report.derived,
                       "sparse_context": sparse.context if sparse is not None else None,
                       "sparse_derived": sparse_derived,
                       "variant_derived": variants.derived if variants is not None else [],
                       "dispatch_derived": dispatch_derived,
                       "embedding_bag_derived": embedding_bag_derived,
                       "embedding_bag_limits": embedding_bag_limits,
                       "suspects": check.suspects,
                       "compare": compare, **torch_results,
                       "emulated": args.emulated, "plot": plot}, out, indent=1)
    if plot:
        report.plot(plot, emulated=bool(args.emulated))


if __name__ == "__main__":
    main()
