#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench/report.py's self-check on small planted results: a row whose
complete-run time and lone time disagree, and a row far below its own
roofline, are listed as suspect and marked in their tables; consistent rows
are not, and a suspect row says what share of its buffers was on huge
pages in each run; --retime-names lists exactly the rows at n >= 2^22. And what the
benchmark bundle's run script relies on: --emulated puts its warning first,
and without matplotlib the JSON and markdown are still written, saying the
plot was skipped. The embedding-bag tables of issue 20 (limits, threads,
a loaded machine) pair the right rows and name the best prefetch distance.
And the table of bench/embedding_torch_bench.py's results
(--embedding-torch): ratios of the planted times, the 10x target marked at
dim 128 only, the huge-page shares. And bench/torch_bench.py's step-only
case against its same-run stream (--torch).

Usage: report_selfcheck_test.py PATH/TO/bench/report.py
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

REPORT = None  # set from the command line
N = 1 << 24


def row(name, ms, n=N, **extra):
    """A median aggregate row as Google Benchmark writes it, ms per iteration
    on n elements (n None: no per-element counter)."""
    t = ms * 1e6
    r = {"name": name + "_median", "run_name": name, "run_type": "aggregate",
         "aggregate_name": "median", "repetitions": 5, "real_time": t, "cpu_time": t,
         "time_unit": "ns"}
    if n:
        r["ns_per_element"] = t / n * 1e-9
        r["items_per_second"] = n / (t * 1e-9)
        r["bytes_per_second"] = extra.get("bytes_per_element", 20) * n / (t * 1e-9)
    r.update(extra)
    return r


def results(rows, **context):
    return {"context": dict({"host_name": "test", "num_cpus": 2}, **context),
            "benchmarks": rows}


# name -> (complete run ms, alone ms or None when the lone run gave nothing)
DENSE = {
    "dense_step/f32/avx2/%d" % N: (10.0, 10.5),         # consistent
    "roofline/f32/avx2/%d" % N: (9.5, 9.5),
    "dense_step/f32/avx512f/%d" % N: (13.5, 10.0),      # planted: +35% against alone
    "roofline/f32/avx512f/%d" % N: (9.5, 9.6),
}
VARIANT = {
    "variant/dense_f32/%d" % N: (10.0, 9.8),            # consistent
    "variant_roofline/20/%d" % N: (9.5, 9.5),
    "variant/master_bf16_copy/%d" % N: (49.6, 49.6),    # planted: 0.19 of its roofline
    "variant/proximal_f32/%d" % N: (13.0, None),        # planted: no lone result
    "variant_isa/to_bf16/avx2/%d" % N: (115.8, 3.87),   # the row: both checks
    "variant_isa/to_bf16/sse2/%d" % N: (16.0, 16.2),    # slow, but narrower than the roofline's ISA
    "variant_roofline/6/%d" % N: (3.5, 3.5),
}
BYTES = {"dense_f32": 20, "master_bf16_copy": 20, "proximal_f32": 20, "to_bf16": 6}
SUSPECTS = {
    "dense_step/f32/avx512f/%d" % N: [
        "(+35%); on huge pages: 0% of its buffers in the complete run, 100% alone"],
    "variant/master_bf16_copy/%d" % N: ["efficiency 0.19", "variant_roofline/20/%d" % N],
    "variant/proximal_f32/%d" % N: ["not re-timed alone"],
    "variant_isa/to_bf16/avx2/%d" % N: ["116 ms in the complete run, 3.87 ms alone", "efficiency 0.03"],
}
CONSISTENT = ["dense_step/f32/avx2/%d" % N, "variant/dense_f32/%d" % N,
              "variant_isa/to_bf16/sse2/%d" % N, "roofline/f32/avx2/%d" % N]


def variant_row(name, ms):
    parts = name.split("/")
    per_element = int(parts[1]) if parts[0] == "variant_roofline" else BYTES[parts[1]]
    label = parts[2] if parts[0] == "variant_isa" else "avx2"
    return row(name, ms, bytes_per_element=per_element, label=label)


