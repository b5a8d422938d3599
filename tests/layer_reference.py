"""Plain-NumPy references of the built-in layers, written from PyTorch's documentation.

The layer tests compare npframe's layers with these functions, so each one is written
straight from the formula on the PyTorch page it cites, in float64, with no code
shared with npframe. The backward passes are the analytic ones;
``test_layer_reference.py`` checks them against central finite differences. They were
also compared with PyTorch itself in float64, out of band, by a script kept out of the
repository: PyTorch is never a dependency, not even of the tests.

Shapes are batch first: ``x`` is ``(n, features)``. Nothing here mutates its inputs;
running statistics come back as new arrays.

Pages quoted (PyTorch 2.x "stable" documentation):

- Linear: https://docs.pytorch.org/docs/stable/generated/torch.nn.Linear.html
- Dropout: https://docs.pytorch.org/docs/stable/generated/torch.nn.Dropout.html
- BatchNorm1d: https://docs.pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html
- LayerNorm: https://docs.pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------- dense


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x (n, fan_in)``, ``W (fan_in, units)``, ``b (units,)`` -> ``y (n, units)``.

    torch.nn.Linear: "Applies an affine linear transformation to the incoming data:
    y = xA^T + b", with ``weight`` A of shape (out_features, in_features). npframe
    stores the transpose, ``W = A^T``, so the same map reads ``y = x @ W + b``.
    """
    return _f64(x) @ _f64(W) + _f64(b)


def dense_backward(x: np.ndarray, W: np.ndarray, grad_y: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``y = x @ W + b`` given ``grad_y = dL/dy (n, units)``.

    Returns ``(dL/dx, dL/dW, dL/db) = (grad_y @ W^T, x^T @ grad_y, sum_n grad_y)``.
    """
    x, W, grad_y = _f64(x), _f64(W), _f64(grad_y)
    return grad_y @ W.T, x.T @ grad_y, grad_y.sum(axis=0)


# --------------------------------------------------------------------------- dropout


def _check_dropout(mask: np.ndarray, rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        msg = f"rate must be in [0, 1) (got {rate!r}); at 1 the 1/(1-rate) scale is undefined"
        raise ValueError(msg)
    if np.asarray(mask).dtype != np.bool_:
        msg = f"mask must be the boolean keep-mask (got dtype {np.asarray(mask).dtype})"
        raise TypeError(msg)


def dropout_forward(x: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    """Training-mode dropout with a given keep-mask: ``y = x * mask / (1 - rate)``.

    torch.nn.Dropout: "During training, randomly zeroes some of the elements of the
    input tensor with probability p [...] Furthermore, the outputs are scaled by a
    factor of 1/(1-p) during training." ``mask`` is True where an element is kept
    (drawn elsewhere, with probability ``1 - rate``), so ``rate`` is torch's ``p``.
    """
    _check_dropout(mask, rate)
    return _f64(x) * mask / (1.0 - rate)


def dropout_backward(grad_y: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    """``dL/dx = grad_y * mask / (1 - rate)``: the same fixed linear map as the forward."""
    _check_dropout(mask, rate)
    return _f64(grad_y) * mask / (1.0 - rate)


def dropout_eval(x: np.ndarray) -> np.ndarray:
    """Inference-mode dropout is the identity.

    torch.nn.Dropout: "This means that during evaluation the module simply computes an
    identity function."
    """
    return _f64(x).copy()


# --------------------------------------------------------------------------- normalization


class NormCache(NamedTuple):
    """What the backward pass of batch and layer normalization needs from the forward."""

    x_hat: np.ndarray     # the normalized input, (x - mean) / sqrt(var + eps)
    inv_std: np.ndarray   # 1 / sqrt(var + eps): (features,) for batch norm, (n, 1) for layer norm
    gamma: np.ndarray     # (features,)


def batch_norm_train(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                     running_mean: np.ndarray, running_var: np.ndarray,
                     momentum: float = 0.1, eps: float = 1e-5,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, NormCache]:
    """Training-mode batch normalization of ``x (n, features)`` over the batch axis.

    Returns ``(y, new_running_mean, new_running_var, cache)``. torch.nn.BatchNorm1d:

    - ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta``, "The mean and
      standard-deviation are calculated per-dimension over the mini-batches";
    - "At train time in the forward pass, the variance is calculated via the biased
      estimator, equivalent to torch.var(input, correction=0). However, the value
      stored in the moving average of the variance is calculated via the unbiased
      estimator, equivalent to torch.var(input, correction=1).";
    - "the update rule for running statistics here is
      x_hat_new = (1 - momentum) * x_hat + momentum * x_t, where x_hat is the estimated
      statistic and x_t is the new observed value" (running_mean starts at 0,
      running_var at 1).

    A batch of one sample is rejected as torch rejects it (its unbiased variance would
    divide by zero).
    """
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    n = x.shape[0]
    if n < 2:
        msg = ("Expected more than 1 value per channel when training, "
               f"got input size {tuple(x.shape)}")
        raise ValueError(msg)
    mean = x.mean(axis=0)
    var_biased = x.var(axis=0)              # normalizes this batch
    var_unbiased = x.var(axis=0, ddof=1)    # goes into the running estimate
    inv_std = 1.0 / np.sqrt(var_biased + eps)
    x_hat = (x - mean) * inv_std
    y = x_hat * gamma + beta
    new_running_mean = (1.0 - momentum) * _f64(running_mean) + momentum * mean
    new_running_var = (1.0 - momentum) * _f64(running_var) + momentum * var_unbiased
    return y, new_running_mean, new_running_var, NormCache(x_hat, inv_std, gamma)


def batch_norm_eval(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                    running_mean: np.ndarray, running_var: np.ndarray,
                    eps: float = 1e-5) -> np.ndarray:
    """Inference-mode batch normalization: the same formula with the running statistics.

    torch.nn.BatchNorm1d: "during training this layer keeps running estimates of its
    computed mean and variance, which are then used for normalization during
    evaluation": ``y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta``.
    """
    inv_std = 1.0 / np.sqrt(_f64(running_var) + eps)
    return (_f64(x) - _f64(running_mean)) * inv_std * _f64(gamma) + _f64(beta)


def batch_norm_backward(grad_y: np.ndarray, cache: NormCache,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode gradients ``(dL/dx, dL/dgamma, dL/dbeta)`` given ``grad_y (n, features)``.

    The batch statistics depend on every sample, so with ``g = grad_y * gamma`` each
    column gets ``dL/dx = inv_std / n * (n g - sum_n g - x_hat sum_n(g x_hat))``;
    ``dL/dgamma = sum_n grad_y x_hat`` and ``dL/dbeta = sum_n grad_y``. The running
    statistics are not part of the graph (torch updates them outside autograd).
    """
    grad_y = _f64(grad_y)
    x_hat, inv_std, gamma = cache
    n = grad_y.shape[0]
    g = grad_y * gamma
    grad_x = inv_std / n * (n * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0))
    return grad_x, (grad_y * x_hat).sum(axis=0), grad_y.sum(axis=0)


