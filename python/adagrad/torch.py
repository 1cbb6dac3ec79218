# SPDX-License-Identifier: BSD-3-Clause
"""torch.optim.Adagrad computed by the adagrad library, with the same bits.

Adagrad here is a drop-in replacement for torch.optim.Adagrad (PyTorch 1.13)
on CPU float32, float64, complex64, complex128, bfloat16 and float16
parameters, with dense gradients or (float32, float64) sparse ones: the same signature and hyperparameters, the same state
(``state[p]["step"]``, a float tensor, and ``state[p]["sum"]``), so that
state_dict() loads from one optimizer into the other, and the same results
bit for bit as ``torch.optim.Adagrad(foreach=False)``. The step runs in
place on NumPy views of the parameter, gradient and sum tensors (they share
memory), without copies where their layout allows, one library call per
param group and dtype.
"""
import ctypes
import functools
import os
import warnings

import numpy as np
import torch

import adagrad

_SUPPORTED_DTYPES = (torch.float32, torch.float64)
# Complex parameters step as torch steps them: on torch.view_as_real views.
_COMPLEX_DTYPES = (torch.complex64, torch.complex128)
# 16-bit parameters step through the library's mixed-precision step
# (adagrad.step_mixed), their sum in float32; the names it takes.
_HALF_DTYPES = {torch.bfloat16: "bf16", torch.float16: "fp16"}
_ROUNDINGS = ("nearest", "stochastic")

# The probe's run: a prime length, so that both the vector body and a tail
# of every vector width take part, and a few steps that use every term of
# the update (weight decay, lr decay).
_PROBE_ELEMENTS = 1031
_PROBE_STEPS = 3
_PROBE_SEED = 2011
_PROBE_HYPERPARAMETERS = dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-10)


def _probe_matches(dtype, fma):
    """Whether adagrad.step(fma=fma) reproduces torch.optim.Adagrad(foreach=False)
    bit for bit, parameters and sums, on the probe's fixed random run."""
    generator = torch.Generator().manual_seed(_PROBE_SEED)
    initial = torch.randn(_PROBE_ELEMENTS, generator=generator, dtype=dtype)
    grads = [torch.randn(_PROBE_ELEMENTS, generator=generator, dtype=dtype)
             for _ in range(_PROBE_STEPS)]

    param = initial.clone()
    reference = torch.optim.Adagrad([param], foreach=False, **_PROBE_HYPERPARAMETERS)
    for grad in grads:
        param.grad = grad
        reference.step()

    w = initial.numpy().copy()
    G = np.zeros_like(w)
    for step, grad in enumerate(grads, start=1):
        adagrad.step(w, grad.numpy(), G, step=step, fma=fma, **_PROBE_HYPERPARAMETERS)
    return (w.tobytes() == param.numpy().tobytes()
            and G.tobytes() == reference.state[param]["sum"].numpy().tobytes())


@functools.lru_cache(maxsize=None)
def probe_fma():
    """The fma mode of adagrad.step that reproduces the installed PyTorch.

    Whether PyTorch's CPU kernels fuse G + g * g and g + weight_decay * w into
    fused multiply-adds depends on how it was built and on the CPU it runs on
    (its AVX2 and AVX-512 kernels use FMA, its baseline ones do not), so it is
    measured rather than assumed: torch.optim.Adagrad(foreach=False) runs a
    small fixed problem in float32 and float64 and the mode whose results
    match bit for bit in both is returned. When both match, the plain mode
    (False) is returned. When neither matches, a RuntimeWarning says so and
    False is returned: results then differ from PyTorch's in the last bits.

    The result is cached: the kernels PyTorch runs do not change within a
    process. The probe uses its own generator and leaves the global random
    state alone.
    """
    with torch.no_grad():
        for fma in (False, True):
            if all(_probe_matches(dtype, fma) for dtype in _SUPPORTED_DTYPES):
                return fma
    warnings.warn(
        "adagrad.torch: neither fma=False nor fma=True reproduces this PyTorch's "
        "torch.optim.Adagrad bit for bit; using fma=False", RuntimeWarning, stacklevel=3)
    return False


# The sparse probe's run: few rows, many indices (each row about 27 times,
# so that the order of the sums shows, and more than 16 so that the sort
# partitions), a dim that is no multiple of a vector width.
_SPARSE_PROBE_SHAPE = (37, 19, 1000)
_SPARSE_PROBE_HYPERPARAMETERS = dict(lr=0.1, lr_decay=0.01, eps=1e-10)


def _sparse_probe_matches(fma):
    """Whether adagrad.sparse_step(duplicates="torch", fma=fma) reproduces
    torch.optim.Adagrad's step of a sparse float32 gradient bit for bit,
    parameters and sums, on the probe's fixed random run."""
    rows, dim, count = _SPARSE_PROBE_SHAPE
    generator = torch.Generator().manual_seed(_PROBE_SEED)
    initial = torch.randn(rows, dim, generator=generator)
    batches = [(torch.randint(0, rows, (count,), generator=generator),
                torch.randn(count, dim, generator=generator)) for _ in range(_PROBE_STEPS)]

    param = initial.clone()
    reference = torch.optim.Adagrad([param], foreach=False, **_SPARSE_PROBE_HYPERPARAMETERS)
    for indices, values in batches:
        param.grad = torch.sparse_coo_tensor(indices[None], values, (rows, dim))
        reference.step()

    w = initial.numpy().copy()
    G = np.zeros_like(w)
    lr, lr_decay, eps = (_SPARSE_PROBE_HYPERPARAMETERS[k] for k in ("lr", "lr_decay", "eps"))
    for step, (indices, values) in enumerate(batches, start=1):
        adagrad.sparse_step(w, G, indices.numpy(), values.numpy(),
                            lr=lr / (1 + (step - 1) * lr_decay), eps=eps, fma=fma,
                            duplicates="torch")
    return (w.tobytes() == param.numpy().tobytes()
            and G.tobytes() == reference.state[param]["sum"].numpy().tobytes())


