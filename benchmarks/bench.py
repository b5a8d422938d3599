#!/usr/bin/env python
"""npframe side by side with hand-written NumPy (and PyTorch / scikit-learn if installed).

Every implementation trains the same network with the same maths from the same
initial weights: fully connected, ReLU hidden layers, linear output, loss = mean over
samples of 0.5 * sum over outputs of the squared error, plain SGD, no shuffling.
npframe's ``"mse"`` also averages over the outputs, so it gets the learning rate
``lr * n_outputs / 2``, which takes exactly the same step.

Implementations (``--list`` shows them):

* ``tutorial``     the tutorial's style: layer objects, ``np.dot``, derivative functions,
                   features x samples, new arrays everywhere (float64, as the tutorial)
* ``numpy_sxf``    hand-tuned NumPy, samples x features: preallocated buffers, ``out=``,
                   the output delta pre-scaled by ``lr / m`` so the update is one subtract
* ``numpy_fxs``    the same, features x samples, batches pre-blocked (untimed)
* ``gemm_sxf`` / ``gemm_fxs``  NOT trainers: only the matrix products a step needs;
                   the faster of the two, per repetition, is the "GEMM floor"
* ``npframe``      ``Network.from_spec`` + ``fit``, public API only, built-in components
* ``npframe_plugin``  the same with the hidden activation a plugin written in plain
                   NumPy (``np.maximum(z, 0)`` / ``grad_a * (z > 0)``), registered in process
* ``torch``        PyTorch CPU: ``nn.Linear`` + autograd + ``optim.SGD`` (if importable)
* ``sklearn``      ``MLPRegressor(solver="sgd", momentum=0, alpha=0)`` (if importable)

Workloads: W1 the tutorial (2-4-4-3, full batch of 7,000, float64, time per epoch);
W2 MNIST-sized (784-256-256-10, 60,000 samples, batch 128, float32, per epoch); W3
wide (1024-4096-4096-1024, batch 512, float32, per step). Implementations run
interleaved (A B C ... then ... C B A) in one process; the tables give medians and
the median of per-repetition ratios measured side by side. The memory section runs
W2 in fresh subprocesses: peak RSS while training, and tracemalloc's peak of
transient allocations per epoch in steady state, at two batch sizes.

    python benchmarks/bench.py --quick           # smoke run, about a minute
    python benchmarks/bench.py                   # the full run (about 15 minutes here)
    python benchmarks/bench.py --md docs/performance.md   # also refresh the docs table

Results (JSON and markdown) go to ``$TMPDIR/npframe-bench/`` unless ``--out`` says
otherwise, never into the repository unless asked with ``--md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = Path(tempfile.gettempdir()) / "npframe-bench"
MANUAL_MARKER = "<!-- hand-written notes below this line are kept by --md -->"

# ---------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------
WORKLOADS: dict[str, dict[str, Any]] = {
    "W1": dict(name="tutorial", sizes=[2, 4, 4, 3], n=7000, batch=None, dtype="float64",
               lr=0.01, unit="epoch", data="tutorial", rep_seconds=0.4, reps=9,
               impls=["tutorial", "numpy_sxf", "numpy_fxs", "npframe", "npframe_plugin",
                      "npframe_plain", "torch", "sklearn"]),
    "W2": dict(name="mnist-sized", sizes=[784, 256, 256, 10], n=60000, batch=128,
               dtype="float32", lr=0.01, unit="epoch", data="onehot", rep_seconds=0.0,
               reps=7, impls=["numpy_sxf", "numpy_fxs", "npframe", "npframe_plugin",
                              "npframe_plain", "npframe_bn_dropout", "gemm_sxf", "gemm_fxs",
                              "torch", "torch_bn_dropout", "sklearn"]),
    "W3": dict(name="wide", sizes=[1024, 4096, 4096, 1024], n=2048, batch=512,
               dtype="float32", lr=0.01, unit="step", data="regression", rep_seconds=0.0,
               reps=7, impls=["numpy_sxf", "numpy_fxs", "npframe", "gemm_sxf", "gemm_fxs",
                              "torch"]),
}
#: What each workload's target compares npframe with (the issue's targets).
TARGETS = {"W1": 1.10, "W2": 1.10, "W3": 1.05}
TUNED = ("numpy_sxf", "numpy_fxs")
GEMM = ("gemm_sxf", "gemm_fxs")


def batch_slices(n: int, batch: int | None) -> list[tuple[int, int]]:
    size = n if batch is None else batch
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def make_data(wl: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Training data, samples x features, C-contiguous, in the workload's dtype."""
    n, sizes = wl["n"], wl["sizes"]
    if wl["data"] == "tutorial":
        # The tutorial's data: RandomState(42) draws exactly what np.random.seed(42)
        # then np.random.rand would, without touching NumPy's global state.
        raw = np.random.RandomState(42).rand(2, 10000) * 100
        a, b = raw
        y = np.vstack([a + b, a - b, np.abs(a - b)])
        n_train = int(0.7 * raw.shape[1])
        X, Y = raw[:, :n_train].T, y[:, :n_train].T
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        Y = (Y - Y.mean(axis=0)) / Y.std(axis=0)
    elif wl["data"] == "onehot":
        rng = np.random.default_rng(1)
        X = rng.random((n, sizes[0]), dtype=np.float32)
        Y = np.zeros((n, sizes[-1]), np.float32)
        Y[np.arange(n), rng.integers(0, sizes[-1], n)] = 1.0
    else:
        rng = np.random.default_rng(2)
        X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
        Y = rng.standard_normal((n, sizes[-1]), dtype=np.float32)
    dtype = np.dtype(wl["dtype"])
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)


