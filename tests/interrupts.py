"""Ctrl-C at random moments of ``fit``: a campaign run in a child process.

Each trial trains a small, randomly chosen network (optimizer, batch size, shuffling,
dtype, dropout and batch norm, standardization, validation data), and a thread sends
SIGINT to the main thread after a random delay, with ``signal.pthread_kill`` or
``os.kill``. Then it checks that the interrupted network is consistent and resumable:

1. its whole ``state_dict()`` (weights, optimizer and layer state, position, random
   streams) equals that of an uninterrupted run of the same spec at the same position
   (epoch, batch, step): no half-applied step;
2. ``save`` + ``load`` gives the same state, and both the loaded and the in-memory
   network, trained on to two epochs past the interruption, end bit for bit where one
   uninterrupted ``fit`` ends.

Modes: ``deferred`` (Python's default SIGINT handler: ``fit`` defers the interrupt to
the next step boundary) and ``raising`` (an application handler that raises
``KeyboardInterrupt`` wherever the signal lands: ``fit`` rolls back to the epoch start).

Run: ``python tests/interrupts.py --trials 40 --mode deferred --seed 1``; prints one JSON
list of outcomes (``tests/test_hostile_campaign.py`` runs it). The signal never reaches
the test runner itself: pytest would take a stray ``KeyboardInterrupt`` as the user's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import npframe

#: The longest delay before the signal: long enough to land anywhere in many epochs.
MAX_DELAY = 0.03


def choose(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A random small spec, ``fit`` arguments, and epochs to train before the trial."""
    layers: list[dict[str, Any]] = [{"units": int(rng.integers(3, 7)),
                                     "activation": str(rng.choice(["relu", "sigmoid"]))}]
    extra = str(rng.choice(["none", "dropout", "batch_norm"]))
    if extra == "dropout":
        layers.append({"type": "dropout", "rate": 0.25})
    elif extra == "batch_norm":
        layers.append({"type": "batch_norm"})
    layers.append({"units": 2, "activation": "linear"})
    spec = {
        "input": 3,
        "seed": int(rng.integers(0, 2**31)),
        "dtype": str(rng.choice(["float32", "float64"])),
        "standardize": bool(rng.integers(2)),
        "optimizer": {"name": str(rng.choice(["sgd", "momentum", "adam"])),
                      "learning_rate": 0.01},
        "layers": layers,
    }
    fit = {"batch_size": [None, 2, 3, 5][int(rng.integers(4))], "shuffle": bool(rng.integers(2))}
    if extra == "batch_norm":
        fit["batch_size"] = None  # minibatches could leave a batch of one sample
    if rng.integers(2):
        fit["validation_split"] = 0.2
    return spec, fit, int(rng.integers(2))


def difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str | None:
    """The first member in which two state dicts differ (``None``: identical)."""
    if a.keys() != b.keys():
        return f"members differ: {sorted(a.keys() ^ b.keys())}"
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            return f"{key} differs"
    return None


def copied(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in state.items()}


def fresh(spec: dict[str, Any], X: np.ndarray, y: np.ndarray, fit: dict[str, Any],
          pre: int) -> npframe.Network:
    net = npframe.Network.from_spec(spec)
    if pre:
        net.fit(X, y, epochs=pre, **fit)
    return net


def state_at(spec: dict[str, Any], X: np.ndarray, y: np.ndarray, fit: dict[str, Any],
             pre: int, target: tuple[int, int, int]) -> dict[str, np.ndarray] | None:
    """The state of an uninterrupted run when it is at ``(epoch, batch, step)``."""
    ref = fresh(spec, X, y, fit, pre)
    captured: dict[str, np.ndarray] = {}

    class Capture:
        def check(self) -> None:
            p = ref.loop.position
            if not captured and (p.epoch, p.batch, p.step) == target:
                captured.update(copied(ref.state_dict()))

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
            self.check()

        def on_batch_end(self, step: int, logs: dict[str, Any]) -> None:
            self.check()

    ref.fit(X, y, epochs=target[0] + 1 - ref.epoch, callbacks=[Capture()], **fit)
    return captured or None


