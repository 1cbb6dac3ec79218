#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Times this library's AdaGrad step against PyTorch and the seed NumPy code.

What it measures: the time of one AdaGrad step on one dense parameter tensor
of n elements, reported in nanoseconds per element, for

  adagrad               this library's adagrad_step / adagrad_step_f64,
                        called through ctypes on NumPy arrays;
  adagrad_python        the same step through the library's Python package,
                        adagrad.step(w, g, G, lr=0.01) as a user calls it
                        (with --package: the directory holding the package);
  numpy_seed            the seed notebook's NumPy AdaGrad class, the
                        project's origin, copied verbatim;
  torch_foreach_false   torch.optim.Adagrad(foreach=False), one opt.step();
  torch_foreach_true    torch.optim.Adagrad(foreach=True), one opt.step();

each in float32 ("f32") and float64 ("f64"), on every requested size.

Why this way: speedups are only meaningful when both sides were measured
under the same conditions, so every implementation runs in this one process,
in the same run, on the same sizes and the same data, on one thread
(torch.set_num_threads(1); the library's single-tensor step never starts a
thread, and NumPy's elementwise operations are single-threaded). The
"library speedup" column is (that implementation's ns/element) / (the
library's ns/element) for the same dtype and n, so the library's own rows
read 1.00x.

Timing: each (implementation, dtype, n) is warmed up, then the step is
called in a loop for at least MIN_SECONDS (and at least MIN_CALLS calls);
that loop is repeated REPEATS times and the median per-call time is kept.
Only the step is timed (for PyTorch: opt.step() with a fixed gradient
already in .grad). The accumulators start at zero everywhere, as PyTorch's
default initial_accumulator_value=0. Each implementation keeps its own
defaults for eps (PyTorch 1e-10, the seed class and the library 1e-8); the
value of eps does not change the work done. lr is 0.01 everywhere.

Sparse (embedding-table) steps, in the same process and the same way: a
table of SPARSE_ROWS rows x dim (32, 64, 128, 256), a batch of SPARSE_BATCH
int64 indices, uniform or Zipf (s = 1.05 over the rows, ranks scattered by a
fixed random permutation), fixed seeds, one gradient row per index, for

  torch_sparse          nn.Embedding(rows, dim, sparse=True) parameters with
                        torch.optim.Adagrad (lr 0.01, its defaults otherwise),
                        timing only optimizer.step() with .grad set once to a
                        prebuilt, uncoalesced sparse COO gradient (the batch's
                        indices, batch x dim values), as an embedding's
                        backward leaves it; each step coalesces it again;
  adagrad               this library's adagrad_sparse_step (per-element state,
                        ADAGRAD_DUPLICATES_SUM: PyTorch's coalesce semantics,
                        no pool) through ctypes, on the same batch, the same
                        gradient values and a copy of the same table, its
                        state starting at zero as PyTorch's.

Both are timed on the batch again and again (the state grows, as in
training); only the step is inside the timed loop.

Usage:
  /usr/bin/python3 bench/compare.py --lib build/bench/libadagrad.so \\
      --out compare.json [--package build/bench/python]
      [--sizes 4096,65536,1048576,16777216]
      [--sparse-dims 32,64,128,256] [--no-dense] [--no-sparse]

Use Debian's /usr/bin/python3, which sees Debian's python3-numpy and
python3-torch. Without PyTorch the torch rows are skipped; NumPy is required.
"""
import argparse
import ctypes
import json
import math
import os
import platform
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("compare.py: NumPy is required (apt-get install python3-numpy, "
             "and run with /usr/bin/python3)")

DEFAULT_SIZES = [4096, 65536, 1048576, 16777216]
MIN_SECONDS = 0.2
MIN_CALLS = 3
REPEATS = 5
WARMUP_CALLS = 2
SEED = 20240601
LR = 0.01
IMPLEMENTATIONS = ["adagrad", "adagrad_python", "numpy_seed", "torch_foreach_false",
                   "torch_foreach_true"]
SPARSE_ROWS = 1 << 20
SPARSE_BATCH = 65536
SPARSE_DIMS = [32, 64, 128, 256]
ZIPF_EXPONENT = 1.05
SPARSE_SEED = 20240602
ADAGRAD_DUPLICATES_SUM = 0
NUMPY_DTYPES = {"f32": np.float32, "f64": np.float64}


# The seed notebook's AdaGrad class, kept in one place: tests/seed_reference.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from seed_reference import AdaGrad  # noqa: E402


class AdagradParams(ctypes.Structure):
    """adagrad_params from include/adagrad/adagrad.h."""
    _fields_ = [
        ("lr", ctypes.c_double),
        ("eps", ctypes.c_double),
        ("weight_decay", ctypes.c_double),
        ("lr_decay", ctypes.c_double),
        ("step", ctypes.c_uint64),
        ("maximize", ctypes.c_int),
        ("eps_mode", ctypes.c_int),  # enum adagrad_eps_mode, int-sized
        # The struct ends with fma; without it adagrad_params_default() would
        # write past this object and the step would read an undefined fma.
        ("fma", ctypes.c_int),
    ]


def load_library(path):
    """Opens libadagrad.so and declares the C functions this script calls."""
    lib = ctypes.CDLL(os.path.abspath(path))
    lib.adagrad_params_default.argtypes = []
    lib.adagrad_params_default.restype = AdagradParams
    # Plain addresses (c_void_p) rather than typed pointers: ctypes converts
    # them fastest, which keeps this thin Python path's per-call cost small.
    for name in ("adagrad_step", "adagrad_step_f64"):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_size_t, ctypes.c_void_p]
        fn.restype = ctypes.c_int
    lib.adagrad_sparse_workspace_size.argtypes = [ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
    lib.adagrad_sparse_workspace_size.restype = ctypes.c_size_t
    # table, state, num_rows, dim, indices, num_indices, grads, params, dup,
    # workspace, workspace_size, pool
    lib.adagrad_sparse_step.argtypes = (
        [ctypes.c_void_p] * 2 + [ctypes.c_size_t] * 2 + [ctypes.c_void_p, ctypes.c_size_t]
        + [ctypes.c_void_p] * 2 + [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_void_p])
    lib.adagrad_sparse_step.restype = ctypes.c_int
    lib.adagrad_active_isa.argtypes = []
    lib.adagrad_active_isa.restype = ctypes.c_int
    lib.adagrad_isa_name.argtypes = [ctypes.c_int]
    lib.adagrad_isa_name.restype = ctypes.c_char_p
    lib.adagrad_status_string.argtypes = [ctypes.c_int]
    lib.adagrad_status_string.restype = ctypes.c_char_p
    return lib


def import_package(directory):
    """The library's Python package from directory (a build's python/)."""
    sys.path.insert(0, os.path.abspath(directory))
    import adagrad
    return adagrad


def import_torch():
    """Returns the torch module set to one thread, or None if it is missing."""
    try:
        import torch
    except (ImportError, OSError) as error:
        print("compare.py: PyTorch cannot be imported (%s); skipping the torch rows. "
              "Install Debian's python3-torch and run with /usr/bin/python3." % error,
              file=sys.stderr)
        return None
    torch.set_num_threads(1)
    return torch


def make_data(n, dtype):
    """Fixed-seed weights (standard normal) and gradient (normal, scaled by 0.1)."""
    rng = np.random.default_rng(SEED)
    weights = rng.standard_normal(n).astype(dtype)
    grads = (0.1 * rng.standard_normal(n)).astype(dtype)
    return weights, grads


def library_step(lib, dtype, weights, grads):
    """A no-argument callable running one adagrad_step(_f64) on copies of the data."""
    w = weights.copy()
    g = grads.copy()
    G = np.zeros_like(w)
    fn = lib.adagrad_step if dtype == "f32" else lib.adagrad_step_f64
    w_ptr, g_ptr, G_ptr = (a.ctypes.data for a in (w, g, G))
    params = lib.adagrad_params_default()
    params.lr = LR
    params_ref = ctypes.addressof(params)
    n = w.size

    def step():
        status = fn(w_ptr, g_ptr, G_ptr, n, params_ref)
        if status != 0:
            raise RuntimeError("%s returned %d (%s)" % (
                fn.__name__, status, lib.adagrad_status_string(status).decode()))
    # The closure holds the arrays, so the raw pointers stay valid while it lives.
    step.buffers = (w, g, G, params)
    return step


def package_step(package, weights, grads):
    """A no-argument callable running the package's adagrad.step on copies of
    the data: the arrays themselves, checked on every call."""
    w = weights.copy()
    g = grads.copy()
    G = np.zeros_like(w)
    step = package.step
    return lambda: step(w, g, G, lr=LR)


def numpy_seed_step(weights, grads):
    """A no-argument callable running one step of the seed AdaGrad class."""
    w = weights.copy()
    g = grads.copy()
    optimizer = AdaGrad(lr=LR)
    return lambda: optimizer.step(w, g)


def torch_step(torch, foreach, weights, grads):
    """A no-argument callable running one torch.optim.Adagrad step (foreach on or off)."""
    param = torch.nn.Parameter(torch.from_numpy(weights.copy()))
    param.grad = torch.from_numpy(grads.copy())
    optimizer = torch.optim.Adagrad([param], lr=LR, foreach=foreach)
    return optimizer.step


def median_ns_per_call(step):
    """Warms up, sizes the loop to MIN_SECONDS, returns the median ns per call."""
    for _ in range(WARMUP_CALLS):
        step()
    start = time.perf_counter_ns()
    step()
    one_call = max(time.perf_counter_ns() - start, 1)
    calls = max(MIN_CALLS, math.ceil(MIN_SECONDS * 1e9 / one_call))
    per_call = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for _ in range(calls):
            step()
        per_call.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(per_call)


def make_step(implementation, lib, package, torch, dtype_name, weights, grads):
    """The step callable of one implementation, on its own copies of the data."""
    if implementation == "adagrad":
        return library_step(lib, dtype_name, weights, grads)
    if implementation == "adagrad_python":
        return package_step(package, weights, grads)
    if implementation == "numpy_seed":
        return numpy_seed_step(weights, grads)
    return torch_step(torch, implementation == "torch_foreach_true", weights, grads)


def measure(lib, package, torch, sizes):
    """Times every implementation on every size and dtype; returns the result rows."""
    implementations = [i for i in IMPLEMENTATIONS
                       if (torch is not None or not i.startswith("torch"))
                       and (package is not None or i != "adagrad_python")]
    results = []
    for n in sizes:
        for dtype_name, dtype in NUMPY_DTYPES.items():
            weights, grads = make_data(n, dtype)
            for implementation in implementations:
                step = make_step(implementation, lib, package, torch, dtype_name, weights,
                                 grads)
                ns = median_ns_per_call(step)
                del step  # frees this implementation's buffers before the next one
                results.append({"n": n, "implementation": implementation,
                                "dtype": dtype_name, "ns_per_element": ns / n})
                print("  measured n=%d %s %s" % (n, implementation, dtype_name),
                      file=sys.stderr, flush=True)
    return results


def sparse_batch(distribution, rows, batch):
    """batch fixed-seed int64 row indices: uniform, or Zipf (rank k with
    probability proportional to k^-ZIPF_EXPONENT, by inverting the cumulative
    distribution) with the ranks scattered over the table by a fixed random
    permutation, so that the hot rows are not adjacent."""
    rng = np.random.default_rng([SPARSE_SEED, 0 if distribution == "uniform" else 1])
    if distribution == "uniform":
        return rng.integers(0, rows, batch, dtype=np.int64)
    cdf = np.cumsum(np.arange(1, rows + 1, dtype=np.float64) ** -ZIPF_EXPONENT)
    ranks = np.searchsorted(cdf, rng.random(batch) * cdf[-1], side="right")
    permutation = rng.permutation(rows)
    return permutation[np.minimum(ranks, rows - 1)].astype(np.int64)


def torch_sparse_step(torch, embedding, indices, grads):
    """A no-argument callable: torch.optim.Adagrad.step() on an embedding
    whose .grad is the batch's uncoalesced sparse COO gradient."""
    rows, dim = embedding.weight.shape
    embedding.weight.grad = torch.sparse_coo_tensor(
        torch.from_numpy(indices).unsqueeze(0), torch.from_numpy(grads), (rows, dim))
    # The bound method keeps the optimizer (and its state) alive.
    return torch.optim.Adagrad(embedding.parameters(), lr=LR).step