def make_init(sizes: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-normal weights ``(fan_in, fan_out)`` and small random biases, float64."""
    rng = np.random.default_rng(seed)
    init = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        scale = math.sqrt(2.0 / fan_in)
        init.append((rng.standard_normal((fan_in, fan_out)) * scale,
                     rng.standard_normal(fan_out) * 0.1))
    return init


def step_flops(sizes: list[int], m: int) -> float:
    """Matrix-product FLOPs of one step: forward, dW, and dX except for the first layer."""
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    return 2.0 * m * (3 * weights - sizes[0] * sizes[1])


def half_sse(params: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray,
             Y: np.ndarray) -> float:
    """The common loss, in float64, on ``X``: a sanity check that everyone trained."""
    a = np.asarray(X, np.float64)
    for i, (W, b) in enumerate(params):
        a = a @ W + b
        if i < len(params) - 1:
            a = np.maximum(a, 0.0)
    d = a - Y
    return float(0.5 * np.einsum("ij,ij->", d, d) / d.shape[0])


# ---------------------------------------------------------------------------------------
# Implementations: Impl(wl, X, Y, init, threads); run(units); params() -> float64 list
# ---------------------------------------------------------------------------------------
class Skip(Exception):
    """An optional implementation that cannot run here (missing package)."""


class Impl:
    dtype = "?"
    gemm_only = False

    def __init__(self, wl, X, Y, init, threads):
        self.wl, self.unit = wl, wl["unit"]
        self.slices = batch_slices(X.shape[0], wl["batch"])
        self.k = 0  # next batch, for per-step units

    def run(self, units: int) -> None:
        if self.unit == "epoch":
            for _ in range(units):
                for i in range(len(self.slices)):
                    self.step(i)
        else:
            for _ in range(units):
                self.step(self.k % len(self.slices))
                self.k += 1

    def step(self, i: int) -> None:
        raise NotImplementedError

    def params(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        return None


class Tutorial(Impl):
    """The tutorial's code as written: clear, and allocating at every line."""

    dtype = "float64"

    class Layer:
        def __init__(self, W, b, relu):
            self.W, self.b, self.relu = W.T.copy(), b[:, None].copy(), relu

        def forward(self, A_prev):
            self.A_prev = A_prev
            self.Z = np.dot(self.W, A_prev) + self.b
            self.A = np.maximum(0, self.Z) if self.relu else self.Z
            return self.A

        def backward(self, dA, lr):
            deriv = (self.Z > 0).astype(float) if self.relu else np.ones_like(self.Z)
            dZ = dA * deriv
            m = self.A_prev.shape[1]
            dW = np.dot(dZ, self.A_prev.T) / m
            db = np.sum(dZ, axis=1, keepdims=True) / m
            dA_prev = np.dot(self.W.T, dZ)
            self.W -= lr * dW
            self.b -= lr * db
            return dA_prev

    def __init__(self, wl, X, Y, init, threads):
        super().__init__(wl, X, Y, init, threads)
        self.X, self.Y = X.T.astype(np.float64), Y.T.astype(np.float64)
        last = len(init) - 1
        self.layers = [self.Layer(W, b, i < last) for i, (W, b) in enumerate(init)]

    def step(self, i):
        s, e = self.slices[i]
        a = self.X[:, s:e]
        for layer in self.layers:
            a = layer.forward(a)
        d = a - self.Y[:, s:e]
        for layer in reversed(self.layers):
            d = layer.backward(d, self.wl["lr"])

    def params(self):
        return [(layer.W.T.copy(), layer.b[:, 0].copy()) for layer in self.layers]


class TunedSxF(Impl):
    """Hand-tuned, samples x features. Every array preallocated, every op ``out=``;
    the output delta is pre-scaled by ``lr / m``, so gradients come out as updates;
    ReLU against a preallocated zero array, bias gradients as a product with ones
    (both measurably faster than the scalar / ``sum`` forms)."""

    def __init__(self, wl, X, Y, init, threads):
        super().__init__(wl, X, Y, init, threads)
        dtype = np.dtype(wl["dtype"])
        self.dtype = dtype.name
        self.X, self.Y = X, Y
        self.W = [np.array(W, dtype) for W, _ in init]
        self.b = [np.array(b, dtype) for _, b in init]
        m = max(e - s for s, e in self.slices)
        outs = [W.shape[1] for W in self.W]
        self.Z = [np.empty((m, o), dtype) for o in outs]
        self.D = [np.empty((m, o), dtype) for o in outs]
        self.mask = [np.empty((m, o), bool) for o in outs[:-1]]
        self.zeros = [np.zeros((m, o), dtype) for o in outs[:-1]]
        self.ones = np.ones(m, dtype)
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]

    def step(self, i):
        s, e = self.slices[i]
        m, W, b, L = e - s, self.W, self.b, len(self.W)
        acts = [self.X[s:e]]
        for k in range(L):
            Z = self.Z[k][:m]
            np.matmul(acts[-1], W[k], out=Z)
            np.add(Z, b[k], out=Z)
            if k < L - 1:
                np.maximum(Z, self.zeros[k][:m], out=Z)
            acts.append(Z)
        d = self.D[-1][:m]
        np.subtract(acts[-1], self.Y[s:e], out=d)
        np.multiply(d, self.wl["lr"] / m, out=d)
        for k in range(L - 1, -1, -1):
            np.matmul(acts[k].T, d, out=self.dW[k])
            np.matmul(self.ones[:m], d, out=self.db[k])
            if k > 0:
                prev = self.D[k - 1][:m]
                np.matmul(d, W[k].T, out=prev)
                mask = self.mask[k - 1][:m]
                np.greater(acts[k], 0, out=mask)
                np.multiply(prev, mask, out=prev)
            np.subtract(W[k], self.dW[k], out=W[k])
            np.subtract(b[k], self.db[k], out=b[k])
            if k > 0:
                d = prev

    def params(self):
        return [(W.astype(np.float64), b.astype(np.float64))
                for W, b in zip(self.W, self.b, strict=True)]