# name -> the huge_pages counter (complete run, alone) of a planted row.
HUGE_PAGES = {"dense_step/f32/avx512f/%d" % N: (0.0, 1.0)}


def dense_rows(which):
    rows = [row(name, times[which], **({"huge_pages": HUGE_PAGES[name][which]}
                                       if name in HUGE_PAGES else {}))
            for name, times in DENSE.items() if times[which]]
    if which == 0:
        rows += [row("ceiling/f32/%s/1024" % isa, 1024 * 0.1e-6, n=1024, label=isa)
                 for isa in ("avx2", "avx512f")]
        rows.append(row("dense_step/f32/avx2/4096", 0.0012, n=4096))
    return rows


def variant_rows(which):
    rows = [variant_row(name, times[which]) for name, times in VARIANT.items() if times[which]]
    if which == 0:
        rows.append(variant_row("variant_isa/to_bf16/avx2/4096", 0.0004))
    return rows


# bench/embedding_torch_bench.py's results: (dim, pooling, distribution) ->
# ms per step of torch_sparse, adagrad_sparse, fused, fused_rowwise,
# fused_call, one thread.
EMBEDDING_MS = {
    (64, 20, "uniform"): (80.0, 40.0, 5.0, 4.0, 4.5),     # 16x, but not at the target's dim
    (128, 20, "uniform"): (80.0, 20.0, 6.4, 5.0, 6.0),    # 12.50x: met
    (128, 20, "zipf"): (40.0, 20.0, 5.0, 4.0, 4.5),       # 8.00x: missed
}
EMBEDDING_NAMES = ("torch_sparse", "adagrad_sparse", "fused", "fused_rowwise", "fused_call")


def embedding_torch_results():
    results = []
    for (dim, pooling, distribution), times in EMBEDDING_MS.items():
        for name, ms in zip(EMBEDDING_NAMES, times):
            fused = name.startswith("fused")
            results.append(dict(dim=dim, pooling=pooling, distribution=distribution, threads=1,
                                implementation=name, unique_rows=40000.4, seconds=ms * 1e-3,
                                step_seconds=(ms if fused else ms * 0.75) * 1e-3,
                                table_huge_fraction=1.0 if fused else 0.0,
                                state_huge_fraction=1.0 if fused else 0.25))
    # The row limit, one case, three of its prefetch settings.
    for setting, ms in (("0", 5.0), ("l2l1-8", 4.0), ("16", 4.5)):
        results.append(dict(dim=128, pooling=20, distribution="uniform", threads=1,
                            implementation="row_limit:%s" % setting, unique_rows=40000.4,
                            seconds=ms * 1e-3, step_seconds=ms * 1e-3,
                            table_huge_fraction=1.0, state_huge_fraction=1.0))
    return {"context": {"rows": 1000000, "bags": 2048, "rounds": 3, "thp": "madvise",
                        "row_limit_isa": "avx2"},
            "results": results}


# bench/torch_bench.py's results for the step-only case: (implementation,
# threads) -> ms per step, 10^8 elements.
TORCH_ELEMENTS = 100_000_000
TORCH_STEP_MS = {("torch_foreach_false", 1): 200.0, ("torch_foreach_true", 1): 400.0,
                 ("adagrad", 1): 100.0, ("stream", 1): 50.0,
                 ("torch_foreach_false", 2): 150.0, ("torch_foreach_true", 2): 300.0,
                 ("adagrad", 2): 64.0, ("stream", 2): 40.0}


# The sparse case: optimizer step ms, and the row limit at four prefetch
# settings.
DLRM_STEP_MS = {("torch_foreach_false", 1): 200.0, ("torch_foreach_true", 1): 190.0,
                ("adagrad", 1): 80.0, ("row_limit:0", 1): 40.0, ("row_limit:4", 1): 25.0,
                ("row_limit:16", 1): 30.0, ("row_limit:l2-16", 1): 26.0}