@functools.lru_cache(maxsize=None)
def probe_sparse():
    """The fma mode of adagrad.sparse_step(duplicates="torch") that
    reproduces the installed PyTorch's step of a sparse float32 gradient, or
    None when neither does.

    duplicates="torch" sums a row's occurrences in the order PyTorch 1.13's
    coalesce() does (libstdc++'s std::sort order, transcribed) and updates
    in its order; whether torch's param.add_(..., alpha=-clr) fuses its
    multiply-add depends on its build and CPU, so both modes are tried on a
    fixed run with many duplicates, as probe_fma() does for dense steps.
    None (another PyTorch, another sort) makes Adagrad step sparse
    gradients by torch's own operations: the same bits, at torch's speed.
    Cached for the process; its own generator, the global one untouched."""
    with torch.no_grad():
        for fma in (True, False):
            if _sparse_probe_matches(fma):
                return fma
    return None


# adagrad.ThreadPool's limit.
_MAX_THREADS = 1024

# The thread pools the optimizers step on, one per size, kept for the life of
# the process: starting threads for every step would cost more than a small
# model's step.
_pools = {}


def _pool(threads):
    """The module's pool of that many threads (None for one: the calling
    thread)."""
    if threads == 1:
        return None
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools[threads] = adagrad.ThreadPool(threads)
    return pool


def _forget_pools_in_child():
    # A forked child has none of the pools' threads: destroying a pool there
    # would wait for them forever, so the child never frees them (one extra
    # reference each) and makes its own.
    for pool in _pools.values():
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(pool))
    _pools.clear()


os.register_at_fork(after_in_child=_forget_pools_in_child)