class TunedFxS(Impl):
    """Hand-tuned, features x samples: ``Z = W @ A``; the batches are copied into
    contiguous ``(features, m)`` blocks once, before timing."""

    def __init__(self, wl, X, Y, init, threads):
        super().__init__(wl, X, Y, init, threads)
        dtype = np.dtype(wl["dtype"])
        self.dtype = dtype.name
        self.Xb = [np.ascontiguousarray(X[s:e].T) for s, e in self.slices]
        self.Yb = [np.ascontiguousarray(Y[s:e].T) for s, e in self.slices]
        self.W = [np.array(W.T, dtype, order="C") for W, _ in init]  # (out, in)
        self.b = [np.array(b[:, None], dtype) for _, b in init]
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty(W.shape[0], dtype) for W in self.W]
        outs = [W.shape[0] for W in self.W]
        self.bufs = {}
        for m in {e - s for s, e in self.slices}:
            self.bufs[m] = dict(Z=[np.empty((o, m), dtype) for o in outs],
                                D=[np.empty((o, m), dtype) for o in outs],
                                mask=[np.empty((o, m), bool) for o in outs[:-1]],
                                zeros=[np.zeros((o, m), dtype) for o in outs[:-1]],
                                ones=np.ones(m, dtype))

    def step(self, i):
        x, y = self.Xb[i], self.Yb[i]
        m, W, b, L = x.shape[1], self.W, self.b, len(self.W)
        B = self.bufs[m]
        acts = [x]
        for k in range(L):
            Z = B["Z"][k]
            np.matmul(W[k], acts[-1], out=Z)
            np.add(Z, b[k], out=Z)
            if k < L - 1:
                np.maximum(Z, B["zeros"][k], out=Z)
            acts.append(Z)
        d = B["D"][-1]
        np.subtract(acts[-1], y, out=d)
        np.multiply(d, self.wl["lr"] / m, out=d)
        for k in range(L - 1, -1, -1):
            np.matmul(d, acts[k].T, out=self.dW[k])
            np.matmul(d, B["ones"], out=self.db[k])
            if k > 0:
                prev = B["D"][k - 1]
                np.matmul(W[k].T, d, out=prev)
                mask = B["mask"][k - 1]
                np.greater(acts[k], 0, out=mask)
                np.multiply(prev, mask, out=prev)
            np.subtract(W[k], self.dW[k], out=W[k])
            np.subtract(b[k][:, 0], self.db[k], out=b[k][:, 0])
            if k > 0:
                d = prev

    def params(self):
        return [(W.T.astype(np.float64), b[:, 0].astype(np.float64))
                for W, b in zip(self.W, self.b, strict=True)]


class GemmOnly(Impl):
    """Not a trainer: exactly the matrix products of one step, on the real batches."""

    gemm_only = True

    def __init__(self, wl, X, Y, init, threads, layout="sxf"):
        super().__init__(wl, X, Y, init, threads)
        dtype = np.dtype(wl["dtype"])
        self.dtype, self.layout = dtype.name, layout
        m = max(e - s for s, e in self.slices)
        outs = wl["sizes"][1:]
        if layout == "sxf":
            self.X = X
            self.W = [np.array(W, dtype) for W, _ in init]
            self.Z = [np.empty((m, o), dtype) for o in outs]
            self.D = [np.empty((m, o), dtype) for o in outs]
        else:
            self.Xb = [np.ascontiguousarray(X[s:e].T) for s, e in self.slices]
            self.W = [np.array(W.T, dtype, order="C") for W, _ in init]
            self.Z = [np.empty((o, m), dtype) for o in outs]
            self.D = [np.empty((o, m), dtype) for o in outs]
        self.dW = [np.empty_like(W) for W in self.W]

    def step(self, i):
        s, e = self.slices[i]
        m, W, L = e - s, self.W, len(self.W)
        if self.layout == "sxf":
            acts = [self.X[s:e]]
            for k in range(L):
                acts.append(np.matmul(acts[-1], W[k], out=self.Z[k][:m]))
            d = acts[-1]
            for k in range(L - 1, -1, -1):
                np.matmul(acts[k].T, d, out=self.dW[k])
                if k > 0:
                    d = np.matmul(d, W[k].T, out=self.D[k - 1][:m])
        else:
            acts = [self.Xb[i]]
            for k in range(L):
                acts.append(np.matmul(W[k], acts[-1], out=self.Z[k][:, :m]))
            d = acts[-1]
            for k in range(L - 1, -1, -1):
                np.matmul(d, acts[k].T, out=self.dW[k])
                if k > 0:
                    d = np.matmul(W[k].T, d, out=self.D[k - 1][:, :m])


def npframe_spec(wl: dict[str, Any], hidden_activation: str = "relu") -> dict[str, Any]:
    sizes = wl["sizes"]
    return {
        "input": sizes[0],
        "seed": 0,
        "dtype": wl["dtype"],
        "loss": "mse",
        "optimizer": {"name": "sgd", "learning_rate": wl["lr"] * sizes[-1] / 2},
        "layers": [{"units": u, "activation": hidden_activation} for u in sizes[1:-1]]
        + [{"units": sizes[-1], "activation": "linear"}],
    }


#: The W2 network with batch norm and dropout after each hidden layer (its own rows:
#: other maths than the tuned loops, so compare it with the plain npframe row).
BN_DROPOUT_RATE = 0.2


