"""The built-in optimizers against plain references written from PyTorch's documentation.

Each ``reference_*`` below transcribes the algorithm box of the ``torch.optim`` page
of its namesake, one line per line, on a single flat parameter vector with fresh
arrays at every step: nothing in place, nothing shared with the implementation. The
optimizers run on a weight matrix and a bias (two arrays, in place, with their own
buffers), and both must agree step for step. PyTorch itself is deliberately not a
dependency.
"""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from npframe_builtins.optimizers import SGD, Adagrad, Adam, AdamW, Momentum, RMSprop

import npframe
from npframe.errors import SpecError

SHAPES = [(4, 3), (3,)]
STEPS = 30


def clip(g, clip_norm=None, clip_value=None):
    """``clip_grad_value_`` then ``clip_grad_norm_``, as a user would call them before step."""
    if clip_value is not None:
        g = np.clip(g, -clip_value, clip_value)
    if clip_norm is not None:
        coef = clip_norm / (np.sqrt(np.sum(g * g)) + 1e-6)
        if coef < 1:
            g = g * coef
    return g


def reference_sgd(theta, gs, lrs, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False, clip_norm=None, clip_value=None):
    b = None
    out = []
    for t, (g, lr) in enumerate(zip(gs, lrs, strict=True), start=1):
        g = clip(g, clip_norm, clip_value)
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = momentum * b + (1 - dampening) * g if t > 1 else g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def reference_adam(theta, gs, lrs, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                   amsgrad=False, decoupled=False, clip_norm=None, clip_value=None):
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    out = []
    for t, (g, lr) in enumerate(zip(gs, lrs, strict=True), start=1):
        g = clip(g, clip_norm, clip_value)
        if decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay != 0:
            g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def reference_rmsprop(theta, gs, lrs, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False, clip_norm=None, clip_value=None):
    v = np.zeros_like(theta)
    b = np.zeros_like(theta)
    g_ave = np.zeros_like(theta)
    out = []
    for g, lr in zip(gs, lrs, strict=True):
        g = clip(g, clip_norm, clip_value)
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g**2
        v_tilde = v
        if centered:
            g_ave = g_ave * alpha + (1 - alpha) * g
            v_tilde = v_tilde - g_ave**2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(v_tilde) + eps)
        out.append(theta)
    return out


def reference_adagrad(theta, gs, lrs, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10, clip_norm=None,
                      clip_value=None):
    state_sum = np.full_like(theta, initial_accumulator_value)
    out = []
    for t, (g, lr) in enumerate(zip(gs, lrs, strict=True), start=1):
        g = clip(g, clip_norm, clip_value)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        if weight_decay != 0:
            g = g + weight_decay * theta
        state_sum = state_sum + g**2
        theta = theta - lr_t * g / (np.sqrt(state_sum) + eps)
        out.append(theta)
    return out


