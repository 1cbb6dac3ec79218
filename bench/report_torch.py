# SPDX-License-Identifier: BSD-3-Clause
"""The tables of bench/torch_bench.py's results, for its own output and for
bench/report.py (bench/run --compare): one module, so that both show the
same figures the same way. Every ratio is of two medians of the same run."""

IMPLEMENTATIONS = ("torch_foreach_false", "torch_foreach_true", "adagrad")


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
        "least the optimizer's saving):" % (
            ctx.get("cpu", "?"), ctx.get("cpus", "?"), ctx.get("torch_version", "?"),
            ctx.get("adagrad_version", "?"), ctx.get("rounds", "?"),
            ctx.get("load_before", "?"), ctx.get("load_after", "?")),
        "",
        "| case | threads | implementation | train ms | step ms | train speedup "
        "| step speedup | saved train ms | saved step ms |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
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
                cells = ["", "", "", ""]
            else:
                cells = [_ratio(train, ours and ours["train_seconds"]),
                         _ratio(step, ours and ours["step_seconds"]),
                         "%.2f" % ((train - ours["train_seconds"]) * 1e3) if ours else "-",
                         "%.2f" % ((step - ours["step_seconds"]) * 1e3) if ours else "-"]
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
    return "\n".join(lines)
