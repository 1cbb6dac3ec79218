# SPDX-License-Identifier: BSD-3-Clause
"""Embedding bags that train themselves: the backward pass updates the table.

``adagrad.torch.EmbeddingBag`` and ``adagrad.torch.EmbeddingBagCollection``
look up and pool rows as ``torch.nn.EmbeddingBag`` does. Their backward pass
does not produce a gradient for the table: it hands the bags' output
gradients to the library's fused step (``adagrad.embedding_bag_step``), which
updates every touched row and its AdaGrad state in one pass, as TorchRec's
"optimizer in backward" and FBGEMM's table-batched embeddings do. So

    * no ``num_indices x dim`` gradient is ever written, nothing coalesces;
    * the optimizer's state (``sum``, one accumulator per element, or one
      per row with ``rowwise=True``) and its step count belong to the module
      and are in its ``state_dict``;
    * the table is not given to any optimizer: ``weight`` does not require a
      gradient, and an optimizer over ``model.parameters()`` leaves it alone.

The update of one call is bitwise what materializing the gradient rows
(``nn.EmbeddingBag(sparse=True)``'s) and calling ``adagrad.sparse_step``
(``rowwise_sparse_step``) with ``duplicates="sum"`` gives, on every ISA and
thread count (tests/python/test_torch_embedding.py checks both, and the
difference from ``torch.optim.Adagrad``, which divides in another order).

Tables and states live on memory advised for transparent huge pages
(``adagrad.table_array``): scattered rows of a large table then cost no
page walks that miss the caches, which matters on a busy machine.
"""
import torch
import torch.nn.functional as F

import adagrad

from ._pools import _pool

__all__ = ["EmbeddingBag", "EmbeddingBagCollection"]

_MODES = {"sum": 0, "mean": 1}


def _table_tensor(shape, huge_pages):
    """A zeroed float32 tensor, on huge-page-advised memory when asked."""
    if huge_pages:
        return torch.from_numpy(adagrad.table_array(shape, "float32"))
    return torch.zeros(shape, dtype=torch.float32)