CASES = [
    ("sgd", {}, reference_sgd, {}),
    ("sgd", {"weight_decay": 0.1}, reference_sgd, {"weight_decay": 0.1}),
    ("sgd", {"clip_norm": 0.5}, reference_sgd, {"clip_norm": 0.5}),
    ("sgd", {"clip_value": 0.3, "clip_norm": 0.8}, reference_sgd,
     {"clip_value": 0.3, "clip_norm": 0.8}),
    ("momentum", {}, reference_sgd, {"momentum": 0.9}),
    ("momentum", {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05}, reference_sgd,
     {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05}),
    ("momentum", {"nesterov": True}, reference_sgd, {"momentum": 0.9, "nesterov": True}),
    ("momentum", {"nesterov": True, "weight_decay": 0.01, "clip_norm": 1.0}, reference_sgd,
     {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "clip_norm": 1.0}),
    ("adam", {}, reference_adam, {}),
    ("adam", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3}, reference_adam,
     {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3}),
    ("adam", {"weight_decay": 0.1}, reference_adam, {"weight_decay": 0.1}),
    ("adam", {"amsgrad": True}, reference_adam, {"amsgrad": True}),
    ("adam", {"amsgrad": True, "weight_decay": 0.05, "clip_norm": 0.7}, reference_adam,
     {"amsgrad": True, "weight_decay": 0.05, "clip_norm": 0.7}),
    ("adamw", {}, reference_adam, {"weight_decay": 0.01, "decoupled": True}),
    ("adamw", {"weight_decay": 0.3, "amsgrad": True}, reference_adam,
     {"weight_decay": 0.3, "amsgrad": True, "decoupled": True}),
    ("rmsprop", {}, reference_rmsprop, {}),
    ("rmsprop", {"centered": True}, reference_rmsprop, {"centered": True}),
    ("rmsprop", {"momentum": 0.7}, reference_rmsprop, {"momentum": 0.7}),
    ("rmsprop", {"alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.02,
                 "eps": 1e-4}, reference_rmsprop,
     {"alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.02, "eps": 1e-4}),
    ("adagrad", {}, reference_adagrad, {}),
    ("adagrad", {"lr_decay": 0.05, "initial_accumulator_value": 0.2, "weight_decay": 0.1},
     reference_adagrad, {"lr_decay": 0.05, "initial_accumulator_value": 0.2,
                         "weight_decay": 0.1}),
]


def case_id(case):
    name, params, _, _ = case
    return name + "".join(f"-{k}={v}" for k, v in params.items())


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_matches_the_documented_update_step_for_step(case, rng):
    name, params, reference, ref_params = case
    sizes = [int(np.prod(s)) for s in SHAPES]
    theta0 = rng.standard_normal(sum(sizes))
    # gradients vary in sign and scale, some large enough for the clipping to act
    gs = [rng.standard_normal(theta0.shape) * rng.uniform(0.05, 2.0) for _ in range(STEPS)]
    # a schedule changes the learning rate mid-run: the optimizer must follow it
    lrs = [0.05] * 10 + [0.02] * (STEPS - 10)
    expected = reference(theta0, gs, lrs, **ref_params)

    opt = npframe.registry.create("optimizer", {"name": name, **params})
    split = np.cumsum(sizes)[:-1]
    params_now = [part.reshape(s).copy() for part, s in zip(np.split(theta0, split), SHAPES,
                                                              strict=True)]
    for t, (g, lr) in enumerate(zip(gs, lrs, strict=True)):
        opt.learning_rate = lr
        grads = [part.reshape(s) for part, s in zip(np.split(g, split), SHAPES, strict=True)]
        opt.step(params_now, grads)
        np.testing.assert_allclose(flat(params_now), expected[t], rtol=1e-12, atol=1e-14,
                                   err_msg=f"step {t + 1}")


def test_adam_first_step_moves_each_weight_by_the_learning_rate():
    # m_hat = g and v_hat = g**2 after one step, so the update is lr * g / (|g| + eps)
    p = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -4.0, 1e-3])
    Adam(learning_rate=0.1).step([p], [g])
    expected = [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 4.0 / (4.0 + 1e-8),
                3.0 - 0.1 * 1e-3 / (1e-3 + 1e-8)]
    np.testing.assert_allclose(p, expected, rtol=1e-15)


