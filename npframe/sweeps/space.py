"""What a sweep tries: every combination of a grid, or draws of a random search.

Trial ``i`` of a random search draws its values from its own stream,
``SeedSequence(seed, spawn_key=(i,))``, in the order the keys are written. So trial
``i`` is the same whatever the number of trials, and a search grown from 20 to 40
trials keeps its first 20.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from attrs import frozen

from npframe._names import unknown

__all__ = [
    "DISTRIBUTIONS",
    "Choice",
    "Grid",
    "LogUniform",
    "RandInt",
    "RandomSearch",
    "SpaceError",
    "Uniform",
    "parse_distribution",
]


class SpaceError(ValueError):
    """A grid or random table entry is wrong; ``key`` is where (``"grid.seed"``)."""

    def __init__(self, message: str, key: str) -> None:
        self.key = key
        self.reason = message
        super().__init__(f"{key}: {message}")


def _is_real(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bounds(value: Any, key: str, name: str, check: Any, kind: str) -> tuple[Any, Any]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        msg = f"{name} takes [lo, hi], two {kind}s (got {value!r})"
        raise SpaceError(msg, key)
    lo, hi = value
    if not (check(lo) and check(hi)):
        raise SpaceError(f"{name} bounds must be {kind}s (got {value!r})", key)
    if not lo < hi:
        raise SpaceError(f"{name} needs lo < hi (got lo = {lo!r}, hi = {hi!r})", key)
    return lo, hi


@frozen
class Uniform:
    """A float drawn uniformly from ``[lo, hi)``."""

    lo: float
    hi: float
    name: ClassVar[str] = "uniform"

    @classmethod
    def parse(cls, value: Any, key: str) -> Uniform:
        lo, hi = _bounds(value, key, cls.name, _is_real, "finite number")
        return cls(float(lo), float(hi))

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi))

    def to_data(self) -> dict[str, Any]:
        return {self.name: [self.lo, self.hi]}


@frozen
class LogUniform:
    """A float whose logarithm is uniform on ``[log lo, log hi)``: for learning rates."""

    lo: float
    hi: float
    name: ClassVar[str] = "loguniform"

    @classmethod
    def parse(cls, value: Any, key: str) -> LogUniform:
        lo, hi = _bounds(value, key, cls.name, _is_real, "finite number")
        if lo <= 0:
            raise SpaceError(f"loguniform needs lo > 0 (got lo = {lo!r})", key)
        return cls(float(lo), float(hi))

    def draw(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))

    def to_data(self) -> dict[str, Any]:
        return {self.name: [self.lo, self.hi]}


@frozen
class RandInt:
    """An int drawn uniformly from ``lo, lo + 1, ..., hi - 1`` (hi excluded, as NumPy's)."""

    lo: int
    hi: int
    name: ClassVar[str] = "randint"

    @classmethod
    def parse(cls, value: Any, key: str) -> RandInt:
        lo, hi = _bounds(value, key, cls.name, _is_int, "int")
        return cls(int(lo), int(hi))

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi))

    def to_data(self) -> dict[str, Any]:
        return {self.name: [self.lo, self.hi]}