def _bags(input, offsets, include_last_offset):
    """(indices, offsets with num_bags + 1 entries) in CSR form, as the
    library takes them, from nn.EmbeddingBag's input conventions."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences.")
        bags, length = input.shape
        indices = input.reshape(-1)
        offsets = torch.arange(0, bags * length + 1, max(length, 1), dtype=input.dtype)
        if length == 0:
            offsets = torch.zeros(bags + 1, dtype=input.dtype)
        return indices, offsets
    if input.dim() != 1:
        raise ValueError("input has to be 1D or 2D Tensor, but got Tensor of dimension %d"
                         % input.dim())
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.dim() != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    if not include_last_offset:
        offsets = torch.cat([offsets, torch.tensor([input.numel()], dtype=offsets.dtype)])
    return input, offsets


class _Table:
    """One table's pooling mode and the names of its tensors in the module."""

    def __init__(self, module, weight_name, state_name, num_embeddings, embedding_dim, mode,
                 rowwise, initial_accumulator_value, huge_pages, weight):
        if mode not in _MODES:
            raise ValueError("mode has to be one of sum or mean (max has no AdaGrad update "
                             "here), not %r" % (mode,))
        self.mode = mode
        self.weight_name, self.state_name = weight_name, state_name
        table = _table_tensor((num_embeddings, embedding_dim), huge_pages)
        if weight is None:
            torch.nn.init.normal_(table)  # nn.EmbeddingBag's initialization
        else:
            if tuple(weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError("_weight must have shape (num_embeddings, embedding_dim)")
            table.copy_(weight)
        state = _table_tensor((num_embeddings,) if rowwise else (num_embeddings, embedding_dim),
                              huge_pages)
        state.fill_(initial_accumulator_value)
        module.register_parameter(weight_name, torch.nn.Parameter(table, requires_grad=False))
        module.register_buffer(state_name, state)


class _FusedBags(torch.autograd.Function):
    """Forward: the tables' pooled lookups. Backward: the module's fused step
    (its gradients are the bags', nothing flows to the tables)."""

    @staticmethod
    def forward(ctx, trigger, module, *flat):
        # flat: (indices, offsets, per_sample_weights) per table, CSR offsets.
        outputs, saved = [], []
        for t, table in enumerate(module._tables):
            indices, offsets, psw = flat[3 * t:3 * t + 3]
            weight = module._weight(t)
            out, offset2bag, _, _ = torch._embedding_bag(
                weight, indices, offsets, False, _MODES[table.mode], False, psw, True, -1)
            outputs.append(out)
            saved += [indices, offsets, offset2bag]
        ctx.module = module
        ctx.psw = [flat[3 * t + 2] for t in range(len(module._tables))]
        ctx.save_for_backward(*saved)
        return tuple(outputs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        module = ctx.module
        saved = ctx.saved_tensors
        psw_grads = []
        grads = []
        for t, table in enumerate(module._tables):
            indices, offsets, offset2bag = saved[3 * t:3 * t + 3]
            grad = grad_outputs[t]
            weight = module._weight(t)
            if grad is None:
                grad = torch.zeros(offsets.numel() - 1, weight.shape[1])
            grads.append(grad.contiguous() if grad.stride(-1) != 1 else grad)
            psw = ctx.psw[t]
            if psw is not None and ctx.needs_input_grad[2 + 3 * t + 2]:
                # Before the step changes the rows: torch's own backward.
                psw_grads.append(torch.ops.aten._embedding_bag_per_sample_weights_backward(
                    grads[-1], weight, indices, offsets[:-1], offset2bag, _MODES[table.mode]))
            else:
                psw_grads.append(None)
        module._step([saved[3 * t] for t in range(len(module._tables))],
                     [saved[3 * t + 1] for t in range(len(module._tables))],
                     ctx.psw, grads)
        result = [None, None]
        for t in range(len(module._tables)):
            result += [None, None, psw_grads[t]]
        return tuple(result)


class EmbeddingBagCollection(torch.nn.Module):
    """Several embedding bags whose backward pass updates them, all tables in
    one library call (table-batched, as FBGEMM's and TorchRec's).

    tables: a sequence of (num_embeddings, embedding_dim) or
    (num_embeddings, embedding_dim, mode) with mode "sum" or "mean" (the
    default "mean", nn.EmbeddingBag's). The optimizer settings are
    torch.optim.Adagrad's (lr, lr_decay, weight_decay,
    initial_accumulator_value, eps, maximize), the same for every table, and
    the library's: rowwise (one accumulator per row), weight_decay_mode
    ("l2", "decouple", "counter"; counter_halflife and counter_decay),
    max_norm and max_gradient (FBGEMM's, applied by the step, see
    include/adagrad/adagrad.h), threads (default torch.get_num_threads())
    and huge_pages (tables and states on huge-page-advised memory).

    forward(inputs, offsets=None, per_sample_weights=None): inputs a sequence
    with one input per table, offsets and per_sample_weights sequences (or
    None) alike, each as nn.EmbeddingBag.forward takes them (1D input with
    offsets, or 2D fixed-length bags; include_last_offset as given to the
    constructor); returns the list of the tables' outputs. Every table must
    have the same number of bags. The backward pass of any loss built from
    the outputs updates every table once and counts one step.
    """

    def __init__(self, tables, *, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, maximize=False, rowwise=False,
                 weight_decay_mode="l2", counter_halflife=0.0, counter_decay=1.0,
                 max_norm=0.0, max_gradient=0.0, include_last_offset=False, threads=None,
                 huge_pages=True, _weights=None, _names=None):
        super().__init__()
        if not 0.0 <= lr:
            raise ValueError("Invalid learning rate: {}".format(lr))
        if not 0.0 <= lr_decay:
            raise ValueError("Invalid lr_decay value: {}".format(lr_decay))
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: {}".format(weight_decay))
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: {}".format(
                initial_accumulator_value))
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: {}".format(eps))
        self.lr, self.lr_decay, self.weight_decay, self.eps = lr, lr_decay, weight_decay, eps
        self.maximize, self.rowwise = bool(maximize), bool(rowwise)
        self.weight_decay_mode = weight_decay_mode
        self.counter_halflife, self.counter_decay = counter_halflife, counter_decay
        self.max_norm, self.max_gradient = max_norm, max_gradient
        self.include_last_offset = include_last_offset
        self.threads = threads
        self._tables = []
        for t, spec in enumerate(tables):
            num_embeddings, embedding_dim = spec[0], spec[1]
            mode = spec[2] if len(spec) > 2 else "mean"
            weight = None if _weights is None else _weights[t]
            names = ("weight_%d" % t, "sum_%d" % t) if _names is None else _names[t]
            self._tables.append(_Table(self, names[0], names[1], num_embeddings, embedding_dim,
                                       mode, rowwise, initial_accumulator_value, huge_pages,
                                       weight))
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        if weight_decay_mode == "counter":
            for t, spec in enumerate(tables):
                self.register_buffer("counter_%d" % t, torch.zeros(spec[0]))
                self.register_buffer("counter_step_%d" % t,
                                     torch.zeros(spec[0], dtype=torch.int64))
        # Backward needs an input that requires a gradient to be called.
        self._trigger = torch.empty(0, requires_grad=True)

    def _weight(self, t):
        return getattr(self, self._tables[t].weight_name)

    def _state(self, t):
        return getattr(self, self._tables[t].state_name)

    def forward(self, inputs, offsets=None, per_sample_weights=None):
        count = len(self._tables)
        if len(inputs) != count:
            raise ValueError("inputs has %d items for %d tables" % (len(inputs), count))
        offsets = [None] * count if offsets is None else list(offsets)
        psw = [None] * count if per_sample_weights is None else list(per_sample_weights)
        if len(offsets) != count or len(psw) != count:
            raise ValueError("offsets and per_sample_weights need one item per table")
        flat, bags = [], None
        for t, table in enumerate(self._tables):
            indices, csr = _bags(inputs[t], offsets[t], self.include_last_offset)
            if indices.dtype not in (torch.int64, torch.int32) or csr.dtype != indices.dtype:
                raise ValueError("input and offsets of table %d must be int64 or int32 and "
                                 "of the same dtype" % t)
            if psw[t] is not None:
                if table.mode != "sum":
                    raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                              "per_sample_weights is only supported for "
                                              "mode='sum' (got mode='%s')." % table.mode)
                if psw[t].shape != indices.shape:
                    raise ValueError("per_sample_weights of table %d must have the shape of "
                                     "its input" % t)
                psw[t] = psw[t].reshape(-1)
            if bags is None:
                bags = csr.numel() - 1
            elif csr.numel() - 1 != bags:
                raise ValueError("every table must have the same number of bags")
            flat += [indices.contiguous(), csr.contiguous(), psw[t]]
        if not torch.is_grad_enabled():
            # Inference: the lookups only.
            return [torch._embedding_bag(self._weight(t), flat[3 * t], flat[3 * t + 1], False,
                                         _MODES[table.mode], False, flat[3 * t + 2], True,
                                         -1)[0] for t, table in enumerate(self._tables)]
        return list(_FusedBags.apply(self._trigger, self, *flat))

    def _step(self, indices, offsets, psw, grads):
        """The fused step of every table, the module's step count first."""
        step = int(self.step) + 1
        numpy = lambda tensor: None if tensor is None else tensor.detach().numpy()
        count = len(self._tables)
        kwargs = {}
        if self.weight_decay_mode == "counter":
            kwargs = dict(counters=[numpy(getattr(self, "counter_%d" % t)) for t in range(count)],
                          counter_steps=[numpy(getattr(self, "counter_step_%d" % t))
                                         for t in range(count)],
                          counter_halflife=self.counter_halflife, counter_decay=self.counter_decay)
        threads = self.threads if self.threads is not None else torch.get_num_threads()
        adagrad.embedding_bag_step(
            [numpy(self._weight(t)) for t in range(count)],
            [numpy(self._state(t)) for t in range(count)],
            [numpy(i) for i in indices], [numpy(o) for o in offsets],
            [numpy(g) for g in grads],
            per_sample_weights=[numpy(p) for p in psw],
            pooling=[table.mode for table in self._tables], rowwise=self.rowwise,
            lr=self.lr, eps=self.eps, weight_decay=self.weight_decay, lr_decay=self.lr_decay,
            step=step, maximize=self.maximize, eps_mode="outside",
            weight_decay_mode=self.weight_decay_mode, max_norm=self.max_norm,
            max_gradient=self.max_gradient, pool=_pool(max(int(threads), 1)), **kwargs)
        self.step.fill_(step)
        # The tables changed in place: bump their version counters as torch's
        # in-place update would, so that a graph that saved a table raises.
        # An empty view shares its base's counter; zeroing it writes nothing.
        with torch.no_grad():
            for t in range(count):
                self._weight(t)[:0].zero_()