# Per-round (train, step) seconds of two dlrm_uniform rows, their medians
# those of DLRM_STEP_MS (train = step + 100 ms): torch's rest (train - step)
# is 100, 500, 100 ms, adagrad's 90, 100, 520 ms; round by round torch's
# minus adagrad's is 10, 400, -420 ms, median 10 ms (the medians' difference
# would say 0).
DLRM_ROUNDS = {("torch_foreach_false", 1): [[0.300, 0.200], [0.700, 0.200], [0.300, 0.200]],
               ("adagrad", 1): [[0.170, 0.080], [0.180, 0.080], [0.600, 0.080]]}


def torch_bench_results():
    dlrm = [dict(case="dlrm_uniform", implementation=name, threads=threads, elements=10 ** 6,
                 train_seconds=(ms + 100) * 1e-3, step_seconds=ms * 1e-3)
            for (name, threads), ms in DLRM_STEP_MS.items()]
    for row in dlrm:
        rounds = DLRM_ROUNDS.get((row["implementation"], row["threads"]))
        if rounds:
            row["rounds"] = rounds
    return {"context": {"cpus": 2, "rounds": 3, "row_limit_isa": "avx2"},
            "results": [dict(case="bert_base", implementation=name, threads=threads,
                             elements=TORCH_ELEMENTS, train_seconds=ms * 1e-3,
                             step_seconds=ms * 1e-3)
                        for (name, threads), ms in TORCH_STEP_MS.items()] + dlrm}


class SelfCheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.paths = {}
        for key, content in (
                ("dense", results(dense_rows(0), l1d_cache_bytes="32768",
                                  l2_cache_bytes="1048576", cache_sizes_from="sysfs")),
                ("variant", results(variant_rows(0))),
                ("dense_alone", results(dense_rows(1))),
                ("variant_alone", results(variant_rows(1))),
                ("embedding_torch", embedding_torch_results()),
                ("torch", torch_bench_results())):
            self.paths[key] = os.path.join(self.dir.name, key + ".json")
            with open(self.paths[key], "w") as f:
                json.dump(content, f)

    def report(self, *args, env=None):
        out = subprocess.run([sys.executable, REPORT] + list(args), check=True,
                             capture_output=True, text=True, env=env)
        return out.stdout

    def full_report(self):
        return self.report(self.paths["dense"], "--variants", self.paths["variant"],
                           "--retime", self.paths["dense_alone"], self.paths["variant_alone"])

    @staticmethod
    def suspect_section(text):
        match = re.search(r"^Suspect rows: (\d+)[^\n]*\n\n(.*?)(\n\n|\Z)", text, re.M | re.S)
        return (int(match.group(1)), match.group(2)) if match else (0, "")

    def test_planted_rows_are_listed_with_their_reasons(self):
        text = self.full_report()
        count, section = self.suspect_section(text)
        self.assertEqual(count, len(SUSPECTS), text)
        for name, reasons in SUSPECTS.items():
            line = next((l for l in section.splitlines() if l.startswith("- `%s`" % name)), None)
            self.assertIsNotNone(line, "%s not listed:\n%s" % (name, section))
            for reason in reasons:
                self.assertIn(reason, line)

    def test_consistent_rows_are_not_listed(self):
        _, section = self.suspect_section(self.full_report())
        for name in CONSISTENT:
            self.assertNotIn("`%s`" % name, section)

    def test_the_list_comes_before_the_tables(self):
        text = self.full_report()
        self.assertLess(text.index("Suspect rows:"), text.index("| dtype |"))
        self.assertLess(text.index("Suspect rows:"), text.index("| step |"))

    def test_tables_mark_the_suspect_rows_only(self):
        lines = self.full_report().splitlines()

        def table_line(first_cell, n, isa=None):
            found = [l for l in lines if l.startswith("| " + first_cell) and "| %d |" % n in l
                     and (isa is None or "| %s |" % isa in l)]
            self.assertEqual(len(found), 1, (first_cell, n, isa))
            return found[0]

        self.assertIn("(suspect)", table_line("master_bf16_copy", N))
        self.assertIn("(suspect)", table_line("to_bf16", N, "avx2"))
        self.assertIn("(suspect)", table_line("f32", N, "avx512f"))
        self.assertNotIn("(suspect)", table_line("dense_f32", N))
        self.assertNotIn("(suspect)", table_line("to_bf16", N, "sse2"))
        self.assertNotIn("(suspect)", table_line("f32", N, "avx2"))
        self.assertNotIn("(suspect)", table_line("to_bf16", 4096, "avx2"))

    def test_without_a_retiming_pass_only_the_limits_are_checked(self):
        text = self.report(self.paths["dense"], "--variants", self.paths["variant"])
        count, section = self.suspect_section(text)
        self.assertEqual(count, 2, text)
        self.assertIn("`variant/master_bf16_copy/%d`" % N, section)
        self.assertIn("`variant_isa/to_bf16/avx2/%d`" % N, section)
        self.assertNotIn("complete run", section)

    def test_disagreeing_rows_are_timed_alone_again(self):
        # --disagreeing-names lists exactly the rows whose lone run disagrees.
        names = self.report("--disagreeing-names", self.paths["dense"], "--retime",
                            self.paths["dense_alone"]).split()
        self.assertEqual(names, [r"^dense_step/f32/avx512f/%d(/min_time:[0-9.]+|/repeats:[0-9]+)*$"
                                 % N])
        # Its second lone run, 30% off the first: the machine's own spread.
        again = os.path.join(self.dir.name, "again.json")
        with open(again, "w") as f:
            json.dump(results([row("dense_step/f32/avx512f/%d" % N, 13.0)]), f)
        text = self.report(self.paths["dense"], "--variants", self.paths["variant"],
                           "--retime", self.paths["dense_alone"], self.paths["variant_alone"],
                           "--retime-again", again)
        count, section = self.suspect_section(text)
        self.assertEqual(count, len(SUSPECTS))
        self.assertIn("(1 of the 1 rows timed alone twice differ between their two lone runs "
                      "by more than 25% as well", text)
        line = next(l for l in section.splitlines()
                    if l.startswith("- `dense_step/f32/avx512f/%d`" % N))
        self.assertIn("; alone again: 13 ms (+30% from the first lone run)", line)

    def test_consistent_results_pass(self):
        text = self.report(self.paths["dense_alone"], "--retime", self.paths["dense_alone"])
        self.assertNotIn("Suspect rows", text)
        self.assertIn("Self-check: each of the 4 rows at n >= 2^22 agrees within 25%", text)

    def test_retime_names_lists_the_large_rows_only(self):
        filters = self.report("--retime-names", self.paths["variant"]).split()
        large = [name for name in VARIANT]
        self.assertEqual(len(filters), len(large))
        for name in large:
            matching = [f for f in filters if re.fullmatch(f, name)]
            self.assertEqual(len(matching), 1, name)
            # Per-benchmark settings in the run name still match.
            self.assertTrue(re.fullmatch(matching[0], name + "/min_time:0.500"))
        self.assertFalse(any(re.fullmatch(f, "variant_isa/to_bf16/avx2/4096") for f in filters))

    def test_host_line_names_the_caches_and_their_source(self):
        first = self.full_report().splitlines()[0]
        self.assertIn("L1d 32768, L2 1048576, L3 unknown bytes (sysfs)", first)

    def test_plot_with_unknown_caches(self):
        try:
            import matplotlib  # noqa: F401 (tests/run does not install it)
        except ImportError:
            self.skipTest("no matplotlib")
        png = os.path.join(self.dir.name, "plot.png")
        self.report(self.paths["dense"], "--plot", png)
        self.assertGreater(os.path.getsize(png), 0)

    def test_emulated_runs_say_so_first(self):
        out = os.path.join(self.dir.name, "report.json")
        text = self.report(self.paths["dense"], "--emulated", "qemu-aarch64 -cpu max",
                           "--json", out)
        self.assertTrue(text.startswith("**Emulated: these figures mean nothing.**"), text)
        self.assertIn("(qemu-aarch64 -cpu max)", text.splitlines()[0])
        with open(out) as f:
            self.assertEqual(json.load(f)["emulated"], "qemu-aarch64 -cpu max")
        self.assertNotIn("Emulated", self.report(self.paths["dense"]))

    def test_embedding_torch_table(self):
        text = self.report(self.paths["dense"], "--embedding-torch",
                           self.paths["embedding_torch"])
        lines = text.splitlines()

        def case_line(dim, distribution):
            found = [l for l in lines if l.startswith("| %d | 20 | %s | 1 |" % (dim, distribution))]
            self.assertEqual(len(found), 1, (dim, distribution, text))
            return [cell.strip() for cell in found[0].strip("|").split("|")]

        # dim, pooling, distribution, threads, unique rows, torch, of which
        # step, adagrad sparse, fused, row-wise, call, the three ratios, target
        met = case_line(128, "uniform")
        self.assertEqual(met[4:], ["40000", "80.000", "60.000", "20.000", "6.400", "5.000",
                                   "6.000", "4.00x", "12.50x", "16.00x", "met"])
        missed = case_line(128, "zipf")
        self.assertEqual(missed[12:], ["8.00x", "10.00x", "**missed**"])
        other_dim = case_line(64, "uniform")
        self.assertEqual(other_dim[12:], ["16.00x", "20.00x", ""])
        self.assertIn("target: torch / fused >= 10x at dim 128", text)
        huge = [l for l in lines if l.startswith("| 128 | ") and "%" in l]
        self.assertEqual(len(huge), 4, text)  # fused_call shares the fused module's memory
        self.assertIn("| 128 | adagrad.torch.EmbeddingBag | 100% | 100% |", huge)
        self.assertIn("| 128 | nn.EmbeddingBag(sparse=True) + torch.optim.Adagrad | 0% | 25% |",
                      huge)
        out = os.path.join(self.dir.name, "report.json")
        self.report(self.paths["dense"], "--embedding-torch", self.paths["embedding_torch"],
                    "--json", out)
        with open(out) as f:
            self.assertEqual(len(json.load(f)["embedding_torch_bench"]["results"]),
                             len(EMBEDDING_MS) * len(EMBEDDING_NAMES) + 3)
        # The row limit: the fastest setting, fused = 6.4 ms against 4 ms.
        limit = [l for l in lines if l.startswith("| 128 | 20 | uniform | 80.000 |")]
        self.assertEqual(limit, ["| 128 | 20 | uniform | 80.000 | 6.400 | 4.000 (l2l1-8) | 0.62 "
                                 "| 12.50x | 20.00x |"])

    def test_torch_step_against_the_same_run_stream(self):
        lines = self.report(self.paths["dense"], "--torch", self.paths["torch"]).splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith("The step-only cases"))
        table = [l for l in lines[start:] if l.startswith("| bert_base |")]
        # Stream: 12 bytes x 10^8 in 50 ms = 24 GB/s on one thread; a 20-byte
        # step at that speed takes 83.3 ms: torch's 200 ms allows 2.40x.
        self.assertEqual(table[0], "| bert_base | 1 | adagrad | 20 | 20.0 | 0.83 |  |  |")
        self.assertEqual(table[1],
                         "| bert_base | 1 | torch_foreach_false | 44 | 22.0 | 0.92 | 2.00x | 2.40x |")
        self.assertEqual(table[2],
                         "| bert_base | 1 | torch_foreach_true | 44 | 11.0 | 0.46 | 4.00x | 4.80x |")
        # Two threads: 30 GB/s; the stream itself gains 1.25x.
        self.assertIn("| bert_base | 2 | torch_foreach_false | 44 | 29.3 | 0.98 | 2.34x | 2.25x |",
                      table)
        self.assertIn("| bert_base | 2 | stream, 2 threads against 1 | | | | 1.25x | |", table)
        # The stream is a limit, not an optimizer of the main table.
        self.assertFalse(any(l.startswith("| bert_base | 1 | stream |") for l in lines))

    def test_sparse_step_against_the_same_run_row_limit(self):
        lines = self.report(self.paths["dense"], "--torch", self.paths["torch"]).splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith("The sparse cases against"))
        self.assertIn("avx2", lines[start])
        table = [l for l in lines[start:] if l.startswith("| dlrm_uniform |")]
        # The fastest setting (4) is the limit: 200 / 25 = 8x at most.
        self.assertEqual(table, [
            "| dlrm_uniform | torch_foreach_false | 200.000 | 80.000 | 2.50x | 25.000 (4) | 8.00x |",
            "| dlrm_uniform | torch_foreach_true | 190.000 | 80.000 | 2.38x | 25.000 (4) | 7.60x |"])
        # The limit rows are not optimizers of the main table.
        self.assertFalse(any(l.startswith("| dlrm_uniform | 1 | row_limit") for l in lines))

    def test_rest_saved_pairs_the_rounds(self):
        lines = self.report(self.paths["dense"], "--torch", self.paths["torch"]).splitlines()
        rows = [l for l in lines if l.startswith("| dlrm_uniform | 1 | torch_foreach")]
        # Saved train 120, saved step 120 (medians); rest saved: the median of
        # the per-round differences, 10; no per-round times: "-".
        self.assertEqual(rows, [
            "| dlrm_uniform | 1 | torch_foreach_false | 300.000 | 200.000 | 1.67x | 2.50x "
            "| 120.00 | 120.00 | 10.00 |",
            "| dlrm_uniform | 1 | torch_foreach_true | 290.000 | 190.000 | 1.61x | 2.38x "
            "| 110.00 | 110.00 | - |"])

    def test_without_matplotlib_the_plot_is_skipped(self):
        # A matplotlib that fails to import, first on the path.
        fake = os.path.join(self.dir.name, "no_matplotlib", "matplotlib")
        os.makedirs(fake)
        with open(os.path.join(fake, "__init__.py"), "w") as f:
            f.write("raise ImportError('no matplotlib here')\n")
        paths = {name: os.path.join(self.dir.name, name)
                 for name in ("report.md", "report.json", "plot.png")}
        text = self.report(self.paths["dense"], "--markdown", paths["report.md"],
                           "--json", paths["report.json"], "--plot", paths["plot.png"],
                           env=dict(os.environ, PYTHONPATH=os.path.dirname(fake)))
        self.assertIn("Plot skipped: this python3 has no matplotlib", text)
        self.assertFalse(os.path.exists(paths["plot.png"]))
        with open(paths["report.md"]) as f:
            self.assertIn("Plot skipped", f.read())
        with open(paths["report.json"]) as f:
            self.assertIsNone(json.load(f)["plot"])


