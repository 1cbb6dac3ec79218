# SPDX-License-Identifier: BSD-3-Clause
"""Each parameter's arrays for the library, made and checked from its
parameter, gradient and state tensors (_Entry for dense gradients,
_SparseEntry for sparse ones), and the checks they share."""
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


def _step_sparse(entry, lr, eps, maximize, pool):
    """One step of a parameter with a sparse gradient: the library's sparse
    step with torch's bits, or torch's own operations."""
    if entry.library is None:
        _sparse_step(entry.param, entry.grad, entry.sum, lr, eps, maximize)
        return
    table, state_sum, indices, values = entry.library
    adagrad.sparse_step(table, state_sum, indices, values, lr=lr, eps=eps, maximize=maximize,
                        fma=entry.fma, duplicates="torch", pool=pool)


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
    _check_writable(step_count, 'state["step"] of ' + name)
    return step_count, None


class _SparseEntry:
    """A parameter with a sparse gradient (nn.Embedding(sparse=True),
    nn.EmbeddingBag(sparse=True)), checked. library holds the arrays of
    adagrad.sparse_step(duplicates="torch") (table, state, indices, values)
    when the library steps it with torch's bits, in fma mode fma; None when
    torch's own sparse operations do (_sparse_step)."""

    __slots__ = ("param", "grad", "sum", "step", "step_index", "dtype", "spans", "empty_view",
                 "library", "fma")
    half = None
    folded = False

    def __init__(self, param, grad, state, group, name, step_buffer, fma):
        """fma: probe_sparse()'s mode (None: torch's operations)."""
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
        self.fma = fma
        if param.dtype == torch.float32 and fma is not None:
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
                 "G", "writebacks", "copied", "folded", "spans", "empty_view", "flat")

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
        # Whether any array is a copy (a gradient's too, which is not written
        # back): such arrays hold this step's values, and are made anew at
        # every step.
        self.copied = False
        # Whether the arrays are flat views of the three tensors' memory, in
        # the same layout (_arrays); then a new gradient of the old one's
        # shape and strides takes the old one's place (regrad).
        self.flat = False
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

    def regrad(self, grad):
        """The array of a new gradient tensor that can take the old one's
        place: dense, float32 or float64, on the CPU, not requiring grad,
        without a negative bit, of the old one's dtype, shape and strides,
        aligned. Else None (a new
        _Entry checks it). Its overlap with what the step writes is the
        caller's to check (its span: _span(grad, False))."""
        if (not self.flat or self.half or self.folded or grad.layout is not torch.strided
                or not grad.is_cpu or grad.requires_grad or grad.is_neg()
                or grad.dtype is not self.param.dtype
                or grad.dtype not in _SUPPORTED_DTYPES or grad.shape != self.key[5]
                or grad.stride() != self.key[6]):
            return None
        array = grad.numpy()
        array = array.reshape(-1) if array.flags.c_contiguous else _flat(grad)
        if not array.flags.aligned:
            return None
        return array

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
        if grad.is_neg():
            # torch steps a gradient with its negative bit set (a lazily
            # negated view, as torch._neg_view makes); NumPy cannot view it.
            # Its values, negated into a copy at each step: read only, so
            # nothing goes back, and copied keeps no arrays across steps.
            grad = grad.resolve_neg()
            self.copied = True
        layout = _dense_layout(param)
        if layout is not None and _dense_layout(grad) == layout and _dense_layout(
                state_sum) == layout:
            self.flat = True
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
        self.copied = True
        if written:
            self.writebacks.append((array, copy))
        return copy

    def _gathered(self, tensor, written):
        view = tensor.numpy()
        if view.flags.c_contiguous:
            return self._aligned(view.reshape(-1), written)
        copy = np.ascontiguousarray(view)
        self.copied = True
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
    if not role.startswith("gradient"):
        _check_writable(tensor, what)


def _check_writable(tensor, what):
    """Raises as torch's in-place update would for a tensor the step writes
    (parameter, sum, step count): an inference tensor (made under
    torch.inference_mode()) outside inference mode. torch raises after the
    parameters before it were updated; here nothing has changed yet."""
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError("{} is an inference tensor: torch refuses to update it in place "
                           "outside torch.inference_mode() (Inplace update to inference tensor "
                           "outside InferenceMode is not allowed)".format(what))