class Adagrad(torch.optim.Optimizer):
    """torch.optim.Adagrad (PyTorch 1.13, foreach=False) on the adagrad library.

    The signature is torch.optim.Adagrad's, so positional arguments mean the
    same: (params, lr, lr_decay, weight_decay, initial_accumulator_value,
    eps, foreach), then keyword-only maximize, differentiable and fused
    (PyTorch 2.x's, taken here too), then this library's own keywords.

    foreach and fused are accepted and change nothing: the results are
    always those of torch.optim.Adagrad(foreach=False), bit for bit (torch's
    foreach=True path rounds the decayed rate in float32 and gives other
    bits). differentiable=True raises ValueError: the library's update is
    not an autograd operation.

    fma: whether the library fuses G + g * g and g + weight_decay * w as
    PyTorch's kernels may. fma=None (the default) asks probe_fma(), which
    runs torch.optim.Adagrad once per process and picks the mode that
    matches it bit for bit; if neither mode matches, it warns and uses
    fma=False. The chosen mode is the attribute ``fma``.

    Each step does what torch's _single_tensor_adagrad does: step += 1; the
    gradient negated if maximize; weight decay added; clr = lr / (1 + (step
    - 1) * lr_decay), computed in double exactly as torch computes it (so any
    step count torch steps with, -1 in a loaded state included, gives
    torch's rate) and passed to the library as its rate; sum += g * g;
    p -= clr * g / (sqrt(sum) + eps).

    CPU float32, float64, complex64 and complex128 parameters of any strided
    layout torch steps are supported, with dense gradients. Parameter,
    gradient and sum dense and non-overlapping with the same strides
    (contiguous, channels_last, transposed) step as flat runs of memory,
    without copies; other layouts (slices such as torch.randn(10, 5,
    2)[..., 0], a gradient whose strides differ from the parameter's) step
    through C-order copies, gathered before and scattered back after the
    call; complex parameters step on torch.view_as_real views, as torch's
    do. A tensor not aligned to its element size (torch.frombuffer at an
    odd offset), which torch steps but the library refuses, also goes
    through an aligned copy. What torch's step refuses raises the same
    error type (RuntimeError for a parameter whose elements share memory,
    as torch.randn(1, 4).expand(3, 4), or a conjugated complex gradient
    without weight decay).

    All or nothing: every parameter with a gradient, its state and its
    group's hyperparameters (at each parameter's rate clr, in the
    parameter's dtype) are checked before any parameter, state or step count
    changes, so a step that raises changes nothing; the error names the
    parameter ("parameter i of param group j") or the group: TypeError for a
    dtype, RuntimeError for a sparse gradient with weight decay (as torch) or a
    step count that is not a tensor of one element, ZeroDivisionError for a
    step count where torch's rate divides by zero, ValueError for anything
    else (a rate clr < 0 included).

    16-bit parameters (bfloat16, float16) step through the library's
    mixed-precision step (adagrad.step_mixed) with the sum in float32, not
    in the parameter's dtype as torch 1.13 keeps it: float32 arithmetic on
    the exactly widened parameter and gradient, in torch's order, and the new
    parameter rounded to nearest even (rounding="nearest", the default) or
    stochastically (rounding="stochastic", its random bits keyed by (seed,
    the parameter's step count, the element's index), so reproducible).
    The results therefore differ from torch's bfloat16 path, which rounds
    every operation to bfloat16; torch 1.13 cannot step float16 parameters
    on the CPU at all, and a float16 sum would lose eps = 1e-10 (it rounds
    to 0, and 0 / 0 gives NaN). load_state_dict widens a 16-bit sum from
    torch to float32; torch steps on from a float32 sum.

    Sparse gradients (nn.Embedding and nn.EmbeddingBag with sparse=True)
    step with torch's bits. A float32 table (2-D, contiguous) steps through
    the library's sparse step with duplicates="torch" on the uncoalesced
    gradient, on the thread pool: duplicates summed in the order torch's
    coalesce() sums them and each row updated in the order of torch's sparse
    path (clr * (g / std), adagrad.h says how), in the fma mode
    probe_sparse() found. Other sparse parameters (float64, other layouts),
    a rate the library refuses (a negative step count), or a PyTorch that
    probe_sparse() finds no mode for step by torch's own sparse operations,
    in _single_tensor_adagrad's order: the same bits at torch's speed.
    Weight decay with a sparse gradient raises RuntimeError, as torch's
    does; an index out of range IndexError, with nothing changed.

    Many tensors, threads: a step makes one library call per param group,
    dtype and rate (adagrad.step_multi, adagrad_step_multi), which balances
    the group's tensors over a thread pool by elements. threads=None (the
    default) uses torch.get_num_threads() threads at each step; threads=N
    (an int in [1, 1024], the attribute ``threads``) that many. The pools
    belong to this module, one per size, kept for the life of the process.
    The results are the same bits for any number of threads. Each
    parameter's NumPy views are kept from step to step while its parameter,
    gradient and sum tensors stay where and as they were, and the float32
    step counts the optimizer makes are views of one tensor, incremented
    with one operation. A parameter listed twice in a group is stepped
    twice, as torch's foreach=False steps it (torch warns when the group is
    made; a parameter in two groups is refused by add_param_group with
    ValueError, as torch's); parameters whose memory overlaps raise
    ValueError.

    Autograd: each updated parameter's version counter is bumped once per
    step, as torch's in-place update bumps it, so backward through a graph
    that saved a parameter before step() raises "modified by an inplace
    operation" as it does with torch.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None,
                 fma=None, threads=None, rounding="nearest", seed=0):
        # torch.optim.Adagrad's checks, in its order, with its messages.
        for message, value in (("Invalid learning rate: {}", lr),
                               ("Invalid lr_decay value: {}", lr_decay),
                               ("Invalid weight_decay value: {}", weight_decay),
                               ("Invalid initial_accumulator_value value: {}",
                                initial_accumulator_value),
                               ("Invalid epsilon value: {}", eps)):
            if not 0.0 <= value:
                raise ValueError(message.format(value))
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
            raise TypeError("threads must be None or an int, not {}".format(
                type(threads).__name__))
        if threads is not None and not 1 <= threads <= _MAX_THREADS:
            raise ValueError("threads must be None or in [1, {}], not {}".format(
                _MAX_THREADS, threads))
        if rounding not in _ROUNDINGS:
            raise ValueError('rounding must be "nearest" or "stochastic", not {!r}'.format(
                rounding))
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ValueError("seed must be an int in [0, 2**64), not {!r}".format(seed))
        if differentiable:
            raise ValueError(
                "adagrad.torch.Adagrad does not support differentiable=True: the library's "
                "update is not an autograd operation; use torch.optim.Adagrad for that")
        # foreach is kept in the groups as torch.optim.Adagrad keeps it, so
        # that state dicts have the same keys; fused (PyTorch 2.x) is taken
        # and not kept. Neither changes the results: they are foreach=False's.
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)
        # As torch.optim.Adagrad: state from the start, so that a state_dict
        # taken before the first step is the same as torch's.
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)
        self.fma = probe_fma() if fma is None else bool(fma)
        self.threads = threads
        self.rounding = rounding
        self.seed = seed
        self._pack_steps()

    def _init_state(self, param, group):
        self.state[param] = _new_state(param, group)

    def _pack_steps(self):
        """Makes the float32 step counts of the states views of one tensor,
        self._step_buffer, so that a step increments them all with one
        operation: torch._foreach_add_ over 200 one-element tensors took
        495 us here, more than the library's step of 200 tensors of 1,000
        elements (bench/torch_bench.py's first case). Each count stays a 0-dimensional
        float32 tensor, as torch keeps it, and is incremented in float32 as
        torch's step_t += 1 is. Run when the states are made (the
        constructor) or replaced (load_state_dict, unpickling); a count
        added later (a group added by add_param_group) or set by hand steps
        on its own, with torch._foreach_add_."""
        states = [state for state in self.state.values()
                  if isinstance(state, dict) and _packable(state.get("step"))]
        self._step_buffer = None
        if states:
            self._step_buffer = torch.stack([state["step"] for state in states])
            for index, state in enumerate(states):
                state["step"] = self._step_buffer[index]

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        # torch keeps a 16-bit parameter's sum in the parameter's dtype;
        # here it is float32 (widened exactly).
        for param, state in self.state.items():
            if (param.dtype in _HALF_DTYPES and torch.is_tensor(state.get("sum"))
                    and state["sum"].dtype == param.dtype):
                state["sum"] = state["sum"].float()
        self._pack_steps()

    def __getstate__(self):
        # torch's Optimizer pickles only defaults, state and param_groups.
        return {**super().__getstate__(), "fma": self.fma, "threads": self.threads,
                "rounding": self.rounding, "seed": self.seed}

    def __setstate__(self, state):
        # As torch.optim.Adagrad's: also upgrades state saved by older PyTorch,
        # whose step was a Python number.
        super().__setstate__(state)
        self.__dict__.setdefault("threads", None)
        self.__dict__.setdefault("rounding", "nearest")
        self.__dict__.setdefault("seed", 0)
        self.__dict__.pop("_entries", None)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
        for param_state in self.state.values():
            if "step" in param_state and not torch.is_tensor(param_state["step"]):
                param_state["step"] = torch.tensor(float(param_state["step"]))
        self._pack_steps()

    def share_memory(self):
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param]["sum"].share_memory_()

    @torch.no_grad()
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): A closure that reevaluates the model
                and returns the loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        plan = self._plan()
        # Nothing has changed so far; from here on nothing can fail: every
        # argument of every library call below was checked by _plan.
        for param, state in plan.new_states:
            self.state[param] = state
        self.__dict__.setdefault("_entries", {}).update(plan.new_entries)
        if plan.packed:
            if len(plan.packed) == self._step_buffer.numel() and not plan.repeats:
                self._step_buffer.add_(1)
            else:
                ones = torch.ones(len(plan.packed), dtype=self._step_buffer.dtype)
                self._step_buffer.index_add_(0, torch.tensor(plan.packed), ones)
        if plan.steps:
            torch._foreach_add_(plan.steps, 1)
        pool = _pool(self._thread_count())
        for hyperparameters, w, g, G in plan.batches.values():
            adagrad.step_multi(w, g, G, fma=self.fma, pool=pool, **hyperparameters)
        for entry, hyperparameters in plan.mixed:
            adagrad.step_mixed(entry.w, entry.g, entry.G, w_dtype=entry.half, g_dtype=entry.half,
                               fma=self.fma, rounding=self.rounding, seed=self.seed, pool=pool,
                               **hyperparameters)
        # A parameter listed again in its group steps again (dense ones
        # before their copies are written back), in the order of the lists.
        for entry, hyperparameters in plan.repeats:
            if entry.half:
                adagrad.step_mixed(entry.w, entry.g, entry.G, w_dtype=entry.half,
                                   g_dtype=entry.half, fma=self.fma, rounding=self.rounding,
                                   seed=self.seed, pool=pool, **hyperparameters)
            elif not isinstance(entry, _SparseEntry):
                adagrad.step_multi([entry.w], [entry.g], [entry.G], fma=self.fma, pool=pool,
                                   **hyperparameters)
        for destination, source in plan.writebacks:
            np.copyto(destination, source)
        for entry, lr, eps, maximize in plan.sparse:
            _step_sparse(entry, lr, eps, maximize, pool)
        for entry, hyperparameters in plan.repeats:
            if isinstance(entry, _SparseEntry):
                _step_sparse(entry, pool=pool, **hyperparameters)
        # Each updated parameter's version counter is bumped once, as torch's
        # in-place update bumps it, so that autograd refuses a graph that
        # saved the old values: zero_() on an empty view of the parameter
        # bumps the counter it shares with the parameter and touches no
        # data; one torch._foreach_zero_ for all of them.
        if plan.empty_views:
            torch._foreach_zero_(plan.empty_views)
        return loss

    @staticmethod
    def _count(plan, entry):
        """Adds what every stepped parameter needs besides its library call:
        its step count's increment and its version bump."""
        if entry.step_index is None:
            plan.steps.append(entry.step)
        else:
            plan.packed.append(entry.step_index)
        if entry.empty_view is not None:
            plan.empty_views.append(entry.empty_view)
        plan.entries.append(entry)

    def _thread_count(self):
        return torch.get_num_threads() if self.threads is None else self.threads

    def _plan(self):
        """Checks every parameter that has a gradient, its state and its
        group's hyperparameters, and returns what step() does (a _Plan),
        changing nothing. Anything the library or the step counts would
        refuse raises here.

        Each parameter's NumPy arrays (views of its tensors, when no copy is
        needed) are kept from step to step with what they were made from:
        the parameter's, gradient's and sum's memory, shapes and strides,
        and the gradient, sum and step objects. A parameter whose tensors
        are all as they were skips the checks (they passed for those very
        tensors) and the views' making, which cost more than the library's
        step of a small tensor."""
        entries = self.__dict__.setdefault("_entries", {})
        plan = _Plan()
        # id(param) -> [entry, group index, occurrences so far]
        seen = {}
        changed = False
        for group_index, group in enumerate(self.param_groups):
            lr_decay = group["lr_decay"]
            checked = set()
            for param_index, param in enumerate(group["params"]):
                grad = param.grad
                if grad is None:
                    continue
                identity = id(param)
                if identity in seen:
                    self._plan_repeat(plan, seen[identity], group, group_index, param_index)
                    continue
                state = self.state.get(param)
                entry = entries.get(identity)
                if (entry is None or state is None or entry.param is not param
                        or not entry.holds(param, grad, state)):
                    changed = True
                    name = "parameter {} of param group {}".format(param_index, group_index)
                    if state is None:
                        # A group added by add_param_group gets its state here.
                        state = _new_state(param, group)
                        plan.new_states.append((param, state))
                    if grad.is_sparse:
                        entry = _SparseEntry(param, grad, state, group, name, self._step_buffer)
                    else:
                        entry = _Entry(param, grad, state, group, name, self._step_buffer)
                        if not entry.writebacks and not entry.folded:
                            plan.new_entries.append((identity, entry))
                        plan.writebacks.extend(entry.writebacks)
                seen[identity] = [entry, group_index, 1]
                step_count = entry.step
                lr = group["lr"]
                if lr_decay != 0 or (entry.half and self.rounding == "stochastic"):
                    # torch's clr, in double from the incremented count, as
                    # _single_tensor_adagrad computes it (a count torch would
                    # divide by zero with raises ZeroDivisionError here too).
                    step = (step_count + 1).item()
                    lr = lr / (1 + (step - 1) * lr_decay)
                dtype = entry.dtype
                if dtype not in checked:
                    # The group's own values first, so that the message names
                    # the hyperparameter as the group holds it.
                    _check_hyperparameters(_group_hyperparameters(group, group["lr"], lr_decay),
                                           "param group {}".format(group_index), dtype, self.fma)
                    checked.add(dtype)
                if isinstance(entry, _SparseEntry):
                    if entry.library is not None and lr_decay != 0:
                        entry.check_rate(lr, group["eps"])
                    plan.sparse.append((entry, lr, group["eps"], bool(group["maximize"])))
                    self._count(plan, entry)
                    continue
                if entry.half:
                    hyperparameters = _group_hyperparameters(group, lr, 0)
                    if self.rounding == "stochastic":
                        # Its random bits are keyed by (seed, step, index).
                        if not (step >= 0 and step == int(step)):
                            raise ValueError(
                                "parameter {} of param group {}: stochastic rounding takes an "
                                "integer step count >= 0, not {}".format(param_index, group_index,
                                                                       step))
                        hyperparameters["step"] = int(step)
                    if lr_decay != 0 and (dtype, lr) not in checked:
                        _check_hyperparameters(hyperparameters, "param group {}, parameter {} "
                                               "at step {}: its rate".format(
                                                   group_index, param_index, step), dtype,
                                               self.fma)
                        checked.add((dtype, lr))
                    plan.mixed.append((entry, hyperparameters))
                    self._count(plan, entry)
                    continue
                key = (group_index, dtype, lr, entry.folded)
                batch = plan.batches.get(key)
                if batch is None:
                    hyperparameters = _group_hyperparameters(group, lr, 0)
                    if entry.folded:
                        hyperparameters.update(weight_decay=0, maximize=False)
                    if lr_decay != 0 and (dtype, lr) not in checked:
                        _check_hyperparameters(
                            hyperparameters, "param group {}, parameter {} of param group {} at "
                            "step {}: its rate lr / (1 + (step - 1) * lr_decay)".format(
                                group_index, param_index, group_index, step), dtype, self.fma)
                        checked.add((dtype, lr))
                    batch = plan.batches[key] = (hyperparameters, [], [], [])
                batch[1].append(entry.w)
                batch[2].append(entry.g)
                batch[3].append(entry.G)
                self._count(plan, entry)
        if changed:
            _check_overlaps(plan.entries)
        return plan

    def _plan_repeat(self, plan, seen, group, group_index, param_index):
        """A parameter listed again in its group: torch.optim.Adagrad
        (foreach=False) warns when the group is made and steps it once per
        listing, each time incrementing its step count and taking the rate
        of the new count; so does this, by one more library call per extra
        listing, after the group's calls (plan.repeats), checked here."""
        entry, first_group, occurrences = seen
        name = "parameter {} of param group {}".format(param_index, group_index)
        if first_group != group_index:
            # add_param_group refuses this; only a hand-made list gets here.
            raise ValueError("{} is also in param group {}: torch.optim.Optimizer refuses "
                             "parameters in more than one group".format(name, first_group))
        if entry.folded:
            raise ValueError("{}: a complex parameter with weight decay listed twice in a group "
                             "is not supported".format(name))
        seen[2] = occurrences + 1
        # torch's count after this listing's step_t += 1, in its dtype.
        count = entry.step.detach().clone()
        for _ in range(occurrences + 1):
            count += 1
        step = count.item()
        lr_decay = group["lr_decay"]
        lr = group["lr"] / (1 + (step - 1) * lr_decay)
        if isinstance(entry, _SparseEntry):
            if entry.library is not None:
                entry.check_rate(lr, group["eps"])
            plan.repeats.append((entry, dict(lr=lr, eps=group["eps"],
                                             maximize=bool(group["maximize"]))))
        else:
            hyperparameters = _group_hyperparameters(group, lr, 0)
            if entry.half and self.rounding == "stochastic":
                if not (step >= 0 and step == int(step)):
                    raise ValueError("{}: stochastic rounding takes an integer step count >= 0, "
                                     "not {}".format(name, step))
                hyperparameters["step"] = int(step)
            _check_hyperparameters(hyperparameters, "{} at step {}: its rate".format(name, step),
                                   entry.dtype, self.fma)
            plan.repeats.append((entry, hyperparameters))
        # Its count and version, once more; not its spans (the same memory).
        if entry.step_index is None:
            plan.steps.append(entry.step)
        else:
            plan.packed.append(entry.step_index)
        if entry.empty_view is not None:
            plan.empty_views.append(entry.empty_view)


