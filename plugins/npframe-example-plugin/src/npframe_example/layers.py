"""Two layers: one with a trainable parameter, one that draws noise.

A layer is configuration (its spec table's keys, here attrs fields) plus the arrays
npframe gives it: ``params`` (its trainable parameters, views into the network's flat
buffers, declared by ``parameter_shapes``) and, in training, ``rng`` (the network's
seeded noise stream, saved with the model). Shapes are batch first: ``x (n, features)``.

Both rely on ``Layer.bind``'s default, which calls ``forward`` and ``backward``; a
layer overrides ``bind`` only to run on buffers allocated once (npframe's ``dense``
does), and ``npframe.testing.check_layer`` then proves the two agree.
"""

from __future__ import annotations

from attrs import define, field, validators

from npframe import Layer

__all__ = ["GaussianNoise", "Scale"]


@define(eq=False)
class Scale(Layer):
    """``y = x * scale``: a trainable factor per feature, starting at ``init``.

    The gradients: ``d scale = sum over the batch of grad_y * x``, ``d x = grad_y *
    scale``. ``scale`` is a parameter: ``get_weights()`` lists it, the optimizer
    trains it, and the model file keeps it.
    """

    init: float = field(default=1.0, converter=float)

    def output_size(self, input_size):
        return input_size

    def parameter_shapes(self, input_size):
        return {"scale": (input_size,)}

    def initialize(self, params, rng, initializer):
        params["scale"][...] = self.init

    def forward(self, x, params, *, training, rng=None):
        return x * params["scale"], x

    def backward(self, grad_y, cache, params, grads):
        x = cache
        grads["scale"][...] = (grad_y * x).sum(axis=0)
        return grad_y * params["scale"]


@define(eq=False)
class GaussianNoise(Layer):
    """Adds ``N(0, stddev**2)`` noise in training, nothing in inference (Keras' layer).

    A regularizer: ``predict`` and ``evaluate`` see the identity. The noise is drawn from
    the ``rng`` npframe passes (the network's noise stream, in the network's dtype), so
    training is reproducible from the seed and a saved model resumes exactly.
    """

    stddev: float = field(default=0.1, converter=float, validator=validators.ge(0.0))

    def output_size(self, input_size):
        return input_size

    def forward(self, x, params, *, training, rng=None):
        if not training or self.stddev == 0.0:
            return x.copy(), None
        if rng is None:
            raise ValueError("gaussian_noise needs the network's noise generator in training")
        noise = rng.standard_normal(x.shape, dtype=x.dtype)
        noise *= self.stddev
        return x + noise, None

    def backward(self, grad_y, cache, params, grads):
        return grad_y.copy()
