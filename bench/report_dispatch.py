# SPDX-License-Identifier: BSD-3-Clause
"""The dispatch section of the report, from dispatch_bench's JSON
(bench/dispatch_bench.cc): per kernel family and size, the dispatched path
against the fastest ISA forced in the same run, and the dense steps against
the seed's loop compiled with -O3 -march=native (native_loop/ rows).

  dispatched / fastest  = time of dispatch/<family>/dispatched/<n> over the
                          smallest time of dispatch/<family>/<isa>/<n> among
                          the SIMD ISAs; 1.00 means dispatch chose as well as
                          any forced ISA did (issue 16's target: <= 1.05)
  native / dispatched   = time of native_loop/<dtype>/<n> over the dispatched
                          dense step's (>= 1.00: the library is at least as
                          fast as the loop a user would write instead)
"""

FAMILIES = ["dense_f32", "dense_f64", "fma", "composite", "sparse", "rowwise", "mixed"]
TARGET_RATIO = 1.05


def _ns(row):
    return row["ns_per_element"] * 1e9


def dispatch_section(rows, context, derived, mark=lambda *names: ""):
    """Markdown for the rows of one dispatch_bench run (name -> median row);
    appends the figures to derived. mark(*names) is the report's marker for
    a table row computed from a suspect row (report.py's SelfCheck). Empty
    when the run has no such rows."""
    table = {}
    native = {}
    for name, row in rows.items():
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "dispatch":
            table.setdefault((parts[1], int(parts[3])), {})[parts[2]] = row
        elif len(parts) == 3 and parts[0] == "native_loop":
            native[(parts[1], int(parts[2]))] = row
    if not table:
        return ""
    lines = ["| family | n | dispatched | ns/elem | fastest forced | ns/elem | dispatched / fastest "
             "| native loop ns/elem | native / dispatched |",
             "|---|---:|---|---:|---|---:|---:|---:|---:|"]
    misses = []
    for family in sorted({f for f, _ in table}, key=lambda f: FAMILIES.index(f)
                         if f in FAMILIES else len(FAMILIES)):
        for n in sorted(n for f, n in table if f == family):
            paths = table[(family, n)]
            dispatched = paths.get("dispatched")
            forced = {isa: row for isa, row in paths.items() if isa != "dispatched"}
            if dispatched is None or not forced:
                continue
            best_isa = min(forced, key=lambda isa: _ns(forced[isa]))
            ratio = _ns(dispatched) / _ns(forced[best_isa])
            dtype = {"dense_f32": "f32", "dense_f64": "f64"}.get(family)
            loop = native.get((dtype, n)) if dtype else None
            loop_ratio = _ns(loop) / _ns(dispatched) if loop else None
            derived.append({"table": "dispatch", "family": family, "n": n,
                            "dispatched_isa": dispatched.get("label", "?"),
                            "dispatched_ns": _ns(dispatched), "fastest_isa": best_isa,
                            "fastest_ns": _ns(forced[best_isa]), "ratio": ratio,
                            "native_loop_ns": _ns(loop) if loop else None,
                            "native_over_dispatched": loop_ratio})
            over = "" if ratio <= TARGET_RATIO else " **(> %.2f)**" % TARGET_RATIO
            if over:
                misses.append("%s at %d" % (family, n))
            names = ["dispatch/%s/%s/%d" % (family, path, n) for path in ("dispatched", best_isa)]
            lines.append("| %s | %d | %s | %.3f | %s | %.3f | %.2f%s%s | %s | %s |" % (
                family, n, dispatched.get("label", "?"), _ns(dispatched), best_isa,
                _ns(forced[best_isa]), ratio, over, mark(*names),
                "%.3f" % _ns(loop) if loop else "-",
                "%.2f" % loop_ratio if loop_ratio else "-"))
    choices = ", ".join("%s %s" % (f, context["adagrad_dispatch_" + f])
                        for f in FAMILIES if "adagrad_dispatch_" + f in context)
    head = ("Dispatch per kernel family (bench/dispatch_bench.cc): CPU table row %s; "
            "choices %s; resolution spent %.3f ms measuring, once, at the first call. "
            "Each dispatched row against the fastest of the SIMD ISAs forced in the same run "
            "(the table and row-wise families on n / 64 rows of 64), and the seed's loop "
            "compiled as a user would (native loop: %s)" % (
                context.get("adagrad_dispatch_cpu", "?"), choices or "?",
                int(context.get("adagrad_dispatch_calibration_ns", "0")) / 1e6,
                next((r.get("label", "?") for r in native.values()), "not run")))
    if misses:
        head += ". Dispatched more than %.0f%% slower than the fastest ISA: %s" % (
            (TARGET_RATIO - 1) * 100, "; ".join(misses))
    return head + ":\n\n" + "\n".join(lines)