def bag_row(name, us, cpu_us=None):
    """An embedding_bag_bench median row, us per iteration."""
    t = us * 1e3
    return {"name": name + "/real_time_median", "run_name": name + "/real_time",
            "run_type": "aggregate", "aggregate_name": "median", "repetitions": 5,
            "real_time": t, "cpu_time": (cpu_us if cpu_us is not None else us) * 1e3,
            "time_unit": "ns"}


CASE = "elem/huge/uniform/pool:20/128"
EMBEDDING_BAG = [
    bag_row("embedding_bag/fused/" + CASE, 1000),
    bag_row("embedding_bag/unfused/" + CASE, 2000),
    bag_row("embedding_bag_stream/" + CASE, 400),
    bag_row("embedding_bag_gather/%s/prefetch:0" % CASE, 1200),
    bag_row("embedding_bag_gather/%s/prefetch:8" % CASE, 970),
    bag_row("embedding_bag_gather/%s/prefetch:32" % CASE, 1000),
    bag_row("embedding_bag_gather/%s/prefetch_l2:8" % CASE, 960),
    bag_row("embedding_bag_gather/%s/prefetch_l2_l1:16" % CASE, 950),   # the best setting
    bag_row("embedding_bag_gather/%s/prefetch_l2_l1:32" % CASE, 980),
    bag_row("embedding_bag_gather/%s/prefetch_l2_bursts:8" % CASE, 955),
    # A case without limits: no line in the limits table.
    bag_row("embedding_bag/fused/elem/4k/uniform/pool:1/32", 10),
    bag_row("embedding_bag/unfused/elem/4k/uniform/pool:1/32", 12),
    bag_row("embedding_bag_threads/fused/elem/threads:1", 900),
    bag_row("embedding_bag_threads/fused/elem/threads:2", 500),
    bag_row("embedding_bag_threads/unfused/elem/threads:1", 1500),
    bag_row("embedding_bag_threads/unfused/elem/threads:2", 1000),
    bag_row("embedding_bag_loaded/fused/elem/4k/uniform/pool:20/128/neighbour:none", 1000),
    bag_row("embedding_bag_loaded/fused/elem/4k/uniform/pool:20/128/neighbour:stream", 2500,
            cpu_us=1250),
    bag_row("embedding_bag_loaded/fused/elem/huge/uniform/pool:20/128/neighbour:none", 800),
    bag_row("embedding_bag_loaded/fused/elem/huge/uniform/pool:20/128/neighbour:stream", 900),
]


