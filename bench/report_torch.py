# SPDX-License-Identifier: BSD-3-Clause
"""The tables of bench/torch_bench.py's and bench/embedding_torch_bench.py's
results, for their own output and for bench/report.py (bench/run --compare):
one module, so that both show the same figures the same way. Every ratio is
of two medians of the same run."""
import json
import os
import statistics

IMPLEMENTATIONS = ("torch_foreach_false", "torch_foreach_true", "adagrad")


def finish_run(context, results, make_tables, json_path):
    """The end of either benchmark's run: the load average after it in its
    context, its tables printed, and its JSON written to json_path (if
    given), which bench/report.py reads."""
    context["load_after"] = "%.2f" % os.getloadavg()[0]
    data = dict(context=context, results=results)
    print(make_tables(data))
    if json_path:
        with open(json_path, "w") as out:
            json.dump(data, out, indent=1)


# bench/torch_bench.py's same-run memory limit of a step-only case.
STREAM = "stream"
# Bytes each moves per element of float32 parameters: the stream reads two
# buffers and writes one; the library's step reads w, g, G and writes w, G;
# torch's dense step (foreach or not) makes four passes: addcmul_ (read sum,
# g; write sum), sqrt (read sum; write std), add_ eps (read, write std),
# addcdiv_ (read w, g, std; write w).
STREAM_BYTES, STEP_BYTES = 12, 20
TORCH_STEP_BYTES = {"torch_foreach_false": 44, "torch_foreach_true": 44}
# bench/row_limit.py's limit of the sparse cases, one name per prefetch
# distance.
ROW_LIMIT = "row_limit"


def row_limit_name(setting):
    return "%s:%s" % (ROW_LIMIT, setting)


def best_row_limit(rows):
    """The fastest of a case's row-limit rows (one per prefetch setting), or None."""
    limits = [r for r in rows if r["implementation"].startswith(ROW_LIMIT + ":")]
    return min(limits, key=lambda r: r["step_seconds"]) if limits else None


def _rest_saved(torch_row, ours):
    """The median over the rounds of (torch's train - step) - (adagrad's
    train - step) in the same round, in ms: how much more the whole step
    saved than the optimizer ("-" without per-round times)."""
    theirs, mine = torch_row.get("rounds"), ours.get("rounds") if ours else None
    if not theirs or not mine or len(theirs) != len(mine):
        return "-"
    return "%.2f" % (statistics.median((t[0] - t[1]) - (o[0] - o[1])
                                       for t, o in zip(theirs, mine)) * 1e3)


def _ratio(numerator, denominator):
    return "%.2fx" % (numerator / denominator) if numerator and denominator else "-"