def npframe_bn_dropout_spec(wl: dict[str, Any]) -> dict[str, Any]:
    spec = npframe_spec(wl)
    layers = []
    for layer in spec["layers"][:-1]:
        layers += [layer, {"type": "batch_norm"}, {"type": "dropout", "rate": BN_DROPOUT_RATE}]
    spec["layers"] = [*layers, spec["layers"][-1]]
    return spec


def plugin_relu_classes() -> dict[str, type]:
    """ReLU as plugin authors write it, in plain NumPy, registered in process.

    ``plain_relu`` has only the contract's two methods (every call allocates its
    result, and ``np.maximum(z, 0)`` takes NumPy's slower scalar path);
    ``plugin_relu`` adds the in-place variants declared on ``npframe.Activation``, as the
    built-in ReLU does, in the same few lines of NumPy.
    """
    import npframe

    class PlainReLU(npframe.Activation):
        def forward(self, z):
            return np.maximum(z, 0)

        def backward(self, z, a, grad_a):
            return grad_a * (z > 0)

    class PluginReLU(PlainReLU):
        in_place = True

        def __init__(self):
            self.buffers = {}

        def _buffer(self, like, dtype):
            key = (like.shape, like.strides, dtype)
            if key not in self.buffers:
                self.buffers[key] = np.zeros_like(like, dtype=dtype)
            return self.buffers[key]

        def forward_into(self, z, out):
            return np.maximum(z, self._buffer(out, out.dtype), out=out)

        def backward_into(self, z, a, grad_a, out):
            return np.multiply(grad_a, np.greater(z, 0, out=self._buffer(out, bool)), out=out)

    return {"plain_relu": PlainReLU, "plugin_relu": PluginReLU}


class Npframe(Impl):
    """npframe through its public API; per-step workloads call ``fit`` once per batch."""

    def __init__(self, wl, X, Y, init, threads, plugin=None):
        super().__init__(wl, X, Y, init, threads)
        import npframe

        registry = None
        activation = "relu"
        if plugin:
            registry = npframe.registry.Registry()
            for name, cls in plugin_relu_classes().items():
                registry.register("activation", name, cls, owner="bench")
            activation = plugin
        self.net = npframe.Network.from_spec(npframe_spec(wl, activation), registry=registry)
        dtype = np.dtype(wl["dtype"])
        self.dtype = dtype.name
        self.net.set_weights([a.astype(dtype) for pair in init for a in pair])
        self.X, self.Y = X, Y

    def run(self, units):
        wl, net = self.wl, self.net
        if self.unit == "epoch":
            net.fit(self.X, self.Y, epochs=units, batch_size=wl["batch"], shuffle=False)
        else:
            for _ in range(units):
                s, e = self.slices[self.k % len(self.slices)]
                self.k += 1
                net.fit(self.X[s:e], self.Y[s:e], epochs=1, batch_size=None, shuffle=False)

    def params(self):
        w = self.net.get_weights()
        return [(w[i].astype(np.float64), w[i + 1].astype(np.float64))
                for i in range(0, len(w), 2)]


class NpframeBnDropout(Npframe):
    """npframe with ``batch_norm`` and ``dropout`` after each hidden dense layer."""

    def __init__(self, wl, X, Y, init, threads):
        Impl.__init__(self, wl, X, Y, init, threads)
        import npframe

        self.net = npframe.Network.from_spec(npframe_bn_dropout_spec(wl))
        self.dtype = np.dtype(wl["dtype"]).name
        self.X, self.Y = X, Y

    def params(self):
        return None  # other maths: not compared with the tuned loops


class Torch(Impl):
    """PyTorch CPU the usual way: ``nn.Sequential``, autograd, ``optim.SGD``."""

    extra = False  # batch norm and dropout after each hidden layer (TorchBnDropout)

    def __init__(self, wl, X, Y, init, threads):
        super().__init__(wl, X, Y, init, threads)
        try:
            import torch
        except ImportError as exc:
            raise Skip(f"torch not importable ({exc})") from None
        torch.set_num_threads(threads)
        self.torch = torch
        tdtype = getattr(torch, wl["dtype"])
        mods = []
        for i, (W, b) in enumerate(init):
            lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if i < len(init) - 1:
                mods.append(torch.nn.ReLU())
                if self.extra:
                    mods.append(torch.nn.BatchNorm1d(W.shape[1], dtype=tdtype))
                    mods.append(torch.nn.Dropout(BN_DROPOUT_RATE))
        self.model = torch.nn.Sequential(*mods)
        self.model.train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=wl["lr"])
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        self.dtype = wl["dtype"]

    def step(self, i):
        s, e = self.slices[i]
        x, y = self.X[s:e], self.Y[s:e]
        self.opt.zero_grad(set_to_none=True)
        loss = self.torch.nn.functional.mse_loss(self.model(x), y, reduction="sum")
        (loss * (0.5 / x.shape[0])).backward()
        self.opt.step()

    def params(self):
        if self.extra:
            return None
        lins = [m for m in self.model if hasattr(m, "weight")]
        return [(m.weight.detach().double().numpy().T.copy(),
                 m.bias.detach().double().numpy().copy()) for m in lins]


class TorchBnDropout(Torch):
    """PyTorch with ``BatchNorm1d`` and ``Dropout`` after each hidden layer."""

    extra = True


