# SPDX-License-Identifier: BSD-3-Clause
"""torch.optim.Adagrad computed by the adagrad library, with the same bits.

Adagrad here is a drop-in replacement for torch.optim.Adagrad (PyTorch 1.13)
on dense CPU float32 and float64 parameters: the same hyperparameters, the
same state (``state[p]["step"]``, a float tensor, and ``state[p]["sum"]``),
so that state_dict() loads from one optimizer into the other, and the same
results bit for bit as ``torch.optim.Adagrad(foreach=False)``. The step runs
in place on NumPy views of the parameter, gradient and sum tensors (they
share memory), without copies.
"""
import functools
import warnings

import numpy as np
import torch

import adagrad

_SUPPORTED_DTYPES = (torch.float32, torch.float64)
# Complex parameters step as torch steps them: on torch.view_as_real views.
_COMPLEX_DTYPES = (torch.complex64, torch.complex128)

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
    without weight decay). All or nothing: every parameter with a gradient, its state and
    its group's hyperparameters (at each parameter's rate clr, in the
    parameter's dtype) are checked before any parameter, state or step count
    changes, so a step that raises changes nothing; the error names the
    parameter ("parameter i of param group j") or the group: TypeError for a
    dtype, RuntimeError for a sparse gradient (as torch.optim.Adam) or a
    step count that is not a tensor of one element, ZeroDivisionError for a
    step count where torch's rate divides by zero, ValueError for anything
    else (a rate clr < 0 included).

    Autograd: each updated parameter's version counter is bumped once per
    step, as torch's in-place update bumps it, so backward through a graph
    that saved a parameter before step() raises "modified by an inplace
    operation" as it does with torch.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None,
                 fma=None):
        # torch.optim.Adagrad's checks, in its order, with its messages.
        for message, value in (("Invalid learning rate: {}", lr),
                               ("Invalid lr_decay value: {}", lr_decay),
                               ("Invalid weight_decay value: {}", weight_decay),
                               ("Invalid initial_accumulator_value value: {}",
                                initial_accumulator_value),
                               ("Invalid epsilon value: {}", eps)):
            if not 0.0 <= value:
                raise ValueError(message.format(value))
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

    def _init_state(self, param, group):
        self.state[param] = _new_state(param, group)

    def __getstate__(self):
        # torch's Optimizer pickles only defaults, state and param_groups.
        return {**super().__getstate__(), "fma": self.fma}

    def __setstate__(self, state):
        # As torch.optim.Adagrad's: also upgrades state saved by older PyTorch,
        # whose step was a Python number.
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
        for param_state in self.state.values():
            if "step" in param_state and not torch.is_tensor(param_state["step"]):
                param_state["step"] = torch.tensor(float(param_state["step"]))

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

        calls, updates, new_states = self._plan()
        # Nothing has changed so far; from here on nothing can fail: every
        # argument of every library call below was checked by _plan.
        for param, state in new_states:
            self.state[param] = state
        if updates:
            torch._foreach_add_([update.step for update in updates], 1)
        for w, g, G, hyperparameters in calls:
            adagrad.step(w, g, G, fma=self.fma, **hyperparameters)
        for update in updates:
            for destination, source in update.writebacks:
                np.copyto(destination, source)
        self._bump_versions([update.param for update in updates])
        return loss

    def _plan(self):
        """Checks every parameter that has a gradient, its state and its
        group's hyperparameters, and returns what step() does, changing
        nothing: (library calls as (w, g, G, hyperparameters), one _Update
        per parameter, states to add as (parameter, state)). Anything the
        library or the step counts would refuse raises here."""
        calls, updates, new_states = [], [], []
        for group_index, group in enumerate(self.param_groups):
            lr_decay = group["lr_decay"]
            checked = set()
            for param_index, param in enumerate(group["params"]):
                grad = param.grad
                if grad is None:
                    continue
                name = "parameter {} of param group {}".format(param_index, group_index)
                _check_tensor(param, param, name, "")
                _check_tensor(grad, param, name, "gradient of ")
                state = self.state.get(param)
                if state is None:
                    # A group added by add_param_group gets its state here.
                    state = _new_state(param, group)
                    new_states.append((param, state))
                _check_tensor(state["sum"], param, name, 'state["sum"] of ')
                step_count = state["step"]
                if not torch.is_tensor(step_count) or step_count.numel() != 1:
                    raise RuntimeError('{}: state["step"] must be a tensor of one element, as '
                                       "torch.optim.Adagrad keeps it".format(name))
                lr = group["lr"]
                if lr_decay != 0:
                    # torch's clr, in double from the incremented count, as
                    # _single_tensor_adagrad computes it (a count torch would
                    # divide by zero with raises ZeroDivisionError here too).
                    step = (step_count + 1).item()
                    lr = lr / (1 + (step - 1) * lr_decay)
                hyperparameters = _group_hyperparameters(group, lr, 0)
                grad = grad.detach()
                if param.is_complex() and hyperparameters["weight_decay"] != 0:
                    # torch adds the weight decay in complex arithmetic, one
                    # rounding for the product and one for the sum also where
                    # its real kernels fuse them (fma mode): computed here as
                    # torch computes it, then stepped without the term.
                    grad = (-grad if hyperparameters["maximize"] else grad).add(
                        param.detach(), alpha=hyperparameters["weight_decay"])
                    hyperparameters.update(weight_decay=0, maximize=False)
                update = _Update(param, step_count)
                w, g, G = update.arrays(param.detach(), grad, state["sum"], name)
                if (np.may_share_memory(w, g) or np.may_share_memory(w, G)
                        or np.may_share_memory(g, G)):
                    raise ValueError("{}: the parameter, its gradient and its sum must not share "
                                     "memory".format(name))
                if w.dtype not in checked:
                    # The group's own values first, so that the message names
                    # the hyperparameter as the group holds it.
                    _check_hyperparameters(_group_hyperparameters(group, group["lr"], lr_decay),
                                           "param group {}".format(group_index), w.dtype,
                                           self.fma)
                    checked.add(w.dtype)
                if lr_decay != 0 and (w.dtype, lr) not in checked:
                    _check_hyperparameters(
                        hyperparameters, "param group {}, {} at step {}: its rate lr / (1 + "
                        "(step - 1) * lr_decay)".format(group_index, name, step), w.dtype, self.fma)
                    checked.add((w.dtype, lr))
                calls.append((w, g, G, hyperparameters))
                updates.append(update)
        return calls, updates, new_states

    def _bump_versions(self, params):
        """Bumps each parameter's version counter once, as torch's in-place
        update does, so that autograd refuses a graph that saved the old
        values. An in-place zero_() on an empty view of the parameter bumps
        the counter it shares with the parameter and touches no data: one
        torch._foreach_zero_ for all of them. The views are kept from step to
        step (made anew when the parameter's memory moves, so no old storage
        is kept alive); outside the state, so state dicts do not carry them."""
        if not params:
            return
        cache = self.__dict__.setdefault("_empty_views", {})
        views = []
        for param in params:
            address = param.data_ptr()
            entry = cache.get(param)
            if entry is None or entry[0] != address:
                entry = cache[param] = (address, param.detach().as_strided((0,), (1,)))
            views.append(entry[1])
        torch._foreach_zero_(views)


