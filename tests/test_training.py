"""The training step's speed machinery changes nothing but speed.

Memory orders, in-place protocols, flat parameter buffers, gathered shuffled batches
and the fused SGD update must give the same numbers as the plain formulation, keep
float32 as float32, and allocate nothing per step that grows with the batch.
"""

from __future__ import annotations

import importlib.util
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from npframe_builtins.activations import Linear, ReLU
from npframe_builtins.losses import MeanSquaredError
from npframe_builtins.optimizers import SGD

import npframe
from npframe import training
from npframe.numeric import all_finite, sum_of_squares
from npframe.registry import Registry


class PlainReLU(npframe.Activation):
    """ReLU as a plugin author writes it: the contract's two methods only."""

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, z, a, grad_a):
        return grad_a * (z > 0)


class PlainMSE(npframe.Loss):
    """MSE without the in-place protocol."""

    def value(self, y_true, y_pred):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true) / y_pred.size


def spec(sizes, activation="relu", dtype="float64", loss="mse", optimizer=None):
    return {
        "input": sizes[0], "seed": 3, "dtype": dtype, "loss": loss,
        "optimizer": optimizer or {"name": "sgd", "learning_rate": 0.05},
        "layers": [{"units": u, "activation": activation} for u in sizes[1:-1]]
        + [{"units": sizes[-1], "activation": "linear"}],
    }


def data(rng, n, n_in, n_out, dtype="float64"):
    return (rng.normal(size=(n, n_in)).astype(dtype), rng.normal(size=(n, n_out)).astype(dtype))


def with_plugins(registry: Registry) -> Registry:
    registry.register("activation", "plain_relu", PlainReLU)
    registry.register("loss", "plain_mse", PlainMSE)
    return registry


def reference_gradients(net, X, Y):
    """Backprop written out in plain NumPy, batch first, all float64."""
    Ws, bs = net.get_weights()[0::2], net.get_weights()[1::2]
    acts, zs = [X], []
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        zs.append(acts[-1] @ W + b)
        acts.append(np.maximum(zs[-1], 0) if i < len(Ws) - 1 else zs[-1])
    g = 2 * (acts[-1] - Y) / Y.size
    grads = []
    for i in range(len(Ws) - 1, -1, -1):
        if i < len(Ws) - 1:
            g = g * (zs[i] > 0)
        grads = [acts[i].T @ g, g.sum(axis=0), *grads]
        g = g @ Ws[i].T
    return grads


# -- memory orders ---------------------------------------------------------------------
def test_layers_narrower_than_the_batch_are_features_by_samples():
    assert training.layer_orders([2, 4, 4, 3], 7000) == ("F", "F", "F", "F")
    assert training.layer_orders([784, 256, 256, 10], 128) == ("C", "C", "C", "F")
    assert training.layer_orders([1024, 4096, 4096, 1024], 512) == ("C", "C", "C", "C")
    # The data goes features x samples only when thin and fed to an F-order layer.
    assert training.layer_orders([64, 4, 3], 128)[0] == "C"
    assert training.layer_orders([2, 300, 3], 128)[:2] == ("C", "C")


@pytest.mark.parametrize("orders", [None, ("C", "C", "C", "C"), ("F", "F", "F", "F"),
                                    ("C", "F", "C", "F"), ("F", "C", "F", "C")])
