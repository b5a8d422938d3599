"""The tutorial, reproduced: its data, its initial weights, its metric and its network.

The tutorial trains a 2-4-4-3 ReLU network to map ``(a, b)`` to ``(a+b, a-b, |a-b|)``.
Its run is fully determined, and this module rebuilds every piece of it in npframe's
batch-first layout so that npframe reproduces the notebook's numbers:

* one legacy generator seeded with 42 (here a local ``np.random.RandomState``, never
  NumPy's global state) draws ``rand(2, 10000) * 100`` first, then for each layer
  ``randn(out, in)`` for ``W`` followed by ``randn(out, 1)`` for ``b``, both scaled by
  ``sqrt(2 / in)`` (``load_data``, ``initial_weights``);
* the first 70% of the samples train, the rest test; inputs and targets are
  standardized per column (population std) with the training statistics;
* full-batch gradient descent without shuffling, ``W -= 0.01 * dZ @ A_prev.T / n``: the
  gradient of half the per-sample sum of squared errors. npframe's ``mse`` averages
  over the 3 outputs as well, so its gradient is ``2/3`` of that and the same step
  needs ``learning_rate = 0.01 * 3 / 2 = 0.015`` (``parity_network``);
* the printed "loss" is ``tutorial_metric``: the mean over samples of the L2 norm over
  outputs of ``0.5 * (y_pred - y)**2``, on the standardized scale. It is registered
  as the metric ``"tutorial_loss"``.

``NOTEBOOK`` holds the numbers the notebook recorded; ``tests/test_tutorial.py`` checks
npframe against them and against an in-test copy of the notebook's loop.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from attrs import field, frozen

from npframe import Dataset, Network
from npframe.registry import Registry

__all__ = [
    "CASES",
    "LEARNING_RATE",
    "NOTEBOOK",
    "PARITY_LEARNING_RATE",
    "SIZES",
    "Report",
    "Scaling",
    "TutorialData",
    "dataset",
    "initial_weights",
    "load_data",
    "parity_network",
    "parity_spec",
    "report",
    "targets",
    "tutorial_metric",
]

#: Layer widths of the tutorial's network: 2 inputs, two hidden layers of 4, 3 outputs.
SIZES: tuple[int, ...] = (2, 4, 4, 3)
#: The notebook's learning rate, on half the per-sample sum of squared errors.
LEARNING_RATE = 0.01
#: The same step with npframe's ``mse``, which also averages over the 3 outputs and so
#: has ``2/3`` of the gradient of half the per-sample SSE: ``0.01 * 3 / 2``.
PARITY_LEARNING_RATE = 0.015
#: The four ``(a, b)`` queries the tutorial predicts, raw scale; the last is out of range.
CASES = np.array([[30.0, 70.0], [70.0, 30.0], [3.0, 5.0], [888.0, 122.0]])
CASES.flags.writeable = False
#: What the notebook recorded (tutorial metric, standardized scale).
NOTEBOOK: dict[str, Any] = {
    "initial_train_metric": 3.7697,  # before the first update
    "train_metric_100k": 0.3502,  # after 100,000 epochs
    "train_metric_200k": 0.3450,  # from 200,000 epochs on
    "test_metric_1m": 0.3194238845483295,  # after 1,000,000 epochs
    "prediction_30_70_1m": (98.56, -26.25, 48.09),  # raw scale; the truth is (100, -40, 40)
}

N_SAMPLES = 10_000
TRAIN_FRACTION = 0.7
SEED = 42
FEATURE_NAMES = ("a", "b")
TARGET_NAMES = ("a+b", "a-b", "|a-b|")


# -- data ------------------------------------------------------------------------------
def targets(X: Any) -> np.ndarray:
    """``(n, 2) -> (n, 3)``: the true ``(a+b, a-b, |a-b|)`` of raw inputs ``(a, b)``."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        msg = f"targets: expected X of shape (n_samples, 2) holding (a, b), got {X.shape}"
        raise ValueError(msg)
    a, b = X[:, 0], X[:, 1]
    return np.column_stack([a + b, a - b, np.abs(a - b)])