def _step_sparse(entry, lr, eps, maximize, pool):
    """One step of a parameter with a sparse gradient: the library's sparse
    step with torch's bits, or torch's own operations."""
    if entry.library is None:
        _sparse_step(entry.param, entry.grad, entry.sum, lr, eps, maximize)
        return
    table, state_sum, indices, values = entry.library
    adagrad.sparse_step(table, state_sum, indices, values, lr=lr, eps=eps, maximize=maximize,
                        fma=probe_sparse(), duplicates="torch", pool=pool)


def _group_hyperparameters(group, lr, lr_decay):
    """adagrad.step's keywords for group at the rate lr."""
    return dict(lr=lr, lr_decay=lr_decay, eps=group["eps"], weight_decay=group["weight_decay"],
                maximize=bool(group["maximize"]))


class _Plan:
    """What one step() does, after _plan checked it: the library calls, one
    per parameter group, dtype and rate ({key: (hyperparameters, w list, g
    list, G list)}) and one per 16-bit parameter ((entry, hyperparameters));
    the parameters with sparse gradients, stepped by the library's sparse
    step or torch's operations ((entry, rate, eps, maximize)); the extra
    steps of parameters listed again in their group ((entry,
    hyperparameters));
    the step counts to increment (indices into the
    optimizer's _step_buffer, and other tensors); empty views of the
    parameters whose versions to bump; the states and entries to keep; the
    copies to write back after the calls."""

    __slots__ = ("batches", "mixed", "sparse", "repeats", "packed", "steps", "empty_views",
                 "entries", "new_states", "new_entries", "writebacks")

    def __init__(self):
        self.batches = {}
        self.mixed = []
        self.sparse = []
        self.repeats = []
        self.packed = []
        self.steps = []
        self.empty_views = []
        self.entries = []
        self.new_states = []
        self.new_entries = []
        self.writebacks = []