def _group_hyperparameters(group, lr, lr_decay):
    """adagrad.step's keywords for group at the rate lr."""
    return dict(lr=lr, lr_decay=lr_decay, eps=group["eps"], weight_decay=group["weight_decay"],
                maximize=bool(group["maximize"]))


class _Update:
    """One parameter's part of a step: its step count tensor, and the copies
    to write back after the library call."""

    __slots__ = ("param", "step", "writebacks")

    def __init__(self, param, step):
        self.param = param
        self.step = step
        self.writebacks = []

    def arrays(self, param, grad, state_sum, name):
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
    return {"step": torch.tensor(0.0),
            "sum": torch.full_like(param, value, memory_format=torch.preserve_format)}


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
    the library can step (through views or copies: _Update.arrays)."""
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
    if tensor.dtype not in _SUPPORTED_DTYPES + _COMPLEX_DTYPES:
        raise TypeError("{} has dtype {}; only torch.float32, torch.float64, torch.complex64 "
                        "and torch.complex128 are supported".format(what, tensor.dtype))
    if tensor.dtype != param.dtype:
        raise TypeError("{} has dtype {} but the parameter has {}".format(
            what, tensor.dtype, param.dtype))
    if tensor.shape != param.shape:
        raise ValueError("{} has shape {} but the parameter has {}".format(
            what, tuple(tensor.shape), tuple(param.shape)))