class EmbeddingBag(EmbeddingBagCollection):
    """torch.nn.EmbeddingBag whose backward pass updates its table with
    AdaGrad, in place (one table of EmbeddingBagCollection).

    EmbeddingBag(num_embeddings, embedding_dim, mode="mean", *, lr=1e-2,
    lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, ...):
    nn.EmbeddingBag's arguments (scale_grad_by_freq and padding_idx are not
    supported and raise)
    and torch.optim.Adagrad's, then the collection's keywords (max_norm
    among them is FBGEMM's: rows the step updates are renormalized after it,
    not rows looked up, as nn.EmbeddingBag's max_norm does).
    forward(input, offsets=None, per_sample_weights=None) as
    nn.EmbeddingBag's. ``weight`` and ``sum`` are the table and its state.
    """

    def __init__(self, num_embeddings, embedding_dim, mode="mean", *, _weight=None,
                 include_last_offset=False, padding_idx=None, scale_grad_by_freq=False,
                 **optimizer):
        if padding_idx is not None:
            raise NotImplementedError("padding_idx is not supported by the fused step")
        if scale_grad_by_freq:
            raise NotImplementedError("scale_grad_by_freq is not supported by the fused step")
        super().__init__([(num_embeddings, embedding_dim, mode)],
                         _weights=None if _weight is None else [_weight],
                         _names=[("weight", "sum")],
                         include_last_offset=include_last_offset, **optimizer)
        self.num_embeddings, self.embedding_dim, self.mode = num_embeddings, embedding_dim, mode

    def forward(self, input, offsets=None, per_sample_weights=None):
        return super().forward([input], None if offsets is None else [offsets],
                               None if per_sample_weights is None else [per_sample_weights])[0]