def test_defaults_are_pytorchs():
    adam, adamw = Adam(), AdamW()
    for opt in (adam, adamw):
        assert (opt.learning_rate, opt.beta1, opt.beta2, opt.eps, opt.amsgrad) == (
            1e-3, 0.9, 0.999, 1e-8, False)
    assert (adam.weight_decay, adamw.weight_decay) == (0.0, 0.01)
    rms = RMSprop()
    assert (rms.learning_rate, rms.alpha, rms.eps, rms.weight_decay, rms.momentum,
            rms.centered) == (1e-2, 0.99, 1e-8, 0.0, 0.0, False)
    ada = Adagrad()
    assert (ada.learning_rate, ada.lr_decay, ada.weight_decay, ada.initial_accumulator_value,
            ada.eps) == (1e-2, 0.0, 0.0, 0.0, 1e-10)
    mom = Momentum()
    assert (mom.momentum, mom.dampening, mom.nesterov, mom.weight_decay) == (0.9, 0.0, False, 0.0)
    # npframe's contract keeps sgd's learning rate at 0.01; momentum follows it
    assert SGD().learning_rate == mom.learning_rate == 0.01


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"])
def test_float32_parameters_keep_float32_state(name, rng):
    opt = npframe.registry.create("optimizer", {"name": name, "clip_norm": 1.0})
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    for _ in range(3):
        opt.step(params, grads)
    assert all(p.dtype == np.float32 for p in params)
    state = opt.state_dict()
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "step")
    assert all(state[f"{b}.{i}"].shape == s for i, s in enumerate(SHAPES)
               for b in {k.split(".")[0] for k in state if k != "step"})


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"])
def test_a_step_allocates_no_parameter_sized_arrays(name, rng):
    extra = {"clip_norm": 1.0, "clip_value": 0.5, "weight_decay": 0.01}
    if name in ("adam", "adamw"):
        extra["amsgrad"] = True
    if name == "rmsprop":
        extra.update(centered=True, momentum=0.5)
    opt = npframe.registry.create("optimizer", {"name": name, **extra})
    params = [rng.standard_normal((500, 400)), rng.standard_normal(400)]
    grads = [rng.standard_normal((500, 400)), rng.standard_normal(400)]
    opt.step(params, grads)  # the first step creates the state
    tracemalloc.start()
    try:
        opt.step(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, f"a step allocated {peak} bytes; the weights are 1.6 MB"


def test_state_is_created_lazily_with_the_parameters_shapes(rng):
    opt = Adam()
    assert opt.state_dict() == {"step": np.array(0)}
    params = [rng.standard_normal(s) for s in SHAPES]
    opt.step(params, [np.ones(s) for s in SHAPES])
    state = opt.state_dict()
    assert sorted(state) == ["m.0", "m.1", "step", "v.0", "v.1"]
    assert state["step"] == 1 and state["step"].dtype == np.int64
    assert state["m.0"].shape == (4, 3) and state["v.1"].shape == (3,)
    state["m.0"][...] = 99  # a copy: changing it leaves the optimizer alone
    assert not (opt.state_dict()["m.0"] == 99).any()


def test_sgd_is_stateless():
    opt = SGD(learning_rate=0.1)
    p = np.ones(3)
    opt.step([p], [np.ones(3)])
    assert opt.state_dict() == {}
    with pytest.raises(ValueError, match="stateless"):
        opt.load_state_dict({"step": np.array(3)})


def saved_adam_state(rng, **params):
    opt = Adam(**params)
    opt.step([rng.standard_normal(s) for s in SHAPES], [rng.standard_normal(s) for s in SHAPES])
    return opt.state_dict()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("step"), "missing 'step'"),
        (lambda s: s.update(step=np.array(-1)), "'step' must be an integer >= 0"),
        (lambda s: s.update(step=np.array(1.5)), "'step' must be an integer >= 0"),
        (lambda s: s.update({"q.0": np.zeros(3)}), "unexpected key 'q.0'"),
        (lambda s: s.update({"m.x": np.zeros(3)}), "unexpected key 'm.x'"),
        (lambda s: s.pop("v.1"), "lacks 'v.1'"),
        (lambda s: s.update({"v.1": np.zeros(4)}), r"parameter 1's buffers disagree in shape"),
        (lambda s: s.update({"v.1": np.zeros(3, dtype=np.int64)}), "'v.1' must be a float"),
        (lambda s: s.update({"step": np.array(0)}), "'step' is 0 but buffers were given"),
    ],
)
def test_load_state_dict_rejects_bad_state_and_changes_nothing(edit, message, rng):
    opt = Adam()
    before = saved_adam_state(rng)
    opt.load_state_dict(before)
    bad = saved_adam_state(rng)
    edit(bad)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert sorted(after) == sorted(before)
    assert all(np.array_equal(after[k], before[k]) for k in before)


