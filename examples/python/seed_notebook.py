#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The seed notebook (../shared/seed/adagrad_numpy_notebook.txt), every code
cell of it, with the step computed by the adagrad library instead of the
notebook's NumPy class.

Only the class cell differs: AdaGrad keeps the notebook's interface (lr, eps,
weight_decay and G, the accumulators by id() of the parameter array), which
the other cells read and print, and its step() calls adagrad.step. The
library reproduces the notebook's float64 arithmetic bit for bit, so this
prints exactly what the notebook prints (tests/python/test_seed_notebook.py
checks it).

Run from a build with the Python package (ADAGRAD_BUILD_PYTHON=ON):
    PYTHONPATH=build/py/python /usr/bin/python3 examples/python/seed_notebook.py
"""


# ---- Imports ----
import numpy as np

print("Libraries imported successfully!")


# ---- AdaGrad Optimizer Implementation ----
# The cells name their optimizer instances "adagrad": the library is imported
# under another name so that they do not hide it.
import adagrad as adagrad_library


class AdaGrad:
    """The notebook's AdaGrad, its step computed by adagrad.step.

    G is updated in place, where the notebook's class binds a new array each
    step; the cells only read G or copy it, so they see the same values.
    """

    def __init__(self, lr=0.01, eps=1e-8, weight_decay=0.0):
        self.lr = lr
        self.eps = eps
        self.weight_decay = weight_decay
        self.G = {}

    def step(self, params, grads):
        param_id = id(params)
        if param_id not in self.G:
            self.G[param_id] = np.zeros_like(params)
        adagrad_library.step(params, grads, self.G[param_id], lr=self.lr, eps=self.eps,
                             weight_decay=self.weight_decay)


# ---- Numerical Example: Parameter Updates Over Several Steps ----
# Simple numerical example
import numpy as np

np.random.seed(42)
W = np.random.randn(2, 2)
grads = np.random.randn(2, 2)

print("Initial weights W:")
print(W)
print("\nInitial gradients:")
print(grads)
print("\n" + "="*60 + "\n")

# Create AdaGrad optimizer
adagrad = AdaGrad(lr=0.01, eps=1e-8)

print("AdaGrad optimizer parameters:")
print(f"  Learning rate: {adagrad.lr}")
print(f"  Epsilon: {adagrad.eps}")
print("\n" + "="*60 + "\n")

# Perform 5 optimization steps
for i in range(5):
    adagrad.step(W, grads)
    print(f"Step {i+1}, Updated Weights:\n{W}\n")


# ---- Detailed Example: Showing Intermediate Values (G_t and Adaptive Learning Rates) ----
# Detailed example showing intermediate values (G_t and adaptive step sizes)
np.random.seed(42)
W = np.random.randn(2, 2)
grads = np.random.randn(2, 2)

print("Initial weights W:")
print(W)
print("\nInitial gradients:")
print(grads)
print("\n" + "="*70 + "\n")

adagrad = AdaGrad(lr=0.01, eps=1e-8)

param_id = id(W)

for i in range(5):
    print(f"Step {i+1}:")
    print(f"  Learning rate: {adagrad.lr}")
    print(f"  Eps: {adagrad.eps}")
    
    # Store previous values for display
    G_prev = adagrad.G.get(param_id, np.zeros_like(W)).copy()
    W_prev = W.copy()
    
    print(f"\n  Before step():")
    print(f"    G_{i} (accumulated squared gradients): {G_prev}")
    print(f"    W_{i}: {W_prev}")
    print(f"    Current gradients: {grads}")
    print(f"    Gradient magnitudes: {np.abs(grads)}")
    
    # Perform step
    adagrad.step(W, grads)
    
    # Display intermediate values
    print(f"\n  After step() - Updated accumulated squared gradients:")
    print(f"    G_{i+1} = G_{i} + g_{i+1}^2")
    print(f"    G_{i+1} = {G_prev} + {grads**2}")
    print(f"    G_{i+1}: {adagrad.G[param_id]}")
    
    # Calculate adaptive step sizes
    sqrt_G = np.sqrt(adagrad.G[param_id])
    denominator = sqrt_G + adagrad.eps
    adaptive_lr = adagrad.lr / denominator
    step_size = adaptive_lr * grads
    
    print(f"\n  Adaptive step size calculation:")
    print(f"    sqrt(G_{i+1}): {sqrt_G}")
    print(f"    sqrt(G_{i+1}) + eps: {denominator}")
    print(f"    Adaptive learning rate per parameter: {adagrad.lr} / {denominator}")
    print(f"    Adaptive learning rate: {adaptive_lr}")
    print(f"    Step size: lr * g / (sqrt(G) + eps) = {step_size}")
    
    print(f"\n  Parameter update:")
    print(f"    W_{i+1} = W_{i} - lr * g_{i+1} / (sqrt(G_{i+1}) + eps)")
    print(f"    Updated W_{i+1}: {W}")
    print(f"    Change in W: {W - W_prev}")
    print("-" * 70)


# ---- Example: Demonstrating Decreasing Learning Rates Over Time ----
# Demonstrate how AdaGrad's learning rate decreases over time
np.random.seed(42)

W = np.random.randn(2, 2)
grads = np.random.randn(2, 2)

print("Demonstrating decreasing learning rates:")
print(f"Initial weights W:\n{W}")
print(f"\nGradients (constant for demonstration):\n{grads}")
print("="*70 + "\n")

adagrad = AdaGrad(lr=0.1, eps=1e-8)  # Use larger lr to see the effect

for i in range(5):
    G_before = adagrad.G.get(id(W), np.zeros_like(W)).copy()
    W_before = W.copy()
    
    # Perform step
    adagrad.step(W, grads)
    
    # Calculate adaptive learning rates
    sqrt_G = np.sqrt(adagrad.G[id(W)])
    adaptive_lr = adagrad.lr / (sqrt_G + adagrad.eps)
    step_size = adaptive_lr * grads
    
    print(f"Step {i+1}:")
    print(f"  G (accumulated squared gradients):\n{adagrad.G[id(W)]}")
    print(f"  sqrt(G):\n{sqrt_G}")
    print(f"  Adaptive learning rate per parameter:\n{adaptive_lr}")
    print(f"  Step size per parameter:\n{step_size}")
    print(f"  Updated W:\n{W}")
    print(f"  Change in W:\n{W - W_before}")
    print(f"\n  Key observation: Learning rate decreases as G accumulates!")
    print(f"  Average adaptive learning rate: {np.mean(adaptive_lr):.6f}")
    print("-" * 70)


# ---- Example: AdaGrad with Weight Decay ----
# Example demonstrating AdaGrad with weight decay
np.random.seed(42)

W = np.random.randn(2, 2)
grads = np.random.randn(2, 2)

print("AdaGrad without weight decay:")
adagrad_no_decay = AdaGrad(lr=0.01, eps=1e-8, weight_decay=0.0)
W_no_decay = W.copy()

for i in range(3):
    adagrad_no_decay.step(W_no_decay, grads)
    print(f"Step {i+1}, W:\n{W_no_decay}\n")

print("="*70 + "\n")
print("AdaGrad with weight decay (weight_decay=0.01):")
adagrad_with_decay = AdaGrad(lr=0.01, eps=1e-8, weight_decay=0.01)
W_with_decay = W.copy()

for i in range(3):
    adagrad_with_decay.step(W_with_decay, grads)
    print(f"Step {i+1}, W:\n{W_with_decay}\n")


# ---- Example: Comparing AdaGrad with Different Learning Rates ----
# Compare AdaGrad with different learning rates
np.random.seed(42)

W_1 = np.random.randn(2, 2)
W_2 = np.random.randn(2, 2)
grads = np.random.randn(2, 2)

print("AdaGrad with lr=0.01:")
adagrad1 = AdaGrad(lr=0.01, eps=1e-8)
for i in range(3):
    adagrad1.step(W_1, grads)
    print(f"Step {i+1}: {W_1}")

print("\n" + "="*70 + "\n")
print("AdaGrad with lr=0.1:")
adagrad2 = AdaGrad(lr=0.1, eps=1e-8)
for i in range(3):
    adagrad2.step(W_2, grads)
    print(f"Step {i+1}: {W_2}")


# ---- Visual Comparison: AdaGrad vs RMSProp Behavior ----
# Demonstrate the key difference: AdaGrad accumulates forever (no decay)
np.random.seed(42)

W = np.random.randn(2, 2)
grads = np.random.randn(2, 2)

print("AdaGrad - Accumulated squared gradients keep growing:")
print("="*70)
adagrad = AdaGrad(lr=0.1, eps=1e-8)

for i in range(5):
    adagrad.step(W, grads)
    G_mean = np.mean(adagrad.G[id(W)])
    sqrt_G_mean = np.mean(np.sqrt(adagrad.G[id(W)]))
    adaptive_lr_mean = np.mean(adagrad.lr / (np.sqrt(adagrad.G[id(W)]) + adagrad.eps))
    print(f"  Step {i+1}: Mean(G) = {G_mean:.6f}, Mean(√G) = {sqrt_G_mean:.6f}, Mean(adaptive_lr) = {adaptive_lr_mean:.6f}")

print("\nKey observation: G accumulates continuously, causing adaptive learning rate to decrease over time.")
print("This is why RMSProp (with decay) was developed to address AdaGrad's vanishing learning rate problem.")