def _packable(step):
    return (torch.is_tensor(step) and step.dtype == torch.float32 and step.dim() == 0
            and step.device.type == "cpu" and not step.requires_grad)


def _entry_key(param, grad, state_sum):
    """Where the tensors' memory is and how it is laid out: kept with the
    arrays made from them (dtype only for the parameter: autograd refuses a
    gradient of another dtype, and the sum is checked against it)."""
    return (param.dtype, param.data_ptr(), param.shape, param.stride(), grad.data_ptr(),
            grad.shape, grad.stride(), state_sum.data_ptr(), state_sum.shape, state_sum.stride())


def _checked_step(state, name, step_buffer):
    """The state's step count, and its index in the optimizer's step buffer
    (None when it is a tensor of its own)."""
    step_count = state["step"]
    if not torch.is_tensor(step_count) or step_count.numel() != 1:
        raise RuntimeError('{}: state["step"] must be a tensor of one element, as '
                           "torch.optim.Adagrad keeps it".format(name))
    if step_buffer is not None and step_count._base is step_buffer:
        return step_count, step_count.storage_offset() - step_buffer.storage_offset()
    return step_count, None


class _SparseEntry:
    """A parameter with a sparse gradient (nn.Embedding(sparse=True),
    nn.EmbeddingBag(sparse=True)), checked. library holds the arrays of
    adagrad.sparse_step(duplicates="torch") (table, state, indices, values)
    when the library steps it with torch's bits; None when torch's own
    sparse operations do (_sparse_step)."""

    __slots__ = ("param", "grad", "sum", "step", "step_index", "dtype", "spans", "empty_view",
                 "library")
    half = None
    folded = False

    def __init__(self, param, grad, state, group, name, step_buffer):
        _check_tensor(param, param, name, "")
        if grad.layout != torch.sparse_coo:
            raise ValueError("the gradient of {} has layout {}; only torch.strided and "
                             "torch.sparse_coo are supported".format(name, grad.layout))
        if param.dtype not in _SUPPORTED_DTYPES:
            raise RuntimeError("{} has dtype {} and a sparse gradient; sparse gradients are "
                               "supported for torch.float32 and torch.float64 "
                               "parameters".format(name, param.dtype))
        if grad.dtype != param.dtype or grad.shape != param.shape:
            raise TypeError("the sparse gradient of {} is {} {} but the parameter is {} "
                            "{}".format(name, grad.dtype, tuple(grad.shape), param.dtype,
                                        tuple(param.shape)))
        if group["weight_decay"] != 0:
            # torch's message and type.
            raise RuntimeError("{}: weight_decay option is not compatible with sparse "
                               "gradients".format(name))
        state_sum = state["sum"]
        _check_tensor(state_sum, param, name, 'state["sum"] of ')
        self.param, self.grad, self.sum = param, grad, state_sum
        self.step, self.step_index = _checked_step(state, name, step_buffer)
        self.dtype = np.dtype(np.float32 if param.dtype == torch.float32 else np.float64)
        # torch's param.add_ bumps the version itself.
        self.empty_view = None
        self.spans = [_span(param, True), _span(state_sum, True)]
        self.library = None
        if param.dtype == torch.float32 and probe_sparse() is not None:
            self.library = _library_sparse_arrays(param, grad, state_sum, name)
        if self.library is not None:
            self.empty_view = param.detach().as_strided((0,), (1,))
            self.spans += [_span(torch.from_numpy(array), False) for array in self.library[2:]]

    def check_rate(self, clr, eps):
        """Falls back to torch's operations when the library refuses this
        step's rate (a negative one, from a negative step count), which
        torch's sparse step takes."""
        try:
            _check_hyperparameters(dict(lr=clr, eps=eps), "", np.float32, False)
        except (TypeError, ValueError):
            self.library = None
            self.empty_view = None