def test_every_memory_order_gives_the_reference_gradients(rng, orders):
    net = npframe.Network.from_spec(spec([3, 5, 4, 2]))
    X, Y = data(rng, 40, 3, 2)
    ws = net.loop.workspace(40, orders)
    Xo = np.asfortranarray(X) if ws.orders[0] == "F" else X
    Yo = np.asfortranarray(Y) if ws.orders[-1] == "F" else Y
    loss = net.loop.backprop(Xo, Yo, None, ws)
    assert loss == pytest.approx(net.evaluate(X, Y), rel=1e-12)
    for got, want in zip(net.loop.gradients, reference_gradients(net, X, Y), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_workspace_buffers_follow_the_orders():
    net = npframe.Network.from_spec(spec([2, 4, 300, 3]))
    ws = net.loop.workspace(100)
    assert ws.orders == ("F", "F", "C", "F")
    assert ws.x.flags.f_contiguous and ws.y.flags.f_contiguous
    assert ws.grad_out.shape == (100, 3) and ws.grad_out.flags.f_contiguous


# -- plugins, protocols and exactness --------------------------------------------------
@pytest.mark.parametrize("sizes", [[3, 6, 5, 2], [3, 40, 30, 2]])
def test_a_plain_numpy_plugin_trains_bit_for_bit_like_the_builtin(rng, sizes):
    """The built-in ReLU's in-place protocol computes exactly what its contract does."""
    registry = with_plugins(Registry())
    builtin = npframe.Network.from_spec(spec(sizes))
    plugin = npframe.Network.from_spec(spec(sizes, activation="plain_relu"),
                                       registry=registry)
    assert builtin.layers[0].activation.in_place and not plugin.layers[0].activation.in_place
    X, Y = data(rng, 90, 3, 2)
    h1 = builtin.fit(X, Y, epochs=4, batch_size=16)
    h2 = plugin.fit(X, Y, epochs=4, batch_size=16)
    for a, b in zip(builtin.get_weights(), plugin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert h1.loss == h2.loss


def test_a_loss_without_the_protocol_trains_like_the_builtin(rng):
    plugin = npframe.Network.from_spec(spec([3, 6, 2], loss="plain_mse"),
                                       registry=with_plugins(Registry()))
    builtin = npframe.Network.from_spec(spec([3, 6, 2]))
    X, Y = data(rng, 60, 3, 2)
    h1, h2 = builtin.fit(X, Y, epochs=3, batch_size=16), plugin.fit(X, Y, epochs=3,
                                                                     batch_size=16)
    for a, b in zip(builtin.get_weights(), plugin.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=1e-12)


def test_the_activation_protocols_match_the_contract_exactly(rng):
    z = rng.normal(size=(7, 5))
    z[0, 0] = 0.0
    grad = rng.normal(size=(7, 5))
    for act in (ReLU(), Linear()):
        for arr in (z, np.asfortranarray(z)):
            a = act.forward(arr)
            np.testing.assert_array_equal(act.forward_into(arr, np.empty_like(arr)), a)
            want = act.backward(arr, a, grad)
            np.testing.assert_array_equal(
                act.backward_into(arr, a, grad, np.empty_like(arr)), want)
            # In place, as the step runs them: a over z, grad_z over grad_a.
            buf, g = arr.copy(), grad.copy()
            act_a = act.forward_into(buf, buf)
            np.testing.assert_array_equal(act_a, a)
            np.testing.assert_array_equal(act.backward_into(act_a, act_a, g, g), want)


def test_the_loss_protocol_matches_the_contract_exactly(rng):
    mse = MeanSquaredError()
    y, p = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    value, grad = mse.value_and_gradient(y, p)
    for order in "CF":
        out = np.empty((9, 3), order=order)
        got = mse.value_and_gradient_into(np.asarray(y, order=order),
                                          np.asarray(p, order=order), out)
        assert got == value == mse.value(y, p)
        np.testing.assert_array_equal(out, grad)


def test_the_fused_sgd_update_is_sgd_bit_for_bit(rng):
    class StepOverridden(SGD):
        def step(self, params, grads):
            super().step(params, grads)

    registry = Registry()
    registry.register("optimizer", "sgd_subclass", StepOverridden)
    params = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    grads = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    for optimizer in (SGD(learning_rate=0.1), SGD(learning_rate=0.1, weight_decay=0.1),
                      SGD(learning_rate=0.1, clip_norm=1.0), StepOverridden(learning_rate=0.1)):
        flat_p, views_p = training.flat_arrays([(3, 4), (4,)], np.float64)
        flat_g, views_g = training.flat_arrays([(3, 4), (4,)], np.float64)
        for view, value in zip(views_p + views_g, params + grads, strict=True):
            view[...] = value
        expected = [p.copy() for p in params]
        type(optimizer).step(optimizer, expected, [g.copy() for g in grads])
        optimizer.step_flat(views_p, views_g, flat_p, flat_g)
        for got, want in zip(views_p, expected, strict=True):
            np.testing.assert_array_equal(got, want)
    fused = npframe.Network.from_spec(spec([3, 6, 2]))
    plain = npframe.Network.from_spec(
        spec([3, 6, 2], optimizer={"name": "sgd_subclass", "learning_rate": 0.05}),
        registry=registry)
    X, Y = data(rng, 50, 3, 2)
    fused.fit(X, Y, epochs=3, batch_size=8)
    plain.fit(X, Y, epochs=3, batch_size=8)
    for a, b in zip(fused.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_shuffled_epoch_is_the_epoch_over_the_permuted_data(rng):
    """Gathered batches (C and F order) hold exactly the permuted rows."""
    sizes = [3, 5, 2]  # thin input and narrow layers: everything F order
    shuffled = npframe.Network.from_spec(spec(sizes))
    ordered = npframe.Network.from_spec(spec(sizes))
    X, Y = data(rng, 70, 3, 2)
    twin = np.random.Generator(np.random.PCG64())
    twin.bit_generator.state = shuffled.loop.shuffle_rng.bit_generator.state
    perm = twin.permutation(70)
    shuffled.fit(X, Y, epochs=1, batch_size=16, shuffle=True)
    ordered.fit(X[perm], Y[perm], epochs=1, batch_size=16, shuffle=False)
    for a, b in zip(shuffled.get_weights(), ordered.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_training_is_bit_identical_run_to_run(rng):
    X, Y = data(rng, 200, 4, 3)
    runs = []
    for _ in range(2):
        net = npframe.Network.from_spec(spec([4, 300, 8, 3]))
        net.fit(X, Y, epochs=3, batch_size=32)
        runs.append(net.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


# -- dtypes and allocations ------------------------------------------------------------
def test_float32_stays_float32_everywhere(rng):
    seen = []

    class Spy(PlainReLU):
        def forward(self, z):
            seen.append(z.dtype)
            return super().forward(z)

        def backward(self, z, a, grad_a):
            seen.extend((z.dtype, a.dtype, grad_a.dtype))
            return super().backward(z, a, grad_a)

    class Float64Loss(PlainMSE):
        """A sloppy plugin: float64 gradients must not leak into the step."""

        def gradient(self, y_true, y_pred):
            seen.append(y_pred.dtype)
            return super().gradient(y_true, y_pred).astype(np.float64)

    registry = Registry()
    registry.register("activation", "spy", Spy)
    registry.register("loss", "f64", Float64Loss)
    for net in (npframe.Network.from_spec(spec([3, 5, 2], dtype="float32")),
                npframe.Network.from_spec(spec([3, 5, 2], "spy", "float32", "f64"),
                                          registry=registry)):
        X, Y = data(rng, 40, 3, 2, "float32")
        net.fit(X, Y, epochs=2, batch_size=8)
        assert all(p.dtype == np.float32 for p in net.loop.parameters + net.loop.gradients)
        assert net.loop.flat_params.dtype == net.loop.flat_grads.dtype == np.float32
        ws = net.loop.workspace(8)
        assert ws.grad_out.dtype == ws.x.dtype == ws.y.dtype == np.float32
    assert seen and set(seen) == {np.dtype(np.float32)}


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_step_allocates_nothing_that_grows_with_the_batch(rng, shuffle):
    """tracemalloc sees NumPy's array buffers: the built-ins' steps allocate none.

    What remains is NumPy's own: a cast buffer of at most 8,192 elements when the
    ReLU mask (bool) multiplies the gradient, as in any NumPy loop that does so,
    and a shuffled epoch's permutation (8 bytes per sample, once per epoch).
    """
    peaks = {}
    for batch in (1024, 4096):
        net = npframe.Network.from_spec(spec([20, 64, 32, 4]))
        X, Y = data(rng, 4 * batch, 20, 4)
        batches = training.Batches(net.loop, X, Y, None, batch, shuffle)
        net.loop.run_epoch(batches)  # warm: workspaces and both rollback snapshots exist
        net.loop.run_epoch(batches)
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            net.loop.run_epoch(batches)
            peaks[batch] = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    numpy_buffer = 8192 * 8 + 16384
    permutation = 8 * 4 * 4096 if shuffle else 0
    assert peaks[4096] <= numpy_buffer + permutation, peaks
    assert peaks[4096] - peaks[1024] <= 8 * 4 * (4096 - 1024) * shuffle + 4096, peaks


# -- buffers and helpers ---------------------------------------------------------------
def test_parameters_are_aligned_views_of_one_flat_buffer():
    net = npframe.Network.from_spec(spec([3, 5, 4, 2], dtype="float32"))
    for p, g in zip(net.loop.parameters, net.loop.gradients, strict=True):
        assert np.shares_memory(p, net.loop.flat_params)
        assert np.shares_memory(g, net.loop.flat_grads)
        assert p.flags.c_contiguous and p.ctypes.data % 64 == 0
    assert [p for layer in net.loop.params for p in layer.values()] == net.loop.parameters
    net.loop.flat_params[...] = 0  # padding included: the views see it
    assert all(not p.any() for p in net.get_weights())


@pytest.mark.parametrize("n", [0, 1, 8191, 8192, 8193, 3 * 8192, 50_000])
def test_sum_of_squares_is_exact_enough_around_the_chunk_size(rng, n):
    x = rng.normal(size=n)
    assert sum_of_squares(x) == pytest.approx(float(np.sum(x * x)), rel=1e-12)


def test_all_finite_finds_inf_and_nan_and_survives_huge_values():
    x = np.ones(20_000, np.float32)
    assert all_finite(x)
    x[12_345] = np.nan
    assert not all_finite(x)
    x[12_345] = -np.inf
    assert not all_finite(x)
    with np.errstate(over="ignore"):
        assert all_finite(np.full(10, 1e30, np.float32))  # squares overflow


@pytest.mark.parametrize("order", ["C", "F"])
def test_dense_forward_and_backward_match_the_bound_step(rng, order):
    """The bound step is the plain formula on preallocated buffers: in C order bit for
    bit; in F order BLAS may sum in another order, so to rounding."""
    net = npframe.Network.from_spec(spec([3, 4, 2]))
    layer, params = net.layers[0], net.loop.params[0]
    x, grad_a = rng.normal(size=(6, 3)), rng.normal(size=(6, 4))
    a, cache = layer.forward(x, params, training=True)
    grads = {k: np.empty_like(v) for k, v in params.items()}
    grad_x = layer.backward(grad_a.copy(), cache, params, grads)
    bound_grads = {k: np.empty_like(v) for k, v in params.items()}
    context = npframe.LayerContext(batch=6, dtype=np.dtype(np.float64), input_size=3,
                                   output_size=4, order=order, input_order=order)
    forward, backward = layer.bind(params, bound_grads, context)
    check = (np.testing.assert_array_equal if order == "C"
             else lambda got, want: np.testing.assert_allclose(got, want, rtol=1e-13))
    check(forward(x), a)
    check(backward(x, forward(x), grad_a.copy()), grad_x)
    for key in params:
        check(bound_grads[key], grads[key])


# -- the benchmark's reference loops ---------------------------------------------------
def _bench_module():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
    spec_ = importlib.util.spec_from_file_location("npframe_bench", path)
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    return module


def test_the_benchmark_references_compute_the_same_maths():
    bench = _bench_module()
    wl = dict(bench.WORKLOADS["W1"], n=500)
    X, Y = bench.make_data(wl)
    X, Y = np.ascontiguousarray(X[:500]), np.ascontiguousarray(Y[:500])
    init = bench.make_init(wl["sizes"])
    results = {}
    for name in ("numpy_sxf", "numpy_fxs", "tutorial", "npframe", "npframe_plugin",
                 "npframe_plain"):
        impl = bench.IMPLS[name][0](wl, X, Y, init, 1)
        impl.run(10)
        results[name] = impl.params()
    for name, params in results.items():
        for got, want in zip(params, results["numpy_sxf"], strict=True):
            np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12, err_msg=name)


def test_callbacks_keep_the_callers_floating_point_settings(rng):
    """fit silences NumPy's overflow warnings for its own loop only (once per fit)."""
    seen = []

    class Overflowing(npframe.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(np.geterr()["over"])
            np.float64(1e308) * 10.0  # warns under the caller's settings

    net = npframe.Network.from_spec(spec([3, 4, 2]))
    X, Y = data(rng, 20, 3, 2)
    with pytest.warns(RuntimeWarning, match="overflow"):
        net.fit(X, Y, epochs=2, callbacks=[Overflowing()])
    assert seen == [np.geterr()["over"]] * 2
