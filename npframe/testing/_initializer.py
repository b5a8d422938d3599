"""``check_initializer``: shapes, float dtype, and draws only from the generator given."""

from __future__ import annotations

import numpy as np

from npframe.interfaces import Initializer
from npframe.testing._arrays import check_finite
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._inputs import SEED
from npframe.testing._messages import index, number
from npframe.testing._parameters import check_instance, label, rebuild

__all__ = ["check_initializer"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports


def check_initializer(initializer: Initializer, *, seed: int = SEED) -> None:
    """Check an initializer instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``initializer(shape, rng)`` returns a finite float array of exactly
    ``shape = (fan_in, fan_out)`` for square, tall, wide and large shapes; two
    generators seeded alike give bit-identical arrays (so nothing comes from fresh
    entropy); NumPy's and Python's global random state are untouched; nothing warns;
    the parameters survive a spec round trip.
    """
    check_instance(initializer, Initializer, "an initializer")
    name = label(initializer)
    with no_global_randomness(name):
        for i, shape in enumerate(((3, 3), (7, 2), (2, 7), (1, 1), (96, 64))):
            where = f"{name}(shape={shape}, rng)"
            first = call(where, initializer, shape, np.random.default_rng(seed + i))
            if not isinstance(first, np.ndarray):
                raise AssertionError(f"{where} returned a {type(first).__name__}, not an array")
            if first.shape != shape:
                msg = f"{where} returned shape {first.shape}; expected {shape} (fan_in, fan_out)"
                raise AssertionError(msg)
            if first.dtype.kind != "f":
                msg = f"{where} returned dtype {first.dtype}; weights must be floating point"
                raise AssertionError(msg)
            check_finite(where, first)
            second = call(where, initializer, shape, np.random.default_rng(seed + i))
            if first.dtype != second.dtype or first.tobytes() != second.tobytes():
                diff = np.abs(np.asarray(first, np.float64) - np.asarray(second, np.float64))
                idx = tuple(np.unravel_index(int(np.argmax(diff)), shape))
                msg = (
                    f"{where} is not deterministic: two generators seeded with {seed + i} gave "
                    f"different weights (max abs difference {number(diff[idx])} at index "
                    f"{index(idx)}); draw only from the rng argument, never from fresh "
                    "entropy such as np.random.default_rng() without a seed"
                )
                raise AssertionError(msg)
        twin = rebuild(initializer)
        shape = (5, 4)
        a = initializer(shape, np.random.default_rng(seed))
        b = twin(shape, np.random.default_rng(seed))
        if a.tobytes() != b.tobytes():
            msg = (
                f"{name}: an instance rebuilt from its parameters draws different weights "
                f"({label(twin)}); something the behaviour depends on is not a parameter"
            )
            raise AssertionError(msg)