def layer_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       eps: float = 1e-5) -> tuple[np.ndarray, NormCache]:
    """Layer normalization of each sample of ``x (n, features)`` over its features.

    Returns ``(y, cache)``. torch.nn.LayerNorm with ``normalized_shape = features``:
    ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta``, "The mean and
    standard-deviation are calculated over the last D dimensions" (here D = 1, the
    feature axis); "The variance is calculated via the biased estimator"; gamma and beta
    are per-feature ("elementwise_affine"); "This layer uses statistics computed from
    input data in both training and evaluation modes", so there is no running state
    and no separate inference function.
    """
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    return x_hat * gamma + beta, NormCache(x_hat, inv_std, gamma)


def layer_norm_backward(grad_y: np.ndarray, cache: NormCache,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dL/dx, dL/dgamma, dL/dbeta)`` given ``grad_y (n, features)``.

    Batch norm's formula turned on its side: the statistics couple the ``d`` features
    of one sample, so with ``g = grad_y * gamma`` each row gets
    ``dL/dx = inv_std / d * (d g - sum_d g - x_hat sum_d(g x_hat))``, while the
    parameters, shared by all samples, sum over the batch:
    ``dL/dgamma = sum_n grad_y x_hat``, ``dL/dbeta = sum_n grad_y``.
    """
    grad_y = _f64(grad_y)
    x_hat, inv_std, gamma = cache
    d = grad_y.shape[1]
    g = grad_y * gamma
    grad_x = inv_std / d * (d * g - g.sum(axis=1, keepdims=True)
                            - x_hat * (g * x_hat).sum(axis=1, keepdims=True))
    return grad_x, (grad_y * x_hat).sum(axis=0), grad_y.sum(axis=0)