def library_sparse_step(lib, table, state, indices, grads):
    """A no-argument callable: adagrad_sparse_step (SUM, no pool) on table and
    state in place (C-contiguous float32 rows x dim, NumPy arrays or CPU
    tensors, each kept alive by the callable)."""
    rows, dim = table.shape
    workspace_size = lib.adagrad_sparse_workspace_size(indices.size, dim, ADAGRAD_DUPLICATES_SUM)
    workspace = np.empty(workspace_size, dtype=np.uint8)
    params = lib.adagrad_params_default()
    params.lr = LR

    def address(array):
        return array.ctypes.data if isinstance(array, np.ndarray) else array.data_ptr()

    arguments = (address(table), address(state), rows, dim, indices.ctypes.data, indices.size,
                 grads.ctypes.data, ctypes.addressof(params), ADAGRAD_DUPLICATES_SUM,
                 workspace.ctypes.data, workspace_size, None)
    fn = lib.adagrad_sparse_step

    def step():
        status = fn(*arguments)
        if status != 0:
            raise RuntimeError("adagrad_sparse_step returned %d (%s)" % (
                status, lib.adagrad_status_string(status).decode()))
    step.buffers = (table, state, workspace, params, indices, grads)
    return step


def measure_sparse(lib, torch, dims, rows=SPARSE_ROWS, batch=SPARSE_BATCH):
    """Times torch.optim.Adagrad's sparse step and adagrad_sparse_step on the
    same batches; returns the result rows."""
    results = []
    batches = {d: sparse_batch(d, rows, batch) for d in ("uniform", "zipf")}
    for dim in dims:
        for distribution, indices in batches.items():
            unique_rows = int(np.unique(indices).size)
            grads = (0.1 * np.random.default_rng([SPARSE_SEED, 2, dim]).standard_normal(
                (batch, dim))).astype(np.float32)

            def record(name, ns):
                results.append({"implementation": name, "dim": dim, "distribution": distribution,
                                "rows": rows, "indices": batch, "unique_rows": unique_rows,
                                "ms_per_step": ns / 1e6, "ns_per_index": ns / batch})
                print("  measured sparse dim=%d %s %s" % (dim, distribution, name),
                      file=sys.stderr, flush=True)

            # One after the other, each on its own copy of the table and its
            # own state, the other's memory freed first. With PyTorch the
            # library's table and state are tensors from PyTorch's allocator
            # too, so both sides get the same kind of memory (NumPy would ask
            # the kernel for transparent huge pages on large arrays, PyTorch
            # 1.13 does not, and the TLB is part of what a sparse step costs).
            if torch is not None:
                torch.manual_seed(SPARSE_SEED)
                embedding = torch.nn.Embedding(rows, dim, sparse=True)
                table = embedding.weight.detach().clone()
                state = torch.zeros_like(table)
                step = torch_sparse_step(torch, embedding, indices, grads)
                record("torch_sparse", median_ns_per_call(step))
                del step, embedding  # its weight, state and gradient
            else:
                table = np.random.default_rng([SPARSE_SEED, 3, dim]).standard_normal(
                    (rows, dim), dtype=np.float32)
                state = np.zeros_like(table)
            step = library_sparse_step(lib, table, state, indices, grads)
            record("adagrad", median_ns_per_call(step))
            del step, table, state
    return results