class Sklearn(Impl):
    """``MLPRegressor`` with plain SGD (its loss and gradient match the common maths)."""

    def __init__(self, wl, X, Y, init, threads):
        super().__init__(wl, X, Y, init, threads)
        try:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.neural_network import MLPRegressor
        except ImportError as exc:
            raise Skip(f"scikit-learn not importable ({exc})") from None
        self.warning = ConvergenceWarning
        batch = wl["batch"] or X.shape[0]
        self.mlp = MLPRegressor(
            hidden_layer_sizes=tuple(wl["sizes"][1:-1]), solver="sgd", batch_size=batch,
            learning_rate_init=wl["lr"], momentum=0.0, nesterovs_momentum=False, alpha=0.0,
            shuffle=False, tol=0.0, n_iter_no_change=10**9, warm_start=True, max_iter=1,
            random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.mlp.partial_fit(X[:2], Y[:2])
        dtype = np.dtype(wl["dtype"])
        self.mlp.coefs_ = [np.array(W, dtype) for W, _ in init]
        self.mlp.intercepts_ = [np.array(b, dtype) for _, b in init]
        if hasattr(self.mlp, "_optimizer"):
            del self.mlp._optimizer  # rebuilt for the weights just set
        self.X, self.Y = X, Y
        self.dtype = dtype.name

    def run(self, units):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.warning)
            warnings.simplefilter("ignore", UserWarning)
            if self.unit == "epoch":
                self.mlp.set_params(max_iter=units)
                self.mlp.fit(self.X, self.Y)
            else:
                for _ in range(units):
                    s, e = self.slices[self.k % len(self.slices)]
                    self.k += 1
                    self.mlp.partial_fit(self.X[s:e], self.Y[s:e])

    def params(self):
        return [(W.astype(np.float64), b.astype(np.float64))
                for W, b in zip(self.mlp.coefs_, self.mlp.intercepts_, strict=True)]


IMPLS: dict[str, tuple[Any, str]] = {
    "tutorial": (Tutorial, "the tutorial's code style (float64)"),
    "numpy_sxf": (TunedSxF, "hand-tuned NumPy, samples x features"),
    "numpy_fxs": (TunedFxS, "hand-tuned NumPy, features x samples"),
    "gemm_sxf": (lambda *a: GemmOnly(*a, layout="sxf"), "only the GEMMs (sxf)"),
    "gemm_fxs": (lambda *a: GemmOnly(*a, layout="fxs"), "only the GEMMs (fxs)"),
    "npframe": (Npframe, "npframe, built-in components"),
    "npframe_plugin": (lambda *a: Npframe(*a, plugin="plugin_relu"),
                       "npframe, hidden ReLU a plugin with the in-place protocol"),
    "npframe_plain": (lambda *a: Npframe(*a, plugin="plain_relu"),
                      "npframe, hidden ReLU a plugin with only forward/backward"),
    "npframe_bn_dropout": (NpframeBnDropout,
                           "npframe, batch_norm + dropout(0.2) after each hidden layer"),
    "torch": (Torch, "PyTorch CPU, autograd + optim.SGD"),
    "torch_bn_dropout": (TorchBnDropout, "PyTorch, BatchNorm1d + Dropout(0.2) likewise"),
    "sklearn": (Sklearn, "scikit-learn MLPRegressor, sgd"),
}


# ---------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------
def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[1], q[2]