def _library_sparse_arrays(param, grad, state_sum, name):
    """The arrays adagrad.sparse_step takes for a sparse gradient of a
    2-D table (sparse in its rows, as nn.Embedding's and nn.EmbeddingBag's
    are): the table and its sum (views), the row indices and the gradient
    rows of the uncoalesced gradient (views, or aligned copies); None when
    the tensors have another layout. Raises IndexError for an index outside
    the table, before anything changes."""
    if param.dim() != 2 or grad.sparse_dim() != 1 or grad.dense_dim() != 1:
        return None
    if not (param.is_contiguous() and state_sum.is_contiguous()):
        return None
    table, G = param.detach().numpy(), state_sum.numpy()
    if not (table.flags.aligned and G.flags.aligned):
        return None
    indices = np.ascontiguousarray(grad._indices()[0].numpy())
    values = np.ascontiguousarray(grad._values().numpy())
    if not values.flags.aligned:
        values = values.copy()
    if not indices.flags.aligned:
        indices = indices.copy()
    if indices.size and (indices.min() < 0 or indices.max() >= table.shape[0]):
        raise IndexError("the sparse gradient of {} names row {} of a table of {} rows".format(
            name, indices.min() if indices.min() < 0 else indices.max(), table.shape[0]))
    return table, G, indices, values