def interrupt(net: npframe.Network, X: np.ndarray, y: np.ndarray, fit: dict[str, Any],
              rng: np.random.Generator) -> bool:
    """Train ``net`` until a thread's SIGINT stops it; whether ``fit`` raised
    ``KeyboardInterrupt`` (it always should: it is given a million epochs)."""
    delay = float(rng.uniform(0, MAX_DELAY))
    use_pthread = bool(rng.integers(2))
    main = threading.main_thread().ident
    assert main is not None

    def send() -> None:
        time.sleep(delay)
        if use_pthread:
            signal.pthread_kill(main, signal.SIGINT)
        else:
            os.kill(os.getpid(), signal.SIGINT)

    class Deadline:  # a signal that never arrives fails the trial instead of hanging it
        def __init__(self) -> None:
            self.end = time.monotonic() + 30

        def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
            if time.monotonic() > self.end:
                net.stop_training = True

    sender = threading.Thread(target=send)
    try:
        sender.start()
        net.fit(X, y, epochs=10**6, callbacks=[Deadline()], **fit)
    except KeyboardInterrupt:
        return True
    finally:
        sender.join()
    return False


def trial(index: int, seed: int, mode: str, folder: Path) -> dict[str, Any]:
    rng = np.random.default_rng([seed, index])
    spec, fit, pre = choose(rng)
    X = rng.normal(size=(int(rng.integers(24, 41)), 3))
    y = np.stack([X.sum(axis=1), X[:, 0] * X[:, 1]], axis=1)
    net = fresh(spec, X, y, fit, pre)
    before = copied(net.state_dict())
    if mode == "raising":
        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt
        previous = signal.signal(signal.SIGINT, handler)
    try:
        interrupted = interrupt(net, X, y, fit, rng)
    finally:
        if mode == "raising":
            signal.signal(signal.SIGINT, previous)
    p = net.loop.position
    target = (p.epoch, p.batch, p.step)
    outcome: dict[str, Any] = {"trial": index, "mode": mode, "position": list(target),
                               "spec": spec, "fit": fit, "pre": pre, "problem": None}

    def fail(problem: str) -> dict[str, Any]:
        outcome["problem"] = problem
        return outcome

    if not interrupted:
        return fail("fit did not raise KeyboardInterrupt")
    if mode == "raising" and p.batch:
        return fail(f"not rolled back to an epoch start: {target}")
    now = copied(net.state_dict())
    expected = state_at(spec, X, y, fit, pre, target)
    if expected is None:
        return fail(f"an uninterrupted run never passes through {target}")
    problem = difference(now, expected)
    if problem and difference(now, before) is None:
        problem = None  # interrupted before fit changed anything (e.g. the scaler)
    if problem:
        return fail(f"inconsistent at {target}: {problem}")
    path = folder / f"trial-{index}.npz"
    net.save(path)
    loaded = npframe.load(path)
    problem = difference(copied(loaded.state_dict()), now)
    if problem:
        return fail(f"save/load changed the state: {problem}")
    total = p.epoch + 2
    loaded.fit(X, y, epochs=total - loaded.epoch, **fit)
    net.fit(X, y, epochs=total - net.epoch, **fit)
    straight = fresh(spec, X, y, fit, pre)
    straight.fit(X, y, epochs=total - straight.epoch, **fit)
    for name, resumed in (("loaded", loaded), ("in memory", net)):
        problem = difference(copied(resumed.state_dict()), copied(straight.state_dict()))
        if problem:
            return fail(f"resumed {name} from {target} differs from one fit: {problem}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--mode", choices=["deferred", "raising"], default="deferred")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # Python's own handler, whatever this process inherited (a background job starts
    # with SIGINT ignored, which would make every signal of the campaign vanish)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    warnings.simplefilter("ignore", npframe.ConvergenceWarning)  # a few epochs on noise
    with tempfile.TemporaryDirectory(prefix="npframe-interrupts-") as folder:
        outcomes = []
        for i in range(args.trials):
            try:
                outcomes.append(trial(i, args.seed, args.mode, Path(folder)))
            except BaseException as exc:  # reported, not raised: the campaign goes on
                trace = "".join(traceback.format_exception(exc)[-4:])
                outcomes.append({"trial": i, "mode": args.mode, "position": None,
                                 "problem": f"crashed: {type(exc).__name__}: {exc}\n{trace}"})
    json.dump(outcomes, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