def paired(a: list[float], b: list[float]) -> float:
    """The median of per-repetition ratios ``a[r] / b[r]``: measured side by side."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (Linux only)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, sum(v[:8])


def bench_workload(key: str, names: list[str], reps: int, threads: int, quick: bool,
                   log=print) -> dict[str, Any]:
    wl = dict(WORKLOADS[key])
    if quick and key == "W3":
        wl["sizes"] = [1024, 2048, 2048, 1024]
    X, Y = make_data(wl)
    init = make_init(wl["sizes"])
    impls, status = {}, {}
    for name in names:
        try:
            impls[name] = IMPLS[name][0](wl, X, Y, init, threads)
            status[name] = "ok"
        except Skip as exc:
            status[name] = f"skipped: {exc}"
        except Exception as exc:  # a broken reference must not hide the others
            traceback.print_exc()
            status[name] = f"error: {type(exc).__name__}: {exc}"
    names = list(impls)
    units: dict[str, int] = {}
    for name in names:  # warm-up, which also sizes the repetitions
        t0 = time.perf_counter()
        impls[name].run(1)
        per_unit = time.perf_counter() - t0
        target = wl["rep_seconds"] * (0.25 if quick else 1.0)
        units[name] = max(1, min(2000, round(target / max(per_unit, 1e-9)))) if target else (
            1 if wl["unit"] == "epoch" else 2)
    times: dict[str, list[float]] = {n: [] for n in names}
    busy0, total0 = cpu_busy()
    own0 = os.times()
    t_loop = time.perf_counter()
    for r in range(reps):
        for name in names if r % 2 == 0 else names[::-1]:
            gc.collect()
            t0 = time.perf_counter()
            impls[name].run(units[name])
            times[name].append((time.perf_counter() - t0) / units[name])
        log(f"  [{key}] rep {r + 1}/{reps}: "
            + " ".join(f"{n}={times[n][-1] * 1e3:.3g}ms" for n in names))
    wall = time.perf_counter() - t_loop
    busy1, total1 = cpu_busy()
    own1 = os.times()
    own = (own1.user + own1.system) - (own0.user + own0.system)
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    others = max(0.0, (busy1 - busy0) / hz - own) / max(1e-9, (total1 - total0) / hz)

    per_rep_floor = None
    gemms = [g for g in GEMM if g in times]
    if gemms:
        per_rep_floor = [min(times[g][r] for g in gemms) for r in range(reps)]
    tuned = [t for t in TUNED if t in times]
    per_rep_tuned = [min(times[t][r] for t in tuned) for r in range(reps)] if tuned else None
    m = wl["batch"] or wl["n"]
    flops = step_flops(wl["sizes"], m) * (len(batch_slices(wl["n"], wl["batch"]))
                                          if wl["unit"] == "epoch" else 1)
    rows = {}
    for name in names:
        ts = times[name]
        q1, med, q3 = quartiles(ts)
        row = dict(median=med, q1=q1, q3=q3, units_per_rep=units[name],
                   dtype=impls[name].dtype, gflops=flops / med / 1e9)
        for ref in TUNED:
            if ref in times:
                row[f"vs_{ref}"] = paired(ts, times[ref])
        if per_rep_tuned:
            ratios = [a / b for a, b in zip(ts, per_rep_tuned, strict=True)]
            row["vs_tuned"] = statistics.median(ratios)
            row["vs_tuned_q"] = quartiles(ratios)
        if per_rep_floor:
            row["gemm_fraction"] = paired(per_rep_floor, ts)
        for other in ("npframe", "torch", "tutorial"):
            if other in times and other != name:
                row[f"vs_{other}"] = paired(ts, times[other])
        rows[name] = row
    sanity = {}
    Xe, Ye = X[:4096].astype(np.float64), Y[:4096].astype(np.float64)
    for name in names:
        p = impls[name].params()
        if p is not None:
            sanity[name] = half_sse(p, Xe, Ye)
    return dict(key=key, workload={k: v for k, v in wl.items() if k != "impls"}, reps=reps,
                status=status, rows=rows, raw=times, loop_seconds=round(wall, 1),
                others_cpu_share=round(others, 3), final_loss=sanity,
                gemm_floor_median=statistics.median(per_rep_floor) if per_rep_floor else None)


def check_same_maths(threads: int, log=print) -> dict[str, Any]:
    """Every trainer, 20 epochs of W1 (float64) from the same weights: max |dW| vs numpy_sxf."""
    wl = dict(WORKLOADS["W1"])
    X, Y = make_data(wl)
    init = make_init(wl["sizes"])
    out = {}
    ref = TunedSxF(wl, X, Y, init, threads)
    ref.run(20)
    P0 = ref.params()
    for name in ("tutorial", "numpy_fxs", "npframe", "npframe_plugin", "npframe_plain", "torch",
                 "sklearn"):
        try:
            impl = IMPLS[name][0](wl, X, Y, init, threads)
        except Skip as exc:
            out[name] = f"skipped: {exc}"
            continue
        impl.run(20)
        P = impl.params()
        out[name] = max(float(np.abs(a - b).max()) for pa, pb in zip(P, P0, strict=True)
                        for a, b in zip(pa, pb, strict=True))
        log(f"  [check] {name}: max |param - numpy_sxf| after 20 epochs = {out[name]:.2e}")
    return out


# ---------------------------------------------------------------------------------------
# Memory (W2, one subprocess per implementation and batch size)
# ---------------------------------------------------------------------------------------
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def memory_child(name: str, batch: int, threads: int) -> dict[str, Any]:
    """Run in a fresh process: W2 with ``name`` at ``batch``; print what it measured."""
    import resource
    import tracemalloc

    wl = dict(WORKLOADS["W2"], batch=batch)
    X, Y = make_data(wl)
    init = make_init(wl["sizes"])
    impl = IMPLS[name][0](wl, X, Y, init, threads)
    impl.run(1)  # warm: buffers exist, every code path has run once
    gc.collect()
    rss_before = _status_kb("VmRSS")
    try:  # reset the peak-RSS counter to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    impl.run(1)
    peak_train = _status_kb("VmHWM") if hwm_reset else None
    result = dict(impl=name, batch=batch, rss_before_kb=rss_before, peak_rss_train_kb=peak_train,
                  peak_rss_process_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Transient allocations (tracemalloc sees NumPy's array data): the peak above the
    # steady state, over one whole epoch through the public API, and over the steps
    # alone (for npframe: TrainingLoop.run_epoch, i.e. without fit's one-off checks).
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    impl.run(1)
    _, peak = tracemalloc.get_traced_memory()
    result["transient_epoch_bytes"] = peak - base
    if isinstance(impl, Npframe):
        from npframe.training import Batches

        # What fit prepares once (batch views, targets in the output layer's order) is
        # built here; the first epoch also makes the rollback snapshots, the second is
        # the steady state.
        loop = impl.net.loop
        batches = Batches(loop, impl.X, impl.Y, None, batch, False)
        loop.run_epoch(batches)
        loop.run_epoch(batches)
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loop.run_epoch(batches)
        _, peak = tracemalloc.get_traced_memory()
        result["transient_steps_bytes"] = peak - base
    else:
        result["transient_steps_bytes"] = result["transient_epoch_bytes"]
    tracemalloc.stop()
    return result


def bench_memory(names: list[str], batches: list[int], threads: int,
                 log=print) -> list[dict[str, Any]]:
    rows = []
    for batch in batches:
        for name in names:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", name,
                   "--batch", str(batch), "--threads", str(threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                log(f"  [memory] {name} batch {batch} failed: {proc.stderr.strip()[-500:]}")
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            log(f"  [memory] {name} batch {batch}: peak RSS while training "
                f"{_mb(row['peak_rss_train_kb'] * 1024)}, transient per epoch "
                f"{_mb(row['transient_epoch_bytes'])} (steps {_mb(row['transient_steps_bytes'])})")
    return rows


# ---------------------------------------------------------------------------------------
# Environment, threads, report
# ---------------------------------------------------------------------------------------
def set_threads(threads: int | None) -> tuple[int, Any]:
    """Limit BLAS (threadpoolctl) to ``threads``; default: what NumPy's BLAS uses now."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return threads or (os.cpu_count() or 1), None
    if threads is None:
        blas = [d for d in threadpool_info() if d.get("user_api") == "blas"]
        threads = blas[0]["num_threads"] if blas else (os.cpu_count() or 1)
    return threads, threadpool_limits(limits=threads, user_api="blas")