def _sparse_step(param, grad, state_sum, clr, eps, maximize):
    """torch 1.13's _single_tensor_adagrad for a sparse gradient, as it is."""
    grad = -grad if maximize else grad
    grad = grad.coalesce()  # the update is non-linear so indices must be unique
    grad_indices = grad._indices()
    grad_values = grad._values()
    size = grad.size()

    def make_sparse(values):
        if grad_indices.numel() == 0 or values.numel() == 0:
            return torch.empty_like(grad)
        return torch.sparse_coo_tensor(grad_indices, values, size)

    state_sum.add_(make_sparse(grad_values.pow(2)))
    std = state_sum.sparse_mask(grad)
    std_values = std._values().sqrt_().add_(eps)
    param.add_(make_sparse(grad_values / std_values), alpha=-clr)


class _Entry:
    """One parameter's arrays for the library, made (and checked) from its
    parameter, gradient and state tensors; kept across steps while they stay
    as they were (holds)."""

    __slots__ = ("param", "grad", "sum", "step", "step_index", "key", "dtype", "half", "w", "g",
                 "G",
                 "writebacks", "folded", "spans", "empty_view")

    def __init__(self, param, grad, state, group, name, step_buffer):
        _check_tensor(param, param, name, "")
        _check_tensor(grad, param, name, "gradient of ")
        state_sum = state["sum"]
        _check_tensor(state_sum, param, name, 'state["sum"] of ')
        self.param, self.grad, self.sum = param, grad, state_sum
        self.step, self.step_index = _checked_step(state, name, step_buffer)
        self.key = _entry_key(param, grad, state_sum)
        # For the version bump (step()); made anew with the entry when the
        # parameter's memory moves, so it keeps no old storage alive.
        self.empty_view = param.detach().as_strided((0,), (1,))
        # The memory each tensor spans, for _check_overlaps: (start, end,
        # written).
        self.spans = [_span(param, True), _span(grad, False), _span(state_sum, True)]
        self.writebacks = []
        param, grad = param.detach(), grad.detach()
        weight_decay = group["weight_decay"]
        self.folded = param.is_complex() and weight_decay != 0
        if self.folded:
            # torch adds the weight decay in complex arithmetic, one rounding
            # for the product and one for the sum also where its real kernels
            # fuse them (fma mode): computed here as torch computes it, and
            # the library steps without the term (and without maximize,
            # which comes before it).
            grad = (-grad if group["maximize"] else grad).add(param, alpha=weight_decay)
        self.half = _HALF_DTYPES.get(param.dtype)
        if self.half:
            # The library takes 16-bit values as uint16 bit patterns.
            param, grad = param.view(torch.int16), grad.view(torch.int16)
        self.w, self.g, self.G = self._arrays(param, grad, state_sum, name)
        # The dtype the hyperparameters are checked in: a 16-bit step's
        # arithmetic is float32.
        self.dtype = self.G.dtype
        if self.half:
            self.w, self.g = self.w.view(np.uint16), self.g.view(np.uint16)
        if (np.may_share_memory(self.w, self.g) or np.may_share_memory(self.w, self.G)
                or np.may_share_memory(self.g, self.G)):
            raise ValueError("{}: the parameter, its gradient and its sum must not share "
                             "memory".format(name))

    def holds(self, param, grad, state):
        """Whether the arrays are still those of these tensors."""
        state_sum = state["sum"]
        return (grad is self.grad and state_sum is self.sum and state["step"] is self.step
                and _entry_key(param, grad, state_sum) == self.key)

    def _arrays(self, param, grad, state_sum, name):
        """The NumPy arrays (1-D, aligned) the library steps for the
        parameter, gradient and sum tensors, in the same element order.

        Dense, non-overlapping tensors with the same strides (contiguous,
        channels_last, transposed, ...) are stepped as one flat run of
        memory each: views, no copies, since the update is elementwise and
        the same offset is the same element in all three. Any other layout
        torch steps (a slice such as torch.randn(10, 5, 2)[..., 0], or
        tensors whose strides differ) goes through C-order copies, gathered
        before and scattered back after the call: the library has no strided
        path, and a copy keeps its kernels and their contract as they are;
        the element order of the three copies is the logical index order,
        so the bits are torch's. A tensor not aligned to its element size
        (torch.frombuffer at an odd offset), which the library refuses,
        also goes through an aligned copy."""
        if param.is_complex():
            try:
                param, grad, state_sum = (torch.view_as_real(t) for t in (param, grad, state_sum))
            except RuntimeError as error:  # a tensor with its conjugate bit set, as torch
                raise RuntimeError("{}: {}".format(name, error)) from error
        for tensor, role in ((param, ""), (state_sum, 'state["sum"] of ')):
            if any(stride == 0 and size > 1 for size, stride in zip(tensor.shape, tensor.stride())):
                # torch's in-place update refuses these with the same error.
                raise RuntimeError(
                    "{}{}: unsupported operation: more than one element of the written-to "
                    "tensor refers to a single memory location".format(role, name))
        layout = _dense_layout(param)
        if layout is not None and _dense_layout(grad) == layout and _dense_layout(
                state_sum) == layout:
            return (self._aligned(_flat(param), True), self._aligned(_flat(grad), False),
                    self._aligned(_flat(state_sum), True))
        return (self._gathered(param, True), self._gathered(grad, False),
                self._gathered(state_sum, True))

    def _aligned(self, array, written):
        if array.flags.aligned:
            return array
        # torch accepts tensors not aligned to their element size; the
        # library does not.
        copy = np.empty_like(array)
        np.copyto(copy, array)
        if written:
            self.writebacks.append((array, copy))
        return copy

    def _gathered(self, tensor, written):
        view = tensor.numpy()
        if view.flags.c_contiguous:
            return self._aligned(view.reshape(-1), written)
        copy = np.ascontiguousarray(view)
        if written:
            self.writebacks.append((view, copy))
        return copy.reshape(-1)