def torch_tables(data):
    """Markdown: the context line, then one table of whole training steps
    and optimizer steps for every case, implementation and thread count."""
    ctx = data.get("context", {})
    results = data.get("results", [])
    if not results:
        return ""
    lines = [
        "adagrad.torch.Adagrad against torch.optim.Adagrad, whole training steps "
        "(bench/torch_bench.py): %s, %s CPUs, PyTorch %s, adagrad %s; medians of %s "
        "alternating rounds; load average %s before, %s after (a shared machine makes "
        "every figure noisy; the ratios are of the same run). train = zero_grad + "
        "forward + backward + step (step-only cases: the step alone), step = "
        "optimizer.step() inside it; speedup = torch's time / adagrad's; saved = "
        "torch's time - adagrad's, train and step (the whole step should gain at "
        "least the optimizer's saving); rest saved = the median over the rounds of "
        "torch's train - step minus adagrad's in the same round (the whole step's "
        "saving beyond the optimizer's: >= 0 when it gains at least that):" % (
            ctx.get("cpu", "?"), ctx.get("cpus", "?"), ctx.get("torch_version", "?"),
            ctx.get("adagrad_version", "?"), ctx.get("rounds", "?"),
            ctx.get("load_before", "?"), ctx.get("load_after", "?")),
        "",
        "| case | threads | implementation | train ms | step ms | train speedup "
        "| step speedup | saved train ms | saved step ms | rest saved ms |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_key = {(r["case"], r["threads"], r["implementation"]): r for r in results}
    cases = []
    for r in results:
        if (r["case"], r["threads"]) not in cases:
            cases.append((r["case"], r["threads"]))
    for case, threads in cases:
        ours = by_key.get((case, threads, "adagrad"))
        for name in IMPLEMENTATIONS:
            row = by_key.get((case, threads, name))
            if row is None:
                continue
            train, step = row["train_seconds"], row["step_seconds"]
            if name == "adagrad":
                cells = ["", "", "", "", ""]
            else:
                cells = [_ratio(train, ours and ours["train_seconds"]),
                         _ratio(step, ours and ours["step_seconds"]),
                         "%.2f" % ((train - ours["train_seconds"]) * 1e3) if ours else "-",
                         "%.2f" % ((step - ours["step_seconds"]) * 1e3) if ours else "-",
                         _rest_saved(row, ours)]
            lines.append("| %s | %d | %s | %.3f | %.3f | %s |" % (
                case, threads, name, train * 1e3, step * 1e3, " | ".join(cells)))
    scaling = []
    for case in dict.fromkeys(c for c, _ in cases):
        counts = sorted(t for c, t in cases if c == case)
        one, most = by_key.get((case, counts[0], "adagrad")), by_key.get((case, counts[-1], "adagrad"))
        if len(counts) > 1 and one and most:
            scaling.append("| %s | %d vs %d | %s | %s |" % (
                case, counts[-1], counts[0], _ratio(one["train_seconds"], most["train_seconds"]),
                _ratio(one["step_seconds"], most["step_seconds"])))
    if scaling:
        lines += ["", "adagrad.torch.Adagrad, more threads against one (same run):", "",
                  "| case | threads | train speedup | step speedup |", "|---|---|---:|---:|"]
        lines += scaling
    lines += _memory_limits(by_key, cases)
    lines += _row_limits(results, ctx)
    return "\n".join(lines)


def _row_limits(results, ctx):
    """The sparse cases' optimizer steps, one thread, against their
    same-run row limit: the largest speedup over torch any per-element step
    could have (torch's step time / the limit's) beside the one measured."""
    lines = []
    for case in dict.fromkeys(r["case"] for r in results):
        rows = [r for r in results if r["case"] == case and r["threads"] == 1]
        limit = best_row_limit(rows)
        if limit is None:
            continue
        by_name = {r["implementation"]: r for r in rows}
        ours = by_name.get("adagrad")
        for name in ("torch_foreach_false", "torch_foreach_true"):
            row = by_name.get(name)
            if row is None:
                continue
            lines.append("| %s | %s | %.3f | %.3f | %s | %.3f (%s) | %s |" % (
                case, name, row["step_seconds"] * 1e3,
                ours["step_seconds"] * 1e3 if ours else float("nan"),
                _ratio(row["step_seconds"], ours and ours["step_seconds"]),
                limit["step_seconds"] * 1e3, limit["implementation"].split(":", 1)[1],
                _ratio(row["step_seconds"], limit["step_seconds"])))
    if not lines:
        return []
    return ["", "The sparse cases against their row limit, one thread (bench/row_limit.cc on "
            "%s, in the same rounds: every table's unique rows of the batch read and written "
            "once, table and state, w += -0 and G += 0, with the rows ahead prefetched, the "
            "fastest setting kept (D: whole rows D ahead into L1, l2-D: into L2, l2l1-D: into "
            "L2 D ahead and into L1 two ahead, l2b-D: into L2 in bursts of 16); the least "
            "time any per-element step on these rows can take). limit speedup = torch's "
            "step time / the limit's: no optimizer can beat torch by more on this machine:" % ctx.get("row_limit_isa", "?"), "",
            "| case | against | torch step ms | adagrad step ms | step speedup "
            "| row limit ms (prefetch) | limit speedup |", "|---|---|---:|---:|---:|---:|---:|"] + lines


def _memory_limits(by_key, cases):
    """The step-only cases against their same-run stream: each step's bytes
    per second as a share of the stream's, and the largest speedup over
    torch a step moving 20 bytes per element could have at the stream's
    speed (torch's time / (20 bytes x elements / stream bytes per second))."""
    lines = []
    for case, threads in cases:
        stream = by_key.get((case, threads, STREAM))
        if stream is None:
            continue
        elements = stream["elements"]
        bandwidth = STREAM_BYTES * elements / stream["step_seconds"]
        fastest_step = STEP_BYTES * elements / bandwidth
        ours = by_key.get((case, threads, "adagrad"))
        for name in ("adagrad",) + tuple(TORCH_STEP_BYTES):
            row = by_key.get((case, threads, name))
            if row is None:
                continue
            moved = TORCH_STEP_BYTES.get(name, STEP_BYTES) * elements / row["step_seconds"]
            bound = measured = ""
            if name != "adagrad":
                bound = _ratio(row["step_seconds"], fastest_step)
                measured = _ratio(row["step_seconds"], ours and ours["step_seconds"])
            lines.append("| %s | %d | %s | %d | %.1f | %.2f | %s | %s |" % (
                case, threads, name, TORCH_STEP_BYTES.get(name, STEP_BYTES), moved / 1e9,
                moved / bandwidth, measured, bound))
        one = by_key.get((case, 1, STREAM))
        if one and threads > 1:
            lines.append("| %s | %d | stream, %d threads against 1 | | | | %s | |" % (
                case, threads, threads, _ratio(one["step_seconds"], stream["step_seconds"])))
    if not lines:
        return []
    return ["", "The step-only cases against the memory limit of the same run (a stream "
            "of in-place torch adds over as many float32 elements, %d bytes each): GB/s = the bytes "
            "the step moves per element x elements / its time; of stream = that over the "
            "stream's GB/s; limit = the largest step speedup a %d-byte step could have "
            "over that implementation at the stream's speed (its time / that step's "
            "time):" % (STREAM_BYTES, STEP_BYTES), "",
            "| case | threads | implementation | bytes/element | GB/s | of stream "
            "| step speedup | limit |", "|---|---:|---|---:|---:|---:|---:|---:|"] + lines


# bench/embedding_torch_bench.py's implementations, in its table's order.
EMBEDDING_IMPLEMENTATIONS = ("torch_sparse", "adagrad_sparse", "fused", "fused_rowwise",
                             "fused_call")
EMBEDDING_LABELS = {
    "torch_sparse": "nn.EmbeddingBag(sparse=True) + torch.optim.Adagrad",
    "adagrad_sparse": "nn.EmbeddingBag(sparse=True) + adagrad.torch.Adagrad",
    "fused": "adagrad.torch.EmbeddingBag",
    "fused_rowwise": "adagrad.torch.EmbeddingBag(rowwise=True)",
    "fused_call": "adagrad.embedding_bag_step",
}
# Issue 20's goal for the fused module: torch / fused at this dim.
EMBEDDING_TARGET_DIM, EMBEDDING_TARGET_RATIO = 128, 10.0


def _ms(row):
    return "%.3f" % (row["seconds"] * 1e3) if row else "-"


def embedding_tables(data):
    """Markdown: the context line, the table of ms per step and ratios for
    every case and thread count, the target marked at its dim, then the
    share of each table and state on huge pages."""
    ctx = data.get("context", {})
    results = data.get("results", [])
    if not results:
        return ""
    lines = [
        "The embedding backward + AdaGrad step of one table (bench/embedding_torch_bench.py): "
        "%s rows, %s bags of mode=\"sum\"; %s, %s CPUs, PyTorch %s, adagrad %s, THP %s; "
        "medians of %s alternating rounds; load average %s before, %s after (a shared "
        "machine makes every figure noisy; the ratios are of the same run). ms per step from "
        "the bags' output gradient to the updated table, the forward pass left out: torch = "
        "%s (backward, step, zero_grad; of which step = the optimizer's part), adagrad sparse "
        "= %s, fused = %s (its backward is the step), row-wise = %s, call = %s on the fused "
        "module's arrays (the library's part of fused). torch / X = torch's time / X's; "
        "target: torch / fused >= %gx at dim %d:" % (
            ctx.get("rows", "?"), ctx.get("bags", "?"), ctx.get("cpu", "?"),
            ctx.get("cpus", "?"), ctx.get("torch_version", "?"), ctx.get("adagrad_version", "?"),
            ctx.get("thp", "?"), ctx.get("rounds", "?"), ctx.get("load_before", "?"),
            ctx.get("load_after", "?"), EMBEDDING_LABELS["torch_sparse"],
            EMBEDDING_LABELS["adagrad_sparse"], EMBEDDING_LABELS["fused"],
            EMBEDDING_LABELS["fused_rowwise"], EMBEDDING_LABELS["fused_call"],
            EMBEDDING_TARGET_RATIO, EMBEDDING_TARGET_DIM),
        "",
        "| dim | pooling | distribution | threads | unique rows | torch ms | of which step ms "
        "| adagrad sparse ms | fused ms | row-wise ms | call ms | torch / adagrad sparse "
        "| torch / fused | torch / row-wise | target |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_key = {}
    cases = []
    for r in results:
        case = (r["dim"], r["pooling"], r["distribution"], r["threads"])
        by_key[case + (r["implementation"],)] = r
        if case not in cases:
            cases.append(case)
    for case in cases:
        rows = {name: by_key.get(case + (name,)) for name in EMBEDDING_IMPLEMENTATIONS}
        torch_row = rows["torch_sparse"]
        torch_seconds = torch_row and torch_row["seconds"]

        def ratio(name):
            return _ratio(torch_seconds, rows[name] and rows[name]["seconds"])

        target = ""
        if case[0] == EMBEDDING_TARGET_DIM and torch_row and rows["fused"]:
            met = torch_seconds / rows["fused"]["seconds"] >= EMBEDDING_TARGET_RATIO
            target = "met" if met else "**missed**"
        unique = next((r["unique_rows"] for r in rows.values() if r), 0)
        lines.append("| %d | %d | %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                     "| %s |" % (
                         case + (unique, _ms(torch_row),
                                 "%.3f" % (torch_row["step_seconds"] * 1e3) if torch_row else "-",
                                 _ms(rows["adagrad_sparse"]), _ms(rows["fused"]),
                                 _ms(rows["fused_rowwise"]), _ms(rows["fused_call"]),
                                 ratio("adagrad_sparse"), ratio("fused"),
                                 ratio("fused_rowwise"), target)))
    huge = []
    seen = set()
    for r in results:
        key = (r["dim"], r["implementation"])
        if (key in seen or r["implementation"] not in EMBEDDING_LABELS or
                r["implementation"] == "fused_call" or "table_huge_fraction" not in r):
            continue
        seen.add(key)
        huge.append("| %d | %s | %.0f%% | %.0f%% |" % (
            r["dim"], EMBEDDING_LABELS[r["implementation"]], 100 * r["table_huge_fraction"],
            100 * r["state_huge_fraction"]))
    if huge:
        lines += ["", "The same run: how much of each table and state transparent huge pages "
                  "held (adagrad.huge_page_bytes after the first steps; the two "
                  "nn.EmbeddingBag optimizers share one table, the two fused modules "
                  "another), as each gets its memory by default:", "",
                  "| dim | implementation | table on huge pages | state on huge pages |",
                  "|---:|---|---:|---:|"] + huge
    lines += _embedding_row_limits(cases, by_key, ctx)
    return "\n".join(lines)


def _embedding_row_limits(cases, by_key, ctx):
    """One thread: the fused module against its same-run row limit, and
    torch's time over the limit's, the most any per-element step on these
    rows could gain over torch here."""
    lines = []
    for case in cases:
        if case[3] != 1:
            continue
        limit = best_row_limit([r for key, r in by_key.items() if key[:4] == case])
        torch_row, fused = by_key.get(case + ("torch_sparse",)), by_key.get(case + ("fused",))
        if limit is None or torch_row is None or fused is None:
            continue
        limit_seconds = limit["seconds"]
        lines.append("| %d | %d | %s | %s | %s | %.3f (%s) | %.2f | %s | %s |" % (
            case[0], case[1], case[2], _ms(torch_row), _ms(fused), limit_seconds * 1e3,
            limit["implementation"].split(":", 1)[1], limit_seconds / fused["seconds"],
            _ratio(torch_row["seconds"], fused["seconds"]),
            _ratio(torch_row["seconds"], limit_seconds)))
    if not lines:
        return []
    return ["", "The same run, one thread, against the row limit (bench/row_limit.cc on %s, "
            "on the fused module's table and state: the batch's unique rows read and "
            "written once, w += -0 and G += 0, the rows ahead prefetched, the fastest setting "
            "kept (D: whole rows D ahead into L1, l2-D: into L2, l2l1-D: into L2 D ahead and "
            "into L1 two ahead, l2b-D: into L2 in bursts of 16); the least time a "
            "per-element step on these rows can take). fused / limit = the limit's time / "
            "fused's (1: at the limit); torch / limit = the most any per-element step could "
            "gain over torch on this machine:" %
            ctx.get("row_limit_isa", "?"), "",
            "| dim | pooling | distribution | torch ms | fused ms | row limit ms (prefetch) "
            "| fused / limit | torch / fused | torch / limit |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|"] + lines