def sparse_markdown_table(results):
    """The sparse results as a markdown table with the library's speedup."""
    library = {(r["dim"], r["distribution"]): r["ms_per_step"]
               for r in results if r["implementation"] == "adagrad"}
    lines = ["| dim | distribution | unique rows | implementation | ms/step | ns/index "
             "| library speedup |", "|---:|---|---:|---|---:|---:|---:|"]
    for r in results:
        lines.append("| %d | %s | %d | %s | %.3f | %.1f | %.2fx |" % (
            r["dim"], r["distribution"], r["unique_rows"], r["implementation"], r["ms_per_step"],
            r["ns_per_index"], r["ms_per_step"] / library[(r["dim"], r["distribution"])]))
    return "\n".join(lines)


def markdown_table(results):
    """The results as a markdown table with the speedup of the library over each row."""
    library = {(r["n"], r["dtype"]): r["ns_per_element"]
               for r in results if r["implementation"] == "adagrad"}
    lines = ["| n | implementation | dtype | ns/element | library speedup |",
             "|---:|---|---|---:|---:|"]
    for r in results:
        speedup = r["ns_per_element"] / library[(r["n"], r["dtype"])]
        lines.append("| %d | %s | %s | %.3f | %.2fx |" % (
            r["n"], r["implementation"], r["dtype"], r["ns_per_element"], speedup))
    return "\n".join(lines)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def context(lib, lib_path, torch, sizes):
    """What the numbers depend on: versions, ISA, host and timing method."""
    return {
        "library": os.path.abspath(lib_path),
        "active_isa": lib.adagrad_isa_name(lib.adagrad_active_isa()).decode(),
        "numpy_version": np.__version__,
        "torch_version": torch.__version__ if torch is not None else None,
        "torch_num_threads": torch.get_num_threads() if torch is not None else None,
        "python_version": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "host_cpu_count": os.cpu_count(),
        "sizes": sizes,
        "timing": {"clock": "time.perf_counter_ns", "min_seconds_per_repeat": MIN_SECONDS,
                   "min_calls_per_repeat": MIN_CALLS, "repeats": REPEATS,
                   "warmup_calls": WARMUP_CALLS, "statistic": "median per-call time"},
        "lr": LR,
        "seed": SEED,
    }