@frozen
class Choice:
    """One of ``values``, each as likely."""

    values: tuple[Any, ...]
    name: ClassVar[str] = "choice"

    @classmethod
    def parse(cls, value: Any, key: str) -> Choice:
        if not isinstance(value, list | tuple) or not value:
            raise SpaceError(f"choice takes a non-empty list of values (got {value!r})", key)
        return cls(tuple(value))

    def draw(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def to_data(self) -> dict[str, Any]:
        return {self.name: list(self.values)}


Distribution = Uniform | LogUniform | RandInt | Choice
DISTRIBUTIONS: dict[str, Any] = {d.name: d for d in (Uniform, LogUniform, RandInt, Choice)}


def parse_distribution(value: Any, key: str) -> Distribution:
    """From ``{ loguniform = [1e-4, 1e-1] }`` and the like."""
    example = "e.g. { loguniform = [0.0001, 0.1] } or { choice = [8, 16, 32] }"
    if isinstance(value, list | tuple):
        msg = (f"a random search draws from a distribution, not a list; for these values "
               f"write {{ choice = {_toml_list(value)} }}")
        raise SpaceError(msg, key)
    if not isinstance(value, Mapping) or len(value) != 1:
        msg = f"must be a table with one distribution, {example} (got {value!r})"
        raise SpaceError(msg, key)
    (name, bounds), = value.items()
    if name not in DISTRIBUTIONS:
        raise SpaceError(unknown("distribution", name, DISTRIBUTIONS), key)
    return DISTRIBUTIONS[name].parse(bounds, key)


def _toml_list(values: Sequence[Any]) -> str:
    return "[" + ", ".join(repr(v) if not isinstance(v, str) else f'"{v}"'
                           for v in values) + "]"


@frozen
class Grid:
    """Every combination of ``values``, the last key varying fastest."""

    values: tuple[tuple[str, tuple[Any, ...]], ...]

    @classmethod
    def parse(cls, table: Any, key: str = "grid") -> Grid:
        if not isinstance(table, Mapping):
            raise SpaceError(f"must be a table of spec paths and lists of values "
                             f"(got {table!r})", key)
        if not table:
            raise SpaceError('is empty; give at least one spec path and its values, e.g. '
                             '"optimizer.learning_rate" = [0.001, 0.01]', key)
        values = []
        for path, options in table.items():
            where = f'{key}."{path}"'
            if not isinstance(options, list | tuple):
                msg = f"must be a list of values to try (got {options!r}); write [{options!r}]"
                raise SpaceError(msg, where)
            if not options:
                raise SpaceError("is an empty list; give at least one value to try", where)
            values.append((path, tuple(options)))
        return cls(tuple(values))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.values)

    def __len__(self) -> int:
        return math.prod(len(options) for _, options in self.values)

    def trial(self, index: int) -> dict[str, Any]:
        """The values of combination ``index``, in ``itertools.product`` order."""
        out = {}
        for path, options in reversed(self.values):
            index, position = divmod(index, len(options))
            out[path] = options[position]
        return {path: out[path] for path in self.paths}

    def trials(self) -> list[dict[str, Any]]:
        return [self.trial(i) for i in range(len(self))]

    def options(self, path: str) -> tuple[Any, ...]:
        """Every value ``path`` takes (to check paths before the sweep runs)."""
        return dict(self.values)[path]

    def to_data(self) -> dict[str, Any]:
        return {"grid": {path: list(options) for path, options in self.values}}


@frozen
class RandomSearch:
    """``n_trials`` draws from ``distributions``, reproducible from ``seed``."""

    distributions: tuple[tuple[str, Distribution], ...]
    n_trials: int
    seed: int

    @classmethod
    def parse(cls, table: Any, seed: int, key: str = "random") -> RandomSearch:
        if not isinstance(table, Mapping):
            raise SpaceError(f"must be a table with trials = N and spec paths "
                             f"(got {table!r})", key)
        if "trials" not in table:
            raise SpaceError("needs trials = N, the number of draws", f"{key}.trials")
        n = table["trials"]
        if not _is_int(n) or n < 1:
            raise SpaceError(f"must be a positive int (got {n!r})", f"{key}.trials")
        distributions = tuple(
            (path, parse_distribution(value, f'{key}."{path}"'))
            for path, value in table.items() if path != "trials")
        if not distributions:
            raise SpaceError('has no spec paths to draw; add one, e.g. '
                             '"optimizer.learning_rate" = { loguniform = [0.0001, 0.1] }', key)
        return cls(distributions, int(n), seed)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.distributions)

    def __len__(self) -> int:
        return self.n_trials

    def trial(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(index,)))
        return {path: dist.draw(rng) for path, dist in self.distributions}

    def trials(self) -> list[dict[str, Any]]:
        return [self.trial(i) for i in range(self.n_trials)]

    def options(self, path: str) -> tuple[Any, ...]:
        dist = dict(self.distributions)[path]
        if isinstance(dist, Choice):
            return dist.values
        return (dist.lo,)

    def to_data(self) -> dict[str, Any]:
        # the number of trials is left out on purpose: growing a search resumes it
        return {"random": {path: dist.to_data() for path, dist in self.distributions},
                "seed": self.seed}


Space = Grid | RandomSearch