def _span(tensor, written):
    """The bytes a strided tensor reaches, [start, end), and whether the
    step writes them; None for an empty tensor."""
    if tensor.numel() == 0:
        return None
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    start = tensor.data_ptr()
    return start, start + (last + 1) * tensor.element_size(), written


def _check_overlaps(entries):
    """Raises unless the memory each step writes (parameters, sums) is
    reached by no other tensor of the step: the library checks this within
    each call, and this check, across the calls, keeps a step all or
    nothing (gradients may be shared). Spans are compared: a non-dense
    tensor interleaved with another one without sharing an element is
    refused too. Run when any parameter's arrays were made anew."""
    spans = sorted((span + (index,) for index, entry in enumerate(entries)
                    for span in entry.spans if span is not None))
    written_end, written_owner, any_end, any_owner = 0, None, 0, None
    for start, end, written, index in spans:
        other = any_owner if written and start < any_end else (
            written_owner if start < written_end else None)
        if other is not None:
            raise ValueError("the step's parameters {} and {} (counted over the groups, those "
                             "with a gradient) reach the same memory: what a step writes (a "
                             "parameter, a sum) must not overlap any other tensor of the step "
                             "(gradients may be shared)".format(min(other, index),
                                                               max(other, index)))
        if written and end > written_end:
            written_end, written_owner = end, index
        if end > any_end:
            any_end, any_owner = end, index


def _dense_layout(tensor):
    """The strides of the dimensions longer than 1, when tensor covers a run
    of memory without gaps or overlap (any order of dimensions); else None.
    Two such tensors with equal layouts and shapes order their elements in
    memory the same way."""
    expected = 1
    layout = []
    for stride, size in sorted((stride, size) for size, stride in zip(tensor.shape, tensor.stride())
                               if size != 1):
        if stride != expected:
            return None
        expected *= size
        layout.append(stride)
    return tuple(layout)


def _flat(tensor):
    """A 1-D NumPy view of a dense, non-overlapping tensor's memory: with
    strides >= 0, its element at index 0 is the lowest in memory."""
    return tensor.as_strided((tensor.numel(),), (1,)).numpy()


def _new_state(param, group):
    value = group["initial_accumulator_value"]
    if param.is_complex():
        # As torch.optim.Adagrad: both parts start at the value.
        value = complex(value, value)
    # A 16-bit parameter's sum is float32 (torch 1.13 keeps it in the
    # parameter's dtype): the library's mixed-precision state.
    dtype = torch.float32 if param.dtype in _HALF_DTYPES else param.dtype
    return {"step": torch.tensor(0.0),
            "sum": torch.full_like(param, value, dtype=dtype,
                                   memory_format=torch.preserve_format)}


def _check_hyperparameters(hyperparameters, context, dtype, fma):
    """Raises, context first, unless adagrad.step accepts the hyperparameters
    for dtype: it validates them even for arrays of no elements, where it
    writes nothing. lr is the rate of this step (after lr_decay)."""
    empty = [np.empty(0, dtype=dtype) for _ in range(3)]
    try:
        adagrad.step(*empty, fma=fma, **hyperparameters)
    except (TypeError, ValueError) as error:
        raise type(error)("{}: {}".format(context, error)) from error


def _check_tensor(tensor, param, name, role):
    """Raises unless tensor (the parameter, its gradient or its sum) is one
    the library can step (through views or copies: _Entry._arrays)."""
    what = role + name
    if tensor.layout != torch.strided:
        if tensor.is_sparse:
            raise RuntimeError("{} is sparse; adagrad.torch.Adagrad supports only dense "
                               "tensors".format(what))
        raise ValueError("{} has layout {}; only torch.strided is supported".format(
            what, tensor.layout))
    if tensor.device.type != "cpu":
        raise ValueError("{} is on {}; only CPU tensors are supported".format(
            what, tensor.device))
    if tensor.dtype not in _SUPPORTED_DTYPES + _COMPLEX_DTYPES + tuple(_HALF_DTYPES):
        # The one other dtype a parameter can have, complex32, torch's step
        # refuses with a RuntimeError too.
        raise RuntimeError("{} has dtype {}; only torch.float32, torch.float64, "
                           "torch.complex64, torch.complex128, torch.bfloat16 and torch.float16 "
                           "are supported".format(what, tensor.dtype))
    expected = param.dtype
    if role.startswith("state") and param.dtype in _HALF_DTYPES:
        expected = torch.float32
    if tensor.dtype != expected:
        raise TypeError("{} has dtype {} but must have {}".format(what, tensor.dtype, expected))
    if tensor.shape != param.shape:
        raise ValueError("{} has shape {} but the parameter has {}".format(
            what, tuple(tensor.shape), tuple(param.shape)))