class EmbeddingBagTest(unittest.TestCase):
    """The embedding-bag tables: fused against its limits (the best prefetch
    form and distance named), two threads against one, loaded against quiet, each
    with its target."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.dense = os.path.join(self.dir.name, "dense.json")
        self.bags = os.path.join(self.dir.name, "embedding_bag.json")
        self.json = os.path.join(self.dir.name, "report.json")
        with open(self.dense, "w") as f:
            json.dump(results([]), f)
        with open(self.bags, "w") as f:
            json.dump(results(EMBEDDING_BAG), f)
        out = subprocess.run([sys.executable, REPORT, self.dense, "--embedding-bag", self.bags,
                              "--json", self.json], check=True, capture_output=True, text=True)
        self.text = out.stdout
        with open(self.json) as f:
            self.limits = json.load(f)["embedding_bag_limits"]

    def line(self, *cells):
        found = [l for l in self.text.splitlines()
                 if l.startswith("| ") and all("| %s |" % c in l for c in cells)]
        self.assertEqual(len(found), 1, (cells, self.text))
        return found[0]

    def test_fused_against_stream_and_best_gather(self):
        line = self.line("elem", "huge", "uniform", "20", "128", "0.40")
        # The largest fused gain: unfused 2000 us over the best gather's 950.
        self.assertIn("| 950 us (L2 16 + L1 2) | 0.95 | yes | 2.11x |", line)
        (case,) = self.limits["limits"]
        self.assertEqual(case["best_prefetch"], "L2 16 + L1 2")
        self.assertEqual(case["gather_ns"]["8"], 970e3)
        self.assertEqual(case["gather_ns"]["L2 8"], 960e3)
        self.assertEqual(case["gather_ns"]["L2 8 bursts"], 955e3)
        self.assertAlmostEqual(case["largest_fused_gain"], 2000 / 950)
        self.assertAlmostEqual(case["fraction_of_stream"], 0.4)
        self.assertAlmostEqual(case["fraction_of_best_gather"], 0.95)
        self.assertIn("target >= 0.5", self.text)
        self.assertIn("target >= 0.9", self.text)

    def test_threads(self):
        self.assertIn("| 1.80x | yes |", self.line("fused", "elem", "900 us", "500 us"))
        self.assertIn("| 1.50x | no |", self.line("unfused", "elem", "1.5 ms"))
        self.assertIn("target >= 1.7x", self.text)

    def test_loaded_against_quiet(self):
        self.assertIn("| 0.40 | no | 0.80 |", self.line("fused", "elem", "4k", "2.5 ms"))
        self.assertIn("| 0.89 | yes | 0.89 |", self.line("fused", "elem", "huge", "900 us"))
        kept = {case["pages"]: case["speed_kept"] for case in self.limits["loaded"]}
        self.assertAlmostEqual(kept["4k"], 0.4)


if __name__ == "__main__":
    REPORT = sys.argv.pop(1)
    unittest.main(verbosity=2)
