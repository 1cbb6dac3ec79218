"""SIMD-accelerated, bit-reproducible AdaGrad steps on NumPy arrays.

The functions are those of the compiled extension ``adagrad._adagrad``, a
binding of the C library (include/adagrad/adagrad.h):

    step(w, g, G, *, lr=0.01, eps=1e-8, weight_decay=0.0, lr_decay=0.0,
         step=1, maximize=False, eps_mode="outside", fma=False, isa=None)
        one AdaGrad step, updating w and G in place
    state_init(G, value)     fill an accumulator with its initial value
    active_isa()             the ISA step() dispatches to
    supported_isas()         the ISAs this CPU can run

A torch.optim optimizer built on step() is in ``adagrad.torch`` (imported
on demand, so that NumPy users do not pay for importing PyTorch).
"""
from adagrad._adagrad import __version__, active_isa, state_init, step, supported_isas

__all__ = ["__version__", "active_isa", "state_init", "step", "supported_isas"]