def test_load_state_dict_names_a_configuration_mismatch(rng):
    state = saved_adam_state(rng)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the state at step 1 lacks "
                                         r"'v_max.0'"):
        Adam(amsgrad=True).load_state_dict(state)
    with pytest.raises(ValueError, match=r"unexpected key 'v_max\.0'.*differently configured"):
        Adam().load_state_dict(saved_adam_state(rng, amsgrad=True))


def test_loaded_state_must_fit_the_parameters(rng):
    opt = Adam()
    opt.load_state_dict(saved_adam_state(rng))
    with pytest.raises(ValueError, match=r"state is for parameters of shapes \[\(4, 3\), \(3,\)\]"):
        opt.step([np.zeros((4, 3))], [np.zeros((4, 3))])


def test_state_loads_across_dtypes(rng):
    state = saved_adam_state(rng)
    opt = Adam()
    opt.load_state_dict(state)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    opt.step(params, [np.ones(s, np.float32) for s in SHAPES])
    assert all(p.dtype == np.float32 for p in params)
    assert all(v.dtype == np.float32 for k, v in opt.state_dict().items() if k != "step")


def test_resume_through_a_saved_file_continues_bit_for_bit(rng):
    # the npz round trip npframe.io uses: plain arrays, no pickles
    opt = RMSprop(centered=True, momentum=0.9)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(6)]
    for g in grads[:3]:
        opt.step(params, g)
    buffer = io.BytesIO()
    np.savez(buffer, **opt.state_dict())
    buffer.seek(0)
    resumed = RMSprop(centered=True, momentum=0.9)
    with np.load(buffer, allow_pickle=False) as data:
        resumed.load_state_dict({k: data[k] for k in data.files})
    copies = [p.copy() for p in params]
    for g in grads[3:]:
        opt.step(params, g)
        resumed.step(copies, g)
    assert all(np.array_equal(a, b) for a, b in zip(params, copies, strict=True))


def test_hyperparameters_are_validated_with_the_spec_path():
    cases = [
        ({"name": "adam", "beta1": 1.0}, "beta1"),
        ({"name": "adam", "eps": -1}, "eps"),
        ({"name": "rmsprop", "alpha": 1.5}, "alpha"),
        ({"name": "momentum", "nesterov": True, "dampening": 0.1}, "nesterov"),
        ({"name": "momentum", "nesterov": True, "momentum": 0.0}, "nesterov"),
        ({"name": "sgd", "clip_norm": 0}, "clip_norm"),
        ({"name": "adagrad", "lr_decay": -0.1}, "lr_decay"),
        ({"name": "adamw", "learning_rate": -0.1}, "learning_rate"),
    ]
    for ref, word in cases:
        with pytest.raises(SpecError, match=rf"^optimizer(: .*{word}|\.{word}: )"):
            npframe.registry.create("optimizer", ref, path="optimizer")


def test_learning_rate_may_be_scheduled_to_zero_but_not_below():
    opt = Adam()
    opt.learning_rate = 0  # a cosine schedule's last factor
    assert opt.learning_rate == 0.0 and type(opt.learning_rate) is float
    p = np.ones(2)
    opt.step([p], [np.ones(2)])
    np.testing.assert_array_equal(p, 1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1e-3


def test_gradients_must_match_parameters():
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        SGD(weight_decay=0.1).step([np.ones(2), np.ones(3)], [np.ones(2)])


def test_rmsprop_centered_never_takes_the_root_of_a_negative():
    # a constant gradient makes square_avg - grad_avg**2 vanish up to rounding
    opt = RMSprop(centered=True, learning_rate=1e-3)
    p = np.zeros(4)
    g = np.full(4, 0.3)
    with np.errstate(invalid="raise"):
        for _ in range(3000):
            opt.step([p], [g])
    assert np.isfinite(p).all()
