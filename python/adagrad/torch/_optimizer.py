# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.torch.Adagrad: the optimizer, and the plan of a step (what it
checks before anything changes, and the library calls it makes)."""
import bisect

import numpy as np
import torch

import adagrad

from ._entries import (_HALF_DTYPES, _ROUNDINGS, _Entry, _SparseEntry, _check_hyperparameters,
                       _check_overlaps, _entry_key, _new_state, _step_sparse)
from ._pools import _MAX_THREADS, _pool
from ._probes import probe_fma, probe_sparse

try:
    # The per-tensor checks and version bumps of a replayed step, read through
    # libtorch (python/src/torch_replay.cpp); built where libtorch's headers
    # are. Without it the same checks run in Python (tests run both).
    from adagrad import _torch_replay
except ImportError:
    _torch_replay = None

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
    dtype, RuntimeError for a sparse gradient with weight decay (as torch), a
    step count that is not a tensor of one element or an inference tensor
    to update outside torch.inference_mode() (parameter, sum or step count,
    which torch refuses only when it reaches it), ZeroDivisionError for a
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
    gradient and sum tensors stay where and as they were; when nothing a
    step's plan was made from has changed (the groups, their
    hyperparameters, which parameters have gradients, every tensor's object,
    memory and layout) and its rates do not follow the step counts
    (lr_decay=0), the next step replays it, with the same bits, after
    comparing those (new gradient tensors, as zero_grad(set_to_none=True)
    and backward make, take the old ones' places when they have their
    dtypes, shapes and strides, after the checks a first step makes); the
    float32
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
        self.__dict__.pop("_program", None)
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
        if plan.program is not None:
            # Kept for the next steps (_replayed_plan); what it made is kept
            # now, so replaying it adds nothing.
            self.__dict__["_program"], plan.program = plan.program, None
            plan.new_entries = []
        elif not plan.replayed:
            self.__dict__.pop("_program", None)
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
        # saved the old values. An empty view of the parameter shares its
        # counter: _torch_replay bumps it directly; without it, zero_() on the
        # view bumps it and touches no data (one torch._foreach_zero_ for all).
        if plan.empty_views:
            if _torch_replay is not None:
                _torch_replay.bump_versions(plan.empty_views)
            else:
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
        plan = self._replayed_plan()
        if plan is not None:
            return plan
        entries = self.__dict__.setdefault("_entries", {})
        plan = _Plan()
        # id(param) -> [entry, group index, occurrences so far]
        seen = {}
        changed = False
        # What _replayed_plan checks, while this plan can be replayed.
        program_groups = []
        replayable = True
        for group_index, group in enumerate(self.param_groups):
            lr_decay = group["lr_decay"]
            # A rate that changes with the step counts changes the plan.
            replayable = replayable and lr_decay == 0
            items = []
            program_groups.append((group, group["params"], _program_values(group), items))
            checked = set()
            for param_index, param in enumerate(group["params"]):
                grad = param.grad
                if grad is None:
                    items.append([param, None, None, None, None, None, None])
                    continue
                identity = id(param)
                if identity in seen:
                    replayable = False
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
                        replayable = False
                    if grad.is_sparse:
                        entry = _SparseEntry(param, grad, state, group, name, self._step_buffer,
                                             probe_sparse())
                    else:
                        entry = _Entry(param, grad, state, group, name, self._step_buffer)
                        if not entry.copied and not entry.folded:
                            plan.new_entries.append((identity, entry))
                        plan.writebacks.extend(entry.writebacks)
                seen[identity] = [entry, group_index, 1]
                if (isinstance(entry, _SparseEntry) or entry.copied or entry.folded
                        or (entry.half and self.rounding == "stochastic")):
                    # Made anew (or keyed by the step count) at every step.
                    replayable = False
                else:
                    # [param, grad, sum, key, entry, the batch's list of
                    # gradient arrays and its index there (None for a 16-bit
                    # parameter's)]
                    item = [param, grad, entry.sum, entry.key, entry, None, None]
                    items.append(item)
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
                if replayable:
                    item[5], item[6] = batch[2], len(batch[2])
                batch[1].append(entry.w)
                batch[2].append(entry.g)
                batch[3].append(entry.G)
                self._count(plan, entry)
        if changed:
            _check_overlaps(plan.entries)
        if replayable and torch.is_inference_mode_enabled():
            # Inference tensors step only in inference mode (_check_writable):
            # a plan that writes one is checked again at every step.
            replayable = not any(tensor.is_inference() for entry in plan.entries
                                 for tensor in (entry.param, entry.sum, entry.step))
        if replayable and all(type(state) is dict for state in self.state.values()):
            plan.program = _Program(self, program_groups, plan)
        return plan

    def _replayed_plan(self):
        """The plan of the last step again, when it can be replayed and
        nothing it was made from has changed; else None (_plan makes one).

        A step's plan depends only on the groups (their lists of parameters
        and hyperparameters), which parameters have gradients, the gradient,
        sum and step tensors (objects, memory, shapes, strides: the entries'
        keys) and the optimizer's fma and rounding. When all of those are as
        they were, _plan would check the same things with the same results
        and make the same plan, so the plan is reused as it is: its checks
        passed for these very tensors. What this compares costs a fraction
        of remaking the plan, whose Python work per tensor was most of a
        step of many small tensors (bench/torch_bench.py, case 200x1000).
        Plans whose rates follow the step counts (lr_decay != 0, stochastic
        rounding), or with sparse gradients, copies or repeated parameters,
        are not kept."""
        program = self.__dict__.get("_program")
        if (program is None or program.fma != self.fma or program.rounding != self.rounding
                or program.step_buffer is not self._step_buffer):
            return None
        groups = self.param_groups
        if len(groups) != len(program.groups) or len(self.state) != len(program.states):
            return None
        records = program.records
        if records is not None:
            if not _torch_replay.same_states(self.state, program.states):
                return None
        else:
            # The states in the mapping's order, compared by identity: looking
            # each parameter up would hash it (Tensor.__hash__, a Python call).
            for (param, state), (kept_param, kept_state, state_sum, step) in zip(
                    self.state.items(), program.states):
                if (param is not kept_param or state is not kept_state
                        or state.get("sum") is not state_sum or state.get("step") is not step):
                    return None
        regrads = []
        for group_index, (group, (kept_group, params, values, items)) in enumerate(
                zip(groups, program.groups)):
            if (group is not kept_group or group["params"] is not params
                    or len(params) != len(items) or not _same_values(group, values)):
                return None
            if records is not None:
                # The loop below and _Program.regrad, in C++.
                if not records[group_index].check(params):
                    return None
                continue
            for param, item in zip(params, items):
                kept_param, grad, state_sum, key = item[0], item[1], item[2], item[3]
                if param is not kept_param:
                    return None
                current = param.grad
                if current is not grad:
                    if current is None or grad is None:
                        return None
                    regrads.append((item, current))
                # _entry_key, written out: this loop runs for every tensor.
                elif grad is not None and (
                        param.dtype, param.data_ptr(), param.shape, param.stride(),
                        grad.data_ptr(), grad.shape, grad.stride(), state_sum.data_ptr(),
                        state_sum.shape, state_sum.stride()) != key:
                    return None
        if records is not None:
            # Every group passed: each takes its new gradients.
            for record in records:
                record.apply()
        elif regrads and not program.regrad(regrads):
            return None
        return program.plan

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


# The group's values a plan depends on (initial_accumulator_value only
# for states made by the plan, which is then not replayed).
_PROGRAM_KEYS = ("lr", "lr_decay", "eps", "weight_decay", "maximize")
_MISSING = object()


def _program_values(group):
    return tuple(group.get(key, _MISSING) for key in _PROGRAM_KEYS)


def _same_values(group, values):
    """Whether the group still holds these values, of the same types (an
    int and a float of equal value are converted alike, but a new type may
    be refused where the old one was not)."""
    for key, value in zip(_PROGRAM_KEYS, values):
        current = group.get(key, _MISSING)
        if current is not value and (type(current) is not type(value) or current != value):
            return False
    return True


class _Program:
    """A plan that step() may replay, with what _replayed_plan compares:
    the optimizer's fma mode, rounding and step buffer; its states, in the
    order of the mapping ((param, state, state["sum"], state["step"]));
    and per group the group, its list of parameters, its values
    (_program_values) and per parameter [param, grad, sum, entry key,
    entry, the list of gradient arrays that holds its gradient's and the
    index there] (all None but param for one without a gradient, the last
    two for a 16-bit parameter); with _torch_replay, per group a GroupRecord
    of those (param, grad, sum, _regrad_target), which compares them and
    takes new gradients in C++."""

    __slots__ = ("fma", "rounding", "step_buffer", "states", "groups", "records", "plan",
                 "written_starts", "written_ends")

    def __init__(self, optimizer, groups, plan):
        self.fma = optimizer.fma
        self.rounding = optimizer.rounding
        self.step_buffer = optimizer._step_buffer
        self.states = [(param, state, state.get("sum"), state.get("step"))
                       for param, state in optimizer.state.items()]
        self.groups = groups
        self.plan = plan
        plan.replayed = True
        # The memory the step writes (parameters, sums), in order: spans
        # that do not overlap (_check_overlaps saw to it).
        written = sorted(span[:2] for entry in plan.entries for span in entry.spans
                         if span is not None and span[2])
        self.written_starts = [start for start, _ in written]
        self.written_ends = [end for _, end in written]
        # Per group, what _torch_replay checks in C++ (None: Python checks).
        self.records = None
        if _torch_replay is not None:
            self.records = [
                _torch_replay.GroupRecord([item[:3] + [_regrad_target(item)] for item in items],
                                          self.written_starts, self.written_ends)
                for _, _, _, items in groups]

    def regrad(self, regrads):
        """Puts new gradient tensors in the places of the old ones:
        regrads holds (item, gradient) for each parameter whose gradient is
        another tensor than at the last step (zero_grad(set_to_none=True)
        and backward make one at every step), everything else being as it
        was. Each is checked as _Entry and _check_overlaps would check it
        (Entry.regrad: dtype, shape, strides, alignment; here its memory
        against what the step writes); when all pass, the plan's arrays,
        the entries and the items take them and True is returned, else
        nothing changes and False is returned (_plan then makes the plan,
        and raises what is wrong). Remaking the plan for them cost more per
        tensor than torch's own step (bench/torch_bench.py, case
        200x1000_none)."""
        updates = []
        for item, grad in regrads:
            param, state_sum, key, entry = item[0], item[2], item[3], item[4]
            array = entry.regrad(grad)
            if array is None:
                return False
            new_key = _entry_key(param, grad, state_sum)
            if new_key[:4] != key[:4] or new_key[5:] != key[5:]:
                return False
            # The old gradient's span moved to the new one's memory (the same
            # shape and strides reach the same extent).
            span = entry.spans[1]
            if span is not None:
                start = grad.data_ptr()
                span = (start, start + span[1] - span[0], False)
                # The written span that starts last at or before the
                # gradient's start, and the next one.
                index = bisect.bisect_right(self.written_starts, span[0]) - 1
                if ((index >= 0 and self.written_ends[index] > span[0])
                        or (index + 1 < len(self.written_starts)
                            and self.written_starts[index + 1] < span[1])):
                    return False
            updates.append((item, grad, array, new_key, span))
        for item, grad, array, new_key, span in updates:
            entry = item[4]
            item[1], item[3] = grad, new_key
            entry.grad, entry.g, entry.key, entry.spans[1] = grad, array, new_key, span
            if item[5] is not None:
                item[5][item[6]] = array
        return True


def _regrad_target(item):
    """Where a new gradient tensor's array goes in the plan (entry, list of
    gradient arrays, index), for a parameter whose gradient may be replaced
    as _Entry.regrad replaces it; else None."""
    entry, arrays, index = item[4], item[5], item[6]
    if entry is None or arrays is None or not entry.flat or entry.half or entry.folded:
        return None
    return (entry, arrays, index)


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
                 "entries", "new_states", "new_entries", "writebacks", "program", "replayed")

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
        # The _Program to keep after this step (a plan that can be
        # replayed), and whether the plan is a kept one.
        self.program = None
        self.replayed = False


def _packable(step):
    return (torch.is_tensor(step) and step.dtype == torch.float32 and step.dim() == 0
            and step.device.type == "cpu" and not step.requires_grad)
