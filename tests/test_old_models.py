"""Model files written by npframe 0.1 (format 1) keep loading, predicting and resuming.

``tests/data/v1_*.npz`` were written by ``tests/data/write_v1_models.py`` run against
npframe 0.1 (the release before layers became components and the file format became 2);
``*.expected.npz`` holds what that version predicted right after saving, and the weights
it reached after two more epochs of training from the saved state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import npframe

DATA = Path(__file__).parent / "data"
CASES = np.array([[30.0, 70.0], [70.0, 30.0], [3.0, 5.0]])


@pytest.mark.parametrize("name", ["v1_tutorial_adam", "v1_float32_momentum"])
def test_a_format_1_model_loads_predicts_and_resumes_bit_for_bit(name):
    net = npframe.load(DATA / f"{name}.npz")
    expected = np.load(DATA / f"{name}.expected.npz", allow_pickle=False)
    assert net.epoch == 3
    np.testing.assert_array_equal(net.predict(CASES), expected["predictions"])
    data = npframe.registry.create("dataset", "tutorial")
    net.fit(data.X[:500], data.y[:500], epochs=2, batch_size=64)
    for i, weight in enumerate(net.get_weights()):
        np.testing.assert_array_equal(weight, expected[f"resumed_{i}"])


def test_a_format_1_model_saves_as_format_2_and_loads_again(tmp_path):
    net = npframe.load(DATA / "v1_tutorial_adam.npz")
    net.save(tmp_path / "v2.npz")
    with np.load(tmp_path / "v2.npz", allow_pickle=False) as f:
        assert int(f["format_version"]) == 2
    again = npframe.load(tmp_path / "v2.npz")
    np.testing.assert_array_equal(again.predict(CASES), net.predict(CASES))
    assert again.to_spec() == net.to_spec()