def _check_draw(n_samples: Any, train_fraction: Any, seed: Any) -> int:
    """Validate the draw's parameters; return the number of training samples."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        msg = f"'n_samples' must be an int >= 2 (got {n_samples!r})"
        raise ValueError(msg)
    if (isinstance(train_fraction, bool) or not isinstance(train_fraction, int | float)
            or not 0.0 < train_fraction < 1.0):
        msg = f"'train_fraction' must be a number in (0, 1) (got {train_fraction!r})"
        raise ValueError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        msg = f"'seed' must be an int in [0, 2**32) for a legacy RandomState (got {seed!r})"
        raise ValueError(msg)
    n_train = int(train_fraction * n_samples)  # the tutorial's split: int(0.7 * 10000)
    if not 0 < n_train < n_samples:
        msg = (
            f"'train_fraction' {train_fraction} of {n_samples} samples leaves an empty "
            "training or test set"
        )
        raise ValueError(msg)
    return n_train


def _draw(n_samples: int, seed: int) -> tuple[np.random.RandomState, np.ndarray]:
    """The tutorial's first draw, ``(2, n)`` as it makes it, and the generator after it."""
    rs = np.random.RandomState(seed)
    return rs, rs.rand(2, n_samples) * 100


def dataset(n_samples: int = N_SAMPLES, train_fraction: float = TRAIN_FRACTION,
            seed: int = SEED) -> Dataset:
    """The tutorial's data on the raw scale, as the dataset ``"tutorial"``.

    ``a, b`` uniform in ``[0, 100)``, targets ``a+b, a-b, |a-b|``; the first
    ``train_fraction`` of the samples train, the rest test. Standardizing is left to
    the network (``standardize = true``), so its statistics end up in the saved model.
    """
    n_train = _check_draw(n_samples, train_fraction, seed)
    _, ab = _draw(n_samples, seed)
    X = ab.T.copy()
    y = targets(X)
    return Dataset(
        X=X[:n_train], y=y[:n_train], X_test=X[n_train:], y_test=y[n_train:],
        feature_names=FEATURE_NAMES, target_names=TARGET_NAMES, examples=CASES,
        description="The tutorial's synthetic data: a, b in [0, 100); a+b, a-b, |a-b|.",
    )


@frozen(kw_only=True)
class TutorialData:
    """The tutorial's arrays, batch first: standardized as it trains on them, and raw.

    ``X_train (7000, 2)``, ``y_train (7000, 3)``, ``X_test (3000, 2)``, ``y_test
    (3000, 3)`` are standardized with the training statistics held by ``scaler``
    (population std, as the tutorial); the ``*_raw`` arrays are the same samples
    before standardizing.
    """

    X_train: np.ndarray = field(eq=False)
    y_train: np.ndarray = field(eq=False)
    X_test: np.ndarray = field(eq=False)
    y_test: np.ndarray = field(eq=False)
    X_train_raw: np.ndarray = field(eq=False)
    y_train_raw: np.ndarray = field(eq=False)
    X_test_raw: np.ndarray = field(eq=False)
    y_test_raw: np.ndarray = field(eq=False)
    scaler: Scaling


@frozen
class Scaling:
    """The tutorial's per-column standardization: training means and population stds."""

    x_mean: np.ndarray = field(eq=False)
    x_std: np.ndarray = field(eq=False)
    y_mean: np.ndarray = field(eq=False)
    y_std: np.ndarray = field(eq=False)

    def transform_x(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) / self.x_std

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.y_mean) / self.y_std

    def inverse_y(self, y: np.ndarray) -> np.ndarray:
        return y * self.y_std + self.y_mean