def environment(threads: int) -> dict[str, Any]:
    env: dict[str, Any] = dict(
        time=dt.datetime.now().isoformat(timespec="seconds"), python=sys.version.split()[0],
        platform=platform.platform(), cores=os.cpu_count(), numpy=np.__version__,
        threads=threads, loadavg=[round(x, 2) for x in os.getloadavg()],
        blas_env={k: v for k, v in os.environ.items()
                  if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO", "BLIS"))})
    try:
        with open("/proc/cpuinfo") as f:
            env["cpu"] = next(ln.split(":", 1)[1].strip() for ln in f
                              if ln.startswith("model name"))
    except (OSError, StopIteration):
        env["cpu"] = platform.processor() or "?"
    try:
        import npframe

        env["npframe"] = npframe.__version__
    except ImportError:
        env["npframe"] = "not importable"
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [
            f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')}, "
            f"{d.get('threading_layer')}, {d.get('num_threads')} threads)"
            for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        env["blas"] = [f"{blas.get('name')} {blas.get('version')} (np.show_config)"]
    for mod in ("torch", "sklearn"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            env[mod] = "not installed"
    return env


def _fmt_t(s: float) -> str:
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _mb(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.1f} MiB"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _fmt_r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def render(res: dict[str, Any]) -> str:
    env = res["env"]
    L = ["# npframe performance", ""]
    L.append(f"Generated by `{res['command']}` on {env['time']}.")
    L.append("")
    L.append(f"Machine: {env['cpu']}, {env['cores']} cores; Python {env['python']}, "
             f"NumPy {env['numpy']}, BLAS: {'; '.join(env['blas']) or '?'}; "
             f"threads used: {env['threads']}; torch {env['torch']}, "
             f"scikit-learn {env['sklearn']}; BLAS environment: {env['blas_env'] or 'none'}; "
             f"load average at start {env['loadavg']}.")
    L.append("")
    L.append("Each cell is the median over interleaved repetitions; *ratio* columns are the "
             "median of per-repetition ratios measured side by side in the same process "
             "(*vs tuned* = against the faster of the two hand-tuned NumPy loops in that "
             "repetition; *GEMM share* = the in-loop GEMM-only time (faster layout) ÷ the "
             "implementation's time). Absolute times on a shared machine drift; compare "
             "ratios.")
    L.append("")
    for key, wr in res["workloads"].items():
        wl = wr["workload"]
        batch = wl["batch"] or f"full ({wl['n']})"
        L.append(f"## {key} {wl['name']}: {'-'.join(map(str, wl['sizes']))}, batch {batch}, "
                 f"{wl['dtype']}, time per {wl['unit']}")
        L.append("")
        L.append(f"{wr['reps']} repetitions in {wr['loop_seconds']} s; other processes used "
                 f"{100 * wr['others_cpu_share']:.0f}% of the machine meanwhile.")
        L.append("")
        L.append(f"| implementation | dtype | median / {wl['unit']} | IQR | vs tuned [IQR] | "
                 "vs numpy_sxf | vs numpy_fxs | vs torch | GFLOP/s | GEMM share |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for name, r in wr["rows"].items():
            q = r.get("vs_tuned_q")
            vt = (f"{_fmt_r(r.get('vs_tuned'))} [{q[0]:.2f}-{q[2]:.2f}]" if q else "-")
            bold = "**" if name == "npframe" else ""
            L.append(f"| {bold}{name}{bold} | {r['dtype']} | {_fmt_t(r['median'])} | "
                     f"{_fmt_t(r['q1'])}-{_fmt_t(r['q3'])} | {vt} | "
                     f"{_fmt_r(r.get('vs_numpy_sxf'))} | {_fmt_r(r.get('vs_numpy_fxs'))} | "
                     f"{_fmt_r(r.get('vs_torch'))} | {r['gflops']:.1f} | "
                     f"{_pct(r.get('gemm_fraction'))} |")
        L.append("")
        skipped = [f"`{n}`: {s}" for n, s in wr["status"].items() if s != "ok"]
        if skipped:
            L.append("Not measured: " + "; ".join(skipped) + ".")
            L.append("")
        if key in TARGETS and "npframe" in wr["rows"]:
            v = wr["rows"]["npframe"].get("vs_tuned")
            if v is not None:
                ok = "met" if v <= TARGETS[key] else "NOT met"
                L.append(f"Target npframe ≤ {TARGETS[key]:.2f}x the faster tuned NumPy loop: "
                         f"{v:.2f}x — {ok}.")
        for name, what in (("npframe_plugin", "with the in-place variants"),
                           ("npframe_plain", "with only forward/backward")):
            if name in wr["rows"] and "npframe" in wr["rows"]:
                L.append(f"Plugin ReLU {what} ÷ built-in ReLU (paired): "
                         f"{wr['rows'][name]['vs_npframe']:.2f}x.")
        rows = wr["rows"]
        if "npframe_bn_dropout" in rows and "npframe" in rows:
            line = ("With batch_norm and dropout after each hidden layer ÷ without (paired): "
                    f"{rows['npframe_bn_dropout']['vs_npframe']:.2f}x")
            if "torch_bn_dropout" in rows:
                raw = wr["raw"]
                ratio = paired(raw["torch_bn_dropout"], raw["npframe_bn_dropout"])
                line += f"; PyTorch with BatchNorm1d and Dropout ÷ npframe with them: {ratio:.2f}x"
            L.append(line + ".")
        L.append("")
    if res.get("memory"):
        L.append("## Memory (W2, 784-256-256-10, float32, one fresh process per row)")
        L.append("")
        L.append("| implementation | batch | peak RSS while training | RSS before | "
                 "transient per epoch (fit) | transient per epoch (steps only) |")
        L.append("|---|---|---|---|---|---|")
        for r in res["memory"]:
            L.append(f"| {r['impl']} | {r['batch']} | "
                     f"{_mb((r['peak_rss_train_kb'] or 0) * 1024)} | "
                     f"{_mb(r['rss_before_kb'] * 1024)} | {_mb(r['transient_epoch_bytes'])} | "
                     f"{_mb(r['transient_steps_bytes'])} |")
        L.append("")
        for batch in sorted({r["batch"] for r in res["memory"]}):
            by = {r["impl"]: r for r in res["memory"] if r["batch"] == batch}
            tuned = [by[t]["peak_rss_train_kb"] for t in TUNED if t in by]
            if "npframe" in by and tuned and by["npframe"]["peak_rss_train_kb"]:
                ratio = by["npframe"]["peak_rss_train_kb"] / min(tuned)
                L.append(f"Batch {batch}: npframe's peak RSS ÷ the tuned loop's: {ratio:.2f}x "
                         f"(target ≤ 1.20x).")
        L.append("")
        L.append("*Transient*: tracemalloc's peak above the steady state during one epoch "
                 "(NumPy reports its array buffers to tracemalloc). *fit* includes what one "
                 "`fit` call allocates once (input checks); *steps only* is the training "
                 "steps themselves.")
        L.append("")
    if res.get("check"):
        L.append("## Same maths")
        L.append("")
        L.append("Max |parameter difference| from `numpy_sxf` after 20 epochs of W1 (float64, "
                 "same initial weights): " + ", ".join(
                     f"{k} {v:.1e}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in res["check"].items()) + ".")
        L.append("")
    return "\n".join(L)


def write_markdown(text: str, path: Path) -> None:
    """Write ``text``, keeping whatever follows the manual marker in an existing file."""
    notes = "\n"
    if path.exists():
        old = path.read_text()
        if MANUAL_MARKER in old:
            notes = old.split(MANUAL_MARKER, 1)[1]
    path.write_text(text + "\n" + MANUAL_MARKER + notes)


# ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-w", "--workloads", default="W1,W2,W3", help="comma list of W1,W2,W3")
    p.add_argument("-i", "--impls", default=None,
                   help="comma list of implementations (default: each workload's list)")
    p.add_argument("-r", "--reps", type=int, default=None, help="repetitions per workload")
    p.add_argument("-t", "--threads", type=int, default=None,
                   help="BLAS and torch threads (default: NumPy's BLAS default)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 repetitions, short ones, a narrower W3, no memory")
    p.add_argument("--no-memory", action="store_true", help="skip the memory section")
    p.add_argument("--no-check", action="store_true", help="skip the same-maths check")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"folder for the JSON and markdown results (default {DEFAULT_OUT})")
    p.add_argument("--md", type=Path, default=None,
                   help="also write the markdown report here (e.g. docs/performance.md)")
    p.add_argument("--list", action="store_true", help="list implementations and workloads")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.list:
        for key, wl in WORKLOADS.items():
            print(f"{key} {wl['name']}: {'-'.join(map(str, wl['sizes']))}, batch "
                  f"{wl['batch'] or 'full'}, {wl['dtype']}, per {wl['unit']}; "
                  f"default: {', '.join(wl['impls'])}")
        for name, (_, note) in IMPLS.items():
            print(f"  {name:15s} {note}")
        return 0
    threads, limiter = set_threads(args.threads)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.batch, threads)))
        return 0
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass

    res: dict[str, Any] = dict(env=environment(threads), workloads={},
                               command="python benchmarks/bench.py " + " ".join(
                                   sys.argv[1:] if argv is None else argv))
    print(f"npframe benchmark: {res['env']['cpu']}, {res['env']['cores']} cores, "
          f"numpy {np.__version__}, {threads} BLAS threads")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = args.out / f"bench-{stamp}.json"
    t_all = time.perf_counter()
    for key in [k.strip().upper() for k in args.workloads.split(",") if k.strip()]:
        if key not in WORKLOADS:
            p.error(f"unknown workload {key!r}; choose from {', '.join(WORKLOADS)}")
        wl = WORKLOADS[key]
        names = ([n.strip() for n in args.impls.split(",")] if args.impls else wl["impls"])
        unknown = [n for n in names if n not in IMPLS]
        if unknown:
            p.error(f"unknown implementation(s) {unknown}; see --list")
        reps = args.reps or (3 if args.quick else wl["reps"])
        print(f"== {key} {wl['name']}: {', '.join(names)}; {reps} repetitions")
        wr = bench_workload(key, names, reps, threads, args.quick)
        res["workloads"][key] = wr
        for name, r in wr["rows"].items():
            print(f"  {name:15s} {_fmt_t(r['median']):>10s}  vs tuned "
                  f"{_fmt_r(r.get('vs_tuned')):>6s}  GEMM share {_pct(r.get('gemm_fraction'))}")
        json_path.write_text(json.dumps(res, indent=1, default=str))
    if not (args.quick or args.no_memory):
        print("== memory (W2)")
        res["memory"] = bench_memory(["numpy_sxf", "numpy_fxs", "npframe", "npframe_plain"],
                                     [128, 512], threads)
    if not (args.quick or args.no_check):
        print("== same maths")
        res["check"] = check_same_maths(threads)
    res["total_seconds"] = round(time.perf_counter() - t_all, 1)
    json_path.write_text(json.dumps(res, indent=1, default=str))
    text = render(res)
    md_path = json_path.with_suffix(".md")
    md_path.write_text(text + "\n")
    print(f"wrote {json_path} and {md_path} ({res['total_seconds']} s)")
    if args.md:
        write_markdown(text, args.md)
        print(f"wrote {args.md}")
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
