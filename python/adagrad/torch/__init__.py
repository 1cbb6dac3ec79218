# SPDX-License-Identifier: BSD-3-Clause
"""torch.optim.Adagrad computed by the adagrad library, with the same bits.

Adagrad here is a drop-in replacement for torch.optim.Adagrad (PyTorch 1.13)
on CPU float32, float64, complex64, complex128, bfloat16 and float16
parameters, with dense gradients or (float32, float64) sparse ones: the
same signature and hyperparameters, the same state
(``state[p]["step"]``, a float tensor, and ``state[p]["sum"]``), so that
state_dict() loads from one optimizer into the other, and the same results
bit for bit as ``torch.optim.Adagrad(foreach=False)``. The step runs in
place on NumPy views of the parameter, gradient and sum tensors (they share
memory), without copies where their layout allows, one library call per
param group and dtype.

The package's modules: _optimizer (the Adagrad class and its plan of a
step), _entries (each parameter's checked arrays, dense and sparse),
_probes (which fma modes reproduce the installed PyTorch), _pools (the
thread pools the steps run on), _embedding (EmbeddingBag and
EmbeddingBagCollection, whose backward pass steps their tables with the
library's fused embedding-bag step: no optimizer needed for them).
"""
from ._embedding import EmbeddingBag, EmbeddingBagCollection
from ._optimizer import Adagrad
from ._probes import probe_fma, probe_sparse

__all__ = ["Adagrad", "EmbeddingBag", "EmbeddingBagCollection", "probe_fma", "probe_sparse"]