def parse_sizes(text):
    sizes = [int(s) for s in text.split(",") if s.strip()]
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("sizes must be positive integers, comma separated")
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True, help="path to libadagrad.so")
    parser.add_argument("--out", required=True, help="JSON file to write the results to")
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES,
                        help="comma-separated element counts (default: %s)"
                        % ",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--sparse-dims", type=parse_sizes, default=SPARSE_DIMS,
                        help="comma-separated embedding dims of the sparse comparison "
                        "(default: %s)" % ",".join(map(str, SPARSE_DIMS)))
    parser.add_argument("--package", help="directory holding the library's Python package "
                        "(adagrad/), built against --lib; adds the adagrad_python rows")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense comparison")
    parser.add_argument("--no-sparse", action="store_true", help="skip the sparse comparison")
    args = parser.parse_args()

    lib = load_library(args.lib)
    package = import_package(args.package) if args.package else None
    torch = import_torch()
    run_context = context(lib, args.lib, torch, args.sizes)
    print("active ISA: %s, numpy %s, torch %s, %d CPUs" % (
        run_context["active_isa"], run_context["numpy_version"],
        run_context["torch_version"] or "not available", run_context["host_cpu_count"]))

    results = [] if args.no_dense else measure(lib, package, torch, args.sizes)
    if results:
        print()
        print(markdown_table(results))
    sparse_results = [] if args.no_sparse else measure_sparse(lib, torch, args.sparse_dims)
    if sparse_results:
        print()
        print(sparse_markdown_table(sparse_results))
    sparse_context = {"rows": SPARSE_ROWS, "batch": SPARSE_BATCH, "dims": args.sparse_dims,
                      "zipf_exponent": ZIPF_EXPONENT, "seed": SPARSE_SEED,
                      "duplicates": "sum", "index_dtype": "int64",
                      "torch_version": run_context["torch_version"],
                      "torch_optimizer": "torch.optim.Adagrad(lr=%g), sparse COO grad, "
                                         "optimizer.step() only" % LR}
    with open(args.out, "w") as out:
        json.dump({"context": run_context, "results": results,
                   "sparse_context": sparse_context, "sparse_results": sparse_results},
                  out, indent=2)
        out.write("\n")


if __name__ == "__main__":
    main()