def _column_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of each row of a features x samples array.

    Reduced along the rows, exactly as the tutorial reduces its ``(features, n)``
    arrays, so the statistics (and every standardized value) match it bit for bit.
    """
    return rows.mean(axis=1), rows.std(axis=1)


def load_data(n_samples: int = N_SAMPLES, train_fraction: float = TRAIN_FRACTION,
              seed: int = SEED) -> TutorialData:
    """The tutorial's split, standardized exactly as the tutorial does, plus the raw arrays."""
    n_train = _check_draw(n_samples, train_fraction, seed)
    _, ab = _draw(n_samples, seed)
    y_rows = np.ascontiguousarray(targets(ab.T).T)  # (3, n), C order: the tutorial's layout
    x_mean, x_std = _column_stats(ab[:, :n_train])
    y_mean, y_std = _column_stats(y_rows[:, :n_train])
    scaler = Scaling(x_mean, x_std, y_mean, y_std)
    X_raw, y_raw = ab.T.copy(), y_rows.T.copy()
    X, y = scaler.transform_x(X_raw), scaler.transform_y(y_raw)
    return TutorialData(
        X_train=X[:n_train], y_train=y[:n_train], X_test=X[n_train:], y_test=y[n_train:],
        X_train_raw=X_raw[:n_train], y_train_raw=y_raw[:n_train],
        X_test_raw=X_raw[n_train:], y_test_raw=y_raw[n_train:], scaler=scaler,
    )


def initial_weights(sizes: Sequence[int] = SIZES, *, n_samples: int = N_SAMPLES,
                    seed: int = SEED) -> list[np.ndarray]:
    """The tutorial's initial weights, ``[W1 (in, out), b1 (out,), ...]`` as npframe lays them.

    Drawn from the same local ``RandomState(seed)`` after the data (``n_samples`` of
    them): per layer ``randn(out, in) * sqrt(2/in)`` then ``randn(out, 1) * sqrt(2/in)``.
    Biases are random here, as in the tutorial (npframe's own initializers start them
    at zero).
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int | np.integer)
                             or s < 1 for s in sizes):
        msg = f"'sizes' must be at least two positive ints, inputs first (got {sizes!r})"
        raise ValueError(msg)
    _check_draw(n_samples, TRAIN_FRACTION, seed)
    rs, _ = _draw(n_samples, seed)
    weights: list[np.ndarray] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        scale = np.sqrt(2 / fan_in)  # the tutorial's expression, for the same rounding
        W = rs.randn(fan_out, fan_in) * scale
        b = rs.randn(fan_out, 1) * scale
        weights += [np.ascontiguousarray(W.T), b[:, 0].copy()]
    return weights


# -- the metric --------------------------------------------------------------------------
def tutorial_metric(y_true: Any, y_pred: Any) -> float:
    """``(n, k), (n, k) -> float``: mean over samples of ``||0.5 * (y_pred - y)**2||_2``.

    The number the tutorial prints as its loss. It is not the loss it differentiates
    (half the sum of squared errors), so compare it only with itself.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        msg = (
            "tutorial_metric: y_true and y_pred must both be (n_samples, n_outputs) "
            f"(got {y_true.shape} and {y_pred.shape})"
        )
        raise ValueError(msg)
    return float(np.mean(np.linalg.norm(0.5 * (y_pred - y_true) ** 2, axis=1)))


# -- the network -------------------------------------------------------------------------
_PARITY_SPEC: dict[str, Any] = {
    "input": SIZES[0],
    "seed": SEED,
    "loss": "mse",
    "initializer": "he",
    "optimizer": {"name": "sgd", "learning_rate": PARITY_LEARNING_RATE},
    "standardize": False,  # the data comes standardized, as the tutorial trains on it
    "metrics": ["tutorial_loss"],
    "layers": [
        {"units": 4, "activation": "relu"},
        {"units": 4, "activation": "relu"},
        {"units": 3, "activation": "linear"},
    ],
}


def parity_spec(*, metrics: Sequence[str] = ("tutorial_loss",)) -> dict[str, Any]:
    """The tutorial's network as a spec (``docs/examples/tutorial_parity.toml``).

    ``metrics`` are reported after every epoch; pass ``()`` for long runs, where the
    extra forward pass per epoch is pure overhead.
    """
    spec = copy.deepcopy(_PARITY_SPEC)
    spec["metrics"] = list(metrics)
    return spec


def parity_network(*, metrics: Sequence[str] = ("tutorial_loss",), n_samples: int = N_SAMPLES,
                   seed: int = SEED, registry: Registry | None = None) -> Network:
    """The tutorial's network with the tutorial's initial weights: it retraces the notebook.

    Train it as the notebook does, full batch on the standardized data::

        data = load_data()
        net = parity_network()
        net.fit(data.X_train, data.y_train, epochs=100_000, batch_size=None, shuffle=False)
    """
    net = Network.from_spec(parity_spec(metrics=metrics), registry=registry)
    net.set_weights(initial_weights(SIZES, n_samples=n_samples, seed=seed))
    return net


