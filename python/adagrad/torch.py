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
    - 1) * lr_decay) (computed by the library, in double, from lr, lr_decay
    and step); sum += g * g; p -= clr * g / (sqrt(sum) + eps).

    Only dense (strided), contiguous CPU float32 and float64 parameters and
    gradients are supported. Every parameter with a gradient is checked before
    any is updated, so an unsupported one changes nothing; the error names it
    ("parameter i of param group j"): TypeError for a dtype, RuntimeError for
    a sparse gradient (as torch.optim.Adam), ValueError for anything else.

    The update writes through NumPy views, which autograd does not see: the
    parameters' version counters are not bumped as torch's in-place update
    bumps them.
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
        state = self.state[param]
        state["step"] = torch.tensor(0.0)
        state["sum"] = torch.full_like(param, group["initial_accumulator_value"],
                                       memory_format=torch.preserve_format)

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

        for group, step_count, (w, g, G) in self._checked_updates():
            step_count += 1
            adagrad.step(w, g, G, lr=group["lr"], eps=group["eps"],
                         weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                         step=int(step_count.item()), maximize=bool(group["maximize"]),
                         fma=self.fma)
        return loss

    def _checked_updates(self):
        """(group, step count tensor, NumPy views of parameter, gradient and
        sum) for every parameter that has a gradient, after checking all of
        them and every group's hyperparameters, so that anything unsupported
        raises before any parameter or step count has changed."""
        updates = []
        for group_index, group in enumerate(self.param_groups):
            dtypes = set()
            for param_index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                name = "parameter {} of param group {}".format(param_index, group_index)
                _check_tensor(param, param, name, "")
                _check_tensor(param.grad, param, name, "gradient of ")
                # A group added by add_param_group gets its state here.
                if param not in self.state:
                    self._init_state(param, group)
                state = self.state[param]
                _check_tensor(state["sum"], param, name, 'state["sum"] of ')
                w, g, G = param.detach().numpy(), param.grad.detach().numpy(), state["sum"].numpy()
                if (np.may_share_memory(w, g) or np.may_share_memory(w, G)
                        or np.may_share_memory(g, G)):
                    raise ValueError("{}: the parameter, its gradient and its sum must not share "
                                     "memory".format(name))
                dtypes.add(w.dtype)
                updates.append((group, state["step"], (w, g, G)))
            for dtype in dtypes:
                _check_hyperparameters(group, group_index, dtype, self.fma)
        return updates


def _check_hyperparameters(group, group_index, dtype, fma):
    """Raises, naming the group and the hyperparameter, unless adagrad.step
    accepts the group's hyperparameters for dtype: it validates them even
    for arrays of no elements, where it writes nothing."""
    empty = [np.empty(0, dtype=dtype) for _ in range(3)]
    try:
        adagrad.step(*empty, lr=group["lr"], eps=group["eps"],
                     weight_decay=group["weight_decay"], lr_decay=group["lr_decay"], step=1,
                     maximize=bool(group["maximize"]), fma=fma)
    except (TypeError, ValueError) as error:
        raise type(error)("param group {}: {}".format(group_index, error)) from error


def _check_tensor(tensor, param, name, role):
    """Raises unless tensor (the parameter, its gradient or its sum) is one
    the library can update in place through a NumPy view."""
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
    if tensor.dtype not in _SUPPORTED_DTYPES:
        raise TypeError("{} has dtype {}; only torch.float32 and torch.float64 are "
                        "supported".format(what, tensor.dtype))
    if tensor.dtype != param.dtype:
        raise TypeError("{} has dtype {} but the parameter has {}".format(
            what, tensor.dtype, param.dtype))
    if tensor.shape != param.shape:
        raise ValueError("{} has shape {} but the parameter has {}".format(
            what, tuple(tensor.shape), tuple(param.shape)))
    if not tensor.is_contiguous():
        raise ValueError("{} is not contiguous".format(what))
