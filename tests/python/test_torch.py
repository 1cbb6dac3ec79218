# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.torch.Adagrad against torch.optim.Adagrad (PyTorch 1.13).

Against foreach=False, the reference this optimizer reproduces, parameters
and sums must be equal bit for bit after every one of 200 steps, in the fma
mode the probe chose; state_dict() must carry a run from either optimizer to
the other with the same bits. Against foreach=True (another order of
operations) the difference must stay within measured bounds.
"""
import copy
import inspect
import pickle
import unittest
import warnings

import numpy as np
import torch

from adagrad.torch import Adagrad, probe_fma
from bitwise import difference_report

DTYPES = (torch.float32, torch.float64)
# A length below the vector widths, a 2-D tensor, a prime and a larger 2-D.
SHAPES = [(37,), (8, 13), (1031,), (64, 65)]
STEPS = 200
HYPERPARAMETERS = dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)


def make_params(dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=dtype).requires_grad_()
            for shape in SHAPES]


def clones(params):
    return [p.detach().clone().requires_grad_() for p in params]


def make_gradients(dtype, seed, steps):
    """One list of gradients (one per shape) per step."""
    generator = torch.Generator().manual_seed(seed + 1)
    return [[torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES]
            for _ in range(steps)]


def take_step(optimizer, params, grads):
    # A fresh copy each time: torch's foreach path adds the weight decay to
    # p.grad in place.
    for param, grad in zip(params, grads):
        param.grad = grad.clone()
    optimizer.step()


def state_difference(ours, ours_params, theirs, theirs_params):
    """None when parameters, sums and step counts are equal bit for bit."""
    for index, (a, b) in enumerate(zip(ours_params, theirs_params)):
        for what, x, y in (("parameter", a.detach(), b.detach()),
                           ("sum", ours.state[a]["sum"], theirs.state[b]["sum"])):
            report = difference_report(x.numpy(), y.numpy())
            if report is not None:
                return "{} {} (shape {}): {}".format(what, index, tuple(a.shape), report)
        if ours.state[a]["step"].item() != theirs.state[b]["step"].item():
            return "step count of parameter {}: {} != {}".format(
                index, ours.state[a]["step"].item(), theirs.state[b]["step"].item())
    return None


class FmaProbeTest(unittest.TestCase):
    def test_probe_finds_a_bitwise_match(self):
        # A probe that finds no match warns; this PyTorch must have one.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fma = probe_fma()
        self.assertIsInstance(fma, bool)
        self.assertIs(Adagrad(make_params(torch.float32, 0)).fma, fma)

    def test_explicit_mode_skips_the_probe(self):
        for fma in (False, True):
            self.assertIs(Adagrad(make_params(torch.float32, 0), fma=fma).fma, fma)


def run_both(testcase, dtype, seed, ours_options, theirs_options, steps, ours_params=None):
    """Runs ours and torch's foreach=False side by side and fails testcase at
    the first step after which anything differs."""
    if ours_params is None:
        ours_params = make_params(dtype, seed)
    theirs_params = clones(ours_params)
    ours = Adagrad(ours_params, **ours_options)
    theirs = torch.optim.Adagrad(theirs_params, foreach=False, **theirs_options)
    for step, grads in enumerate(make_gradients(dtype, seed, steps), start=1):
        take_step(ours, ours_params, grads)
        take_step(theirs, theirs_params, grads)
        difference = state_difference(ours, ours_params, theirs, theirs_params)
        if difference is not None:
            testcase.fail("fma={}, after step {}: {}".format(ours.fma, step, difference))
    return ours


class BitwiseTest(unittest.TestCase):
    def test_200_steps_bit_for_bit(self):
        for dtype in DTYPES:
            for maximize in (False, True):
                with self.subTest(dtype=dtype, maximize=maximize):
                    options = dict(maximize=maximize, **HYPERPARAMETERS)
                    ours = run_both(self, dtype, 1, options, options, STEPS)
                    self.assertIs(ours.fma, probe_fma())

    def test_defaults_and_initial_accumulator(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                run_both(self, dtype, 2, {}, {}, 10)
                options = dict(initial_accumulator_value=0.1, eps=1e-6, **HYPERPARAMETERS)
                run_both(self, dtype, 3, options, options, 10)

    def test_mixed_dtypes_and_groups(self):
        params = make_params(torch.float32, 4)
        params[1] = params[1].detach().double().requires_grad_()
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.5, "maximize": True}]
        ours = Adagrad(groups, **HYPERPARAMETERS)
        theirs_params = clones(params)
        theirs = torch.optim.Adagrad(
            [{"params": theirs_params[:2]},
             {"params": theirs_params[2:], "lr": 0.5, "maximize": True}],
            foreach=False, **HYPERPARAMETERS)
        generator = torch.Generator().manual_seed(5)
        for step in range(1, 21):
            grads = [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in params]
            take_step(ours, params, grads)
            take_step(theirs, theirs_params, grads)
            difference = state_difference(ours, params, theirs, theirs_params)
            self.assertIsNone(difference, "after step {}".format(step))


class StateDictTest(unittest.TestCase):
    def continue_elsewhere(self, first_class, second_class, dtype):
        """Runs half the steps with one optimizer, loads its state_dict into
        the other kind, and checks that the rest of the run gives the same
        bits as the first optimizer continuing on its own."""
        def build(cls, params):
            if cls is torch.optim.Adagrad:
                return cls(params, foreach=False, **HYPERPARAMETERS)
            return cls(params, **HYPERPARAMETERS)

        half = STEPS // 2
        grads = make_gradients(dtype, 6, STEPS)
        first_params = make_params(dtype, 6)
        first = build(first_class, first_params)
        for step_grads in grads[:half]:
            take_step(first, first_params, step_grads)

        second_params = clones(first_params)
        second = build(second_class, second_params)
        second.load_state_dict(first.state_dict())
        for step, step_grads in enumerate(grads[half:], start=half + 1):
            take_step(first, first_params, step_grads)
            take_step(second, second_params, step_grads)
            difference = state_difference(first, first_params, second, second_params)
            self.assertIsNone(difference, "after step {}".format(step))

    def test_ours_to_torch(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                self.continue_elsewhere(Adagrad, torch.optim.Adagrad, dtype)

    def test_torch_to_ours(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                self.continue_elsewhere(torch.optim.Adagrad, Adagrad, dtype)

    def test_same_layout_as_torch(self):
        params = make_params(torch.float32, 7)
        ours = Adagrad(params, **HYPERPARAMETERS).state_dict()
        theirs = torch.optim.Adagrad(clones(params), **HYPERPARAMETERS).state_dict()
        self.assertEqual(ours["state"].keys(), theirs["state"].keys())
        for index, state in ours["state"].items():
            self.assertEqual(state.keys(), theirs["state"][index].keys())
            self.assertEqual(state["step"].dtype, theirs["state"][index]["step"].dtype)
            self.assertEqual(state["step"].shape, theirs["state"][index]["step"].shape)
        self.assertEqual(ours["param_groups"], theirs["param_groups"])

    def test_pickle_and_deepcopy_keep_the_fma_mode(self):
        for fma in (False, True):
            optimizer = Adagrad(make_params(torch.float64, 8), fma=fma)
            self.assertIs(copy.deepcopy(optimizer).fma, fma)
            self.assertIs(pickle.loads(pickle.dumps(optimizer)).fma, fma)


class ForeachToleranceTest(unittest.TestCase):
    """torch.optim.Adagrad(foreach=True) orders the arithmetic differently: it
    computes clr from the float32 step tensors in float32, also for float64
    parameters, so results drift from foreach=False (and from this optimizer)
    by far more than rounding.

    The bounds were measured with this test's setup (make_params,
    make_gradients, SHAPES, 200 steps, HYPERPARAMETERS, maximize False and
    True) over seeds 0-19, with Debian's PyTorch 1.13.1 on x86-64 (AVX-512):
    the largest absolute parameter difference was 6.0e-7 (float32) and
    3.6e-8 (float64), the largest relative difference of a sum 2.7e-7
    (float32) and 1.7e-9 (float64). The bounds below are those times ten,
    rounded up; the test runs seed 0.
    """

    PARAMETER_ATOL = {torch.float32: 6e-6, torch.float64: 4e-7}
    SUM_RTOL = {torch.float32: 3e-6, torch.float64: 2e-8}

    def test_within_measured_bounds(self):
        for dtype in DTYPES:
            for maximize in (False, True):
                with self.subTest(dtype=dtype, maximize=maximize):
                    ours_params = make_params(dtype, 0)
                    theirs_params = clones(ours_params)
                    options = dict(maximize=maximize, **HYPERPARAMETERS)
                    ours = Adagrad(ours_params, **options)
                    theirs = torch.optim.Adagrad(theirs_params, foreach=True, **options)
                    for grads in make_gradients(dtype, 0, STEPS):
                        take_step(ours, ours_params, grads)
                        take_step(theirs, theirs_params, grads)
                    for a, b in zip(ours_params, theirs_params):
                        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(),
                                                   rtol=0, atol=self.PARAMETER_ATOL[dtype])
                        np.testing.assert_allclose(ours.state[a]["sum"].numpy(),
                                                   theirs.state[b]["sum"].numpy(),
                                                   rtol=self.SUM_RTOL[dtype], atol=0)


class UnsupportedParameterTest(unittest.TestCase):
    """Each unsupported parameter raises, naming it, before anything changes:
    the supported parameter 0 beside it keeps its value and step count."""

    def assertRejected(self, error, message, bad_param, bad_grad):
        good = torch.randn(6, dtype=torch.float32).requires_grad_()
        good.grad = torch.randn(6)
        optimizer = Adagrad([good, bad_param], **HYPERPARAMETERS)
        bad_param.grad = bad_grad
        before = good.detach().clone()
        with self.assertRaises(error) as raised:
            optimizer.step()
        self.assertIn("parameter 1 of param group 0", str(raised.exception))
        self.assertIn(message, str(raised.exception))
        self.assertIsNone(difference_report(good.detach().numpy(), before.numpy()))
        self.assertEqual(optimizer.state[good]["step"].item(), 0)

    def test_sparse_gradient(self):
        embedding = torch.nn.Embedding(10, 3, sparse=True)
        embedding(torch.tensor([1, 4])).sum().backward()
        self.assertTrue(embedding.weight.grad.is_sparse)
        self.assertRejected(RuntimeError, "sparse", embedding.weight, embedding.weight.grad)

    def test_other_dtypes(self):
        for dtype in (torch.float16, torch.bfloat16, torch.complex64):
            with self.subTest(dtype=dtype):
                param = torch.zeros(4, dtype=dtype).requires_grad_()
                self.assertRejected(TypeError, str(dtype), param, torch.ones(4, dtype=dtype))

    def test_not_contiguous(self):
        param = torch.randn(4, 5).t().requires_grad_()
        self.assertRejected(ValueError, "not contiguous", param, torch.randn(5, 4))
        param = torch.randn(5, 4).requires_grad_()
        self.assertRejected(ValueError, "not contiguous", param, torch.randn(4, 5).t())

    def test_not_on_cpu(self):
        param = torch.zeros(4, device="meta").requires_grad_()
        self.assertRejected(ValueError, "meta", param, torch.zeros(4, device="meta"))

    def test_invalid_group_hyperparameter(self):
        good = torch.randn(6).requires_grad_()
        optimizer = Adagrad([good], **HYPERPARAMETERS)
        optimizer.param_groups[0]["lr"] = -1.0
        good.grad = torch.randn(6)
        before = good.detach().clone()
        with self.assertRaisesRegex(ValueError, "param group 0: lr"):
            optimizer.step()
        self.assertIsNone(difference_report(good.detach().numpy(), before.numpy()))
        self.assertEqual(optimizer.state[good]["step"].item(), 0)

    def test_invalid_constructor_arguments(self):
        # The same type and message as torch.optim.Adagrad's.
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            with self.subTest(name=name):
                with self.assertRaises(ValueError) as theirs:
                    torch.optim.Adagrad(make_params(torch.float32, 0), **{name: -1.0})
                with self.assertRaises(ValueError) as ours:
                    Adagrad(make_params(torch.float32, 0), **{name: -1.0})
                self.assertEqual(str(ours.exception), str(theirs.exception))


class SignatureTest(unittest.TestCase):
    """The signature is torch.optim.Adagrad's: a positional call means the
    same on both classes."""

    def test_torch_parameters_come_first_with_the_same_defaults(self):
        def described(cls):
            return [(p.name, p.kind, p.default)
                    for p in inspect.signature(cls.__init__).parameters.values()]

        theirs, ours = described(torch.optim.Adagrad), described(Adagrad)
        self.assertEqual(ours[:len(theirs)], theirs)
        ours = list(inspect.signature(Adagrad.__init__).parameters.values())
        extras = {p.name: p for p in ours[len(theirs):]}
        for name, default in (("differentiable", False), ("fused", None), ("fma", None)):
            self.assertIs(extras[name].kind, inspect.Parameter.KEYWORD_ONLY)
            self.assertIs(extras[name].default, default)

    def test_positional_calls_mean_the_same(self):
        # The seventh positional argument is foreach on both; maximize is
        # keyword-only on both, so an eighth positional argument is an error.
        arguments = (0.1, 0.01, 0.1, 0.2, 1e-6, True)
        ours_params = make_params(torch.float32, 11)
        theirs_params = clones(ours_params)
        ours = Adagrad(ours_params, *arguments)
        theirs = torch.optim.Adagrad(theirs_params, *arguments)
        self.assertEqual(ours.param_groups[0]["foreach"], True)
        self.assertEqual([{k: v for k, v in group.items() if k != "params"}
                          for group in ours.param_groups],
                         [{k: v for k, v in group.items() if k != "params"}
                          for group in theirs.param_groups])
        for cls in (torch.optim.Adagrad, Adagrad):
            with self.assertRaises(TypeError):
                cls(make_params(torch.float32, 11), *arguments, False)

    def test_foreach_and_fused_keep_foreach_false_results(self):
        # With lr_decay, where torch's foreach=True rounds differently.
        for options in (dict(foreach=True), dict(foreach=False), dict(fused=True),
                        dict(foreach=True, fused=False)):
            with self.subTest(**options):
                run_both(self, torch.float32, 12, dict(options, **HYPERPARAMETERS),
                                     HYPERPARAMETERS, 5)

    def test_differentiable_is_refused(self):
        with self.assertRaisesRegex(ValueError, "differentiable=True"):
            Adagrad(make_params(torch.float32, 0), differentiable=True)
        Adagrad(make_params(torch.float32, 0), differentiable=False)


class OptimizerProtocolTest(unittest.TestCase):
    def test_parameters_without_gradient_are_skipped(self):
        params = make_params(torch.float64, 9)
        optimizer = Adagrad(params)
        params[0].grad = torch.ones_like(params[0])
        before = params[1].detach().clone()
        optimizer.step()
        self.assertEqual(optimizer.state[params[0]]["step"].item(), 1)
        self.assertEqual(optimizer.state[params[1]]["step"].item(), 0)
        self.assertTrue(torch.equal(params[1].detach(), before))

    def test_closure_runs_with_grad_enabled(self):
        model = torch.nn.Linear(3, 1)
        optimizer = Adagrad(model.parameters(), lr=0.1)
        inputs, target = torch.randn(8, 3), torch.randn(8, 1)

        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(inputs), target)
            loss.backward()
            return loss

        first = optimizer.step(closure).item()
        for _ in range(20):
            last = optimizer.step(closure).item()
        self.assertLess(last, first)

    def test_param_group_added_later(self):
        optimizer = Adagrad(make_params(torch.float32, 10), initial_accumulator_value=0.5)
        extra = torch.zeros(3).requires_grad_()
        optimizer.add_param_group({"params": [extra]})
        extra.grad = torch.ones(3)
        optimizer.step()
        self.assertEqual(optimizer.state[extra]["step"].item(), 1)
        self.assertTrue(torch.equal(optimizer.state[extra]["sum"],
                                    torch.full((3,), 1.5)))


if __name__ == "__main__":
    unittest.main()