# -- reporting ---------------------------------------------------------------------------
@frozen(kw_only=True)
class Report:
    """How a network does on the tutorial's data, in the tutorial's terms.

    ``*_metric`` is ``tutorial_metric`` and ``*_mse`` npframe's ``mse``, both on the
    standardized scale the tutorial reports; ``mae`` is the test set's mean absolute
    error per output on the raw scale; ``predictions`` are for ``CASES`` on the raw
    scale, next to their ``truth``; ``dead_units`` counts, per hidden layer, the units
    whose output is zero on every training sample (a dead ReLU no longer learns).
    """

    train_metric: float
    test_metric: float
    train_mse: float
    test_mse: float
    mae: tuple[float, ...]
    cases: np.ndarray = field(eq=False)
    predictions: np.ndarray = field(eq=False)
    truth: np.ndarray = field(eq=False)
    dead_units: tuple[int, ...] = ()

    def format(self) -> str:
        """A few aligned lines for a terminal."""
        lines = [
            f"train: mse {self.train_mse:.6g}   tutorial metric {self.train_metric:.6g}",
            f"test:  mse {self.test_mse:.6g}   tutorial metric {self.test_metric:.6g}",
            "test mean absolute error (raw scale): " + "   ".join(
                f"{name} {v:.4g}" for name, v in zip(TARGET_NAMES, self.mae, strict=True)),
            "dead hidden units (zero on every training sample): " + (
                " + ".join(map(str, self.dead_units)) or "none"),
            "predictions (raw scale)            a+b       a-b     |a-b|",
        ]
        for (a, b), pred, true in zip(self.cases, self.predictions, self.truth, strict=True):
            query = f"({a:g}, {b:g})"
            lines.append(f"  {query:<12} predicted  " + _row(pred))
            lines.append(f"  {'':<12} true       " + _row(true))
        return "\n".join(lines)


def _row(values: np.ndarray) -> str:
    return "".join(f"{v:>10.2f}" for v in values)


def report(net: Network, data: TutorialData | None = None, cases: Any = CASES) -> Report:
    """Evaluate ``net`` on the tutorial's split (``load_data()`` unless given).

    A network with ``standardize = true`` is fed raw inputs and predicts on the raw
    scale; one without a scaler (``parity_network``) is taken to work on the tutorial's
    standardized scale, and its inputs and outputs are converted with the tutorial's
    statistics. Either way the metrics use the tutorial's statistics, so every network
    is measured on the same scale.
    """
    data = load_data() if data is None else data
    cases = np.asarray(cases, dtype=float)
    scaler = data.scaler
    if net.scaler is None:
        pred_train, pred_test = net.predict(data.X_train), net.predict(data.X_test)
        pred_cases = scaler.inverse_y(net.predict(scaler.transform_x(cases)))
        raw_test = scaler.inverse_y(pred_test)
    else:
        pred_train = scaler.transform_y(net.predict(data.X_train_raw))
        raw_test = net.predict(data.X_test_raw)
        pred_test = scaler.transform_y(raw_test)
        pred_cases = net.predict(cases)
    mae = np.mean(np.abs(raw_test - data.y_test_raw), axis=0)
    inputs = data.X_train if net.scaler is None else net.scaler.transform_x(data.X_train_raw)
    return Report(
        train_metric=tutorial_metric(data.y_train, pred_train),
        test_metric=tutorial_metric(data.y_test, pred_test),
        train_mse=float(np.mean((pred_train - data.y_train) ** 2)),
        test_mse=float(np.mean((pred_test - data.y_test) ** 2)),
        mae=tuple(float(v) for v in mae),
        cases=cases, predictions=pred_cases, truth=targets(cases),
        dead_units=_dead_units(net, inputs),
    )


def _dead_units(net: Network, X: np.ndarray) -> tuple[int, ...]:
    """Per hidden layer, how many units output zero for every row of ``X``."""
    outputs = net.activations(np.asarray(X, dtype=net.dtype), scaled=True)[:-1]
    return tuple(int(np.sum(np.all(a == 0, axis=0))) for a in outputs)

