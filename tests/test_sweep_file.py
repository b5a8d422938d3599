"""Sweep files: what a grid and a random search try, spec paths, and every mistake in a
sweep file reported with the file and the key before any trial runs."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

import npframe
from npframe.errors import ResultsFileError, SpecError
from npframe.sweeps import load_sweep
from npframe.sweeps.space import Grid, RandomSearch, parse_distribution
from npframe.sweeps.specpath import PathError, parse_path, set_value
from npframe.sweeps.trial import fold_slices, trial_spec

ROOT = Path(__file__).resolve().parent.parent

NET = """\
input = 2
seed = 3
optimizer = "sgd"
metrics = ["mae", "r2"]

[[layers]]
units = 8
activation = "relu"

[[layers]]
units = 1
activation = "linear"
"""


@pytest.fixture
def folder(tmp_path):
    """A folder with net.toml and data.csv (40 rows: a, b -> t) for sweep files."""
    (tmp_path / "net.toml").write_text(NET)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 2))
    table = np.c_[X, X[:, 0] * X[:, 1]]
    np.savetxt(tmp_path / "data.csv", table, delimiter=",", header="a,b,t", comments="")
    return tmp_path


def write(folder, body: str, name: str = "sweep.toml"):
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


GOOD_HEAD = """\
spec = "net.toml"
data = "data.csv"
targets = "t"
validation_split = 0.25
epochs = 5
"""


# -- what is tried -------------------------------------------------------------------------
def test_a_grid_tries_every_combination_the_last_key_fastest():
    grid = Grid.parse({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(grid) == 6
    assert grid.trials() == [{"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")]
    assert [grid.trial(i) for i in range(6)] == grid.trials()


def test_random_draws_are_reproducible_and_a_trial_does_not_depend_on_the_count():
    table = {"trials": 5, "lr": {"loguniform": [1e-4, 1e-1]}, "units": {"randint": [4, 9]},
             "act": {"choice": ["relu", "tanh"]}, "p": {"uniform": [0.1, 0.5]}}
    five = RandomSearch.parse(table, seed=11).trials()
    assert five == RandomSearch.parse(table, seed=11).trials()
    eight = RandomSearch.parse({**table, "trials": 8}, seed=11).trials()
    assert eight[:5] == five
    assert RandomSearch.parse(table, seed=12).trials() != five
    for trial in eight:
        assert 1e-4 <= trial["lr"] < 1e-1 and isinstance(trial["lr"], float)
        assert trial["units"] in range(4, 9) and isinstance(trial["units"], int)
        assert trial["act"] in ("relu", "tanh")
        assert 0.1 <= trial["p"] < 0.5


def test_distributions_cover_their_range(rng):
    randint = parse_distribution({"randint": [2, 5]}, "k")
    assert {randint.draw(rng) for _ in range(200)} == {2, 3, 4}
    logs = np.log10([parse_distribution({"loguniform": [1e-4, 1.0]}, "k").draw(rng)
                     for _ in range(2000)])
    assert np.histogram(logs, bins=4, range=(-4, 0))[0].min() > 400  # uniform in the log


# -- spec paths ----------------------------------------------------------------------------
def test_paths_parse_into_keys_and_indices():
    assert parse_path("layers[0].units") == ("layers", 0, "units")
    assert parse_path("optimizer.learning_rate") == ("optimizer", "learning_rate")
    assert parse_path("seed") == ("seed",)
    for bad in ("layers[0]units", "layers.0", ".seed", "a..b", "layers[-1]", ""):
        with pytest.raises(PathError, match="is not a spec path"):
            parse_path(bad)


def test_setting_a_parameter_turns_a_named_component_into_a_table():
    spec = {"optimizer": "sgd", "layers": [{"units": 4, "activation": "relu"}]}
    out = set_value(spec, "optimizer.learning_rate", 0.1)
    assert out["optimizer"] == {"name": "sgd", "learning_rate": 0.1}
    assert spec["optimizer"] == "sgd"  # the input is not touched
    assert set_value(spec, "layers[0].units", 9)["layers"][0]["units"] == 9
    assert set_value(spec, "layers[0].activation.alpha", 0.2)["layers"][0]["activation"] == {
        "name": "relu", "alpha": 0.2}
    with pytest.raises(PathError, match=r"'layers' has 1 entries, so \[3\] leads nowhere"):
        set_value(spec, "layers[3].units", 9)


def test_shallow_paths_are_set_first_whatever_the_order_in_the_file():
    spec = {"optimizer": {"name": "sgd", "learning_rate": 0.01}}
    out = trial_spec(spec, {"optimizer.learning_rate": 0.5, "optimizer": "adam"})
    assert out["optimizer"] == {"name": "adam", "learning_rate": 0.5}


def test_folds_are_contiguous_blocks_that_cover_every_row():
    blocks = fold_slices(10, 3)
    assert [(b.start, b.stop) for b in blocks] == [(0, 4), (4, 7), (7, 10)]


# -- a good file ---------------------------------------------------------------------------
def test_a_sweep_file_is_read_with_its_spec_completed(folder):
    path = write(folder, GOOD_HEAD + """\
        rank = "val_r2"
        [grid]
        "optimizer.learning_rate" = [0.01, 0.1]
        "layers[0].units" = [2, 4]
        """)
    sweep = load_sweep(path)
    assert sweep.n_trials == 4 and sweep.paths == ("optimizer.learning_rate", "layers[0].units")
    assert sweep.rank == "val_r2" and sweep.greater_is_better
    assert sweep.spec["seed"] == 3 and sweep.spec["train"]["epochs"] == 5
    assert sweep.spec["train"]["validation_split"] == 0.25
    assert sweep.log_keys == ("loss", "mae", "r2", "val_loss", "val_mae", "val_r2")
    assert sweep.X.shape == (40, 2) and sweep.y.shape == (40, 1)
    # the mapping form, paths relative to base_dir, is the same sweep
    mapping = {"spec": "net.toml", "data": "data.csv", "targets": "t", "epochs": 5,
               "validation_split": 0.25, "rank": "val_r2",
               "grid": {"optimizer.learning_rate": [0.01, 0.1], "layers[0].units": [2, 4]}}
    assert load_sweep(mapping, base_dir=folder).settings() == sweep.settings()


def test_a_spec_without_a_seed_gets_the_sweeps_seed(folder):
    (folder / "net.toml").write_text(NET.replace("seed = 3\n", ""))
    path = write(folder, GOOD_HEAD + "seed = 99\n[grid]\nepochs = [1]\n".replace(
        "epochs", '"train.epochs"'))
    assert load_sweep(path).spec["seed"] == 99


# -- every mistake, with the file and the key ---------------------------------------------
BAD_FILES = {
    "unknown path": (
        '[grid]\n"optimzer.learning_rate" = [0.1]\n',
        r'grid\."optimzer\.learning_rate": not a path in the spec: unknown key '
        r"'optimzer'; did you mean 'optimizer'\?"),
    "unknown parameter": (
        '[grid]\n"optimizer.learning_rat" = [0.1]\n',
        r"grid\.\"optimizer\.learning_rat\": not a path in the spec: optimizer: unknown "
        r"parameter 'learning_rat' for 'sgd'; did you mean 'learning_rate'\?"),
    "unknown layer key": (
        '[grid]\n"layers[0].unit" = [3]\n',
        r"grid\.\"layers\[0\]\.unit\": not a path in the spec: layers\[0\]\.unit: unknown "
        r"key 'unit' for layer 'dense'; did you mean 'units'\?"),
    "index out of range": (
        '[grid]\n"layers[5].units" = [3]\n',
        r"grid\.\"layers\[5\]\.units\": not a path in the spec: 'layers' has 2 entries, so "
        r"\[5\] leads nowhere"),
    "malformed path": (
        '[grid]\n"layers[0]units" = [3]\n',
        r"grid\.\"layers\[0\]units\": 'layers\[0\]units' is not a spec path"),
    "empty grid": ("[grid]\n", r"grid: is empty; give at least one spec path"),
    "empty list": ('[grid]\nseed = []\n', r'grid\."seed": is an empty list'),
    "grid value not a list": ('[grid]\nseed = 4\n',
                              r'grid\."seed": must be a list of values to try \(got 4\); '
                              r"write \[4\]"),
    "wrong distribution": (
        '[random]\ntrials = 2\nseed = { unifrom = [0, 1] }\n',
        r"random\.\"seed\": unknown distribution 'unifrom'; did you mean 'uniform'\? known: "
        r"choice, loguniform, randint, uniform"),
    "lo >= hi": ('[random]\ntrials = 2\n"optimizer.learning_rate" = { uniform = [0.5, 0.1] }\n',
                 r'random\."optimizer\.learning_rate": uniform needs lo < hi '
                 r"\(got lo = 0\.5, hi = 0\.1\)"),
    "loguniform from zero": (
        '[random]\ntrials = 2\n"optimizer.learning_rate" = { loguniform = [0, 0.1] }\n',
        r'random\."optimizer\.learning_rate": loguniform needs lo > 0 \(got lo = 0\)'),
    "randint of floats": ('[random]\ntrials = 2\n"layers[0].units" = { randint = [2.5, 8] }\n',
                          r'random\."layers\[0\]\.units": randint bounds must be ints '
                          r"\(got \[2\.5, 8\]\)"),
    "list in a random search": (
        '[random]\ntrials = 2\n"layers[0].units" = [4, 8]\n',
        r'random\."layers\[0\]\.units": a random search draws from a distribution, not a '
        r"list; for these values write \{ choice = \[4, 8\] \}"),
    "no trial count": ('[random]\nseed = { randint = [0, 9] }\n',
                       r"random\.trials: needs trials = N"),
    "zero trials": ('[random]\ntrials = 0\nseed = { randint = [0, 9] }\n',
                    r"random\.trials: must be a positive int \(got 0\)"),
    "grid and random": ('[grid]\nseed = [1]\n[random]\ntrials = 1\nseed = { randint = [0, 9] }\n',
                        r"random: a sweep has a \[grid\] table or a \[random\] table, not both"),
    "neither": ("", r"nothing to try: add a \[grid\] table"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_space_is_named_with_the_file_and_the_key(folder, case):
    body, message = BAD_FILES[case]
    path = write(folder, GOOD_HEAD + body)
    with pytest.raises(SpecError, match="^" + re.escape(str(path)) + ": " + message):
        load_sweep(path)


BAD_SETTINGS = {
    "unknown key": ('epoch = 3\n', r"epoch: unknown key 'epoch'; did you mean 'epochs'\?"),
    "folds and split": ("folds = 3\n",
                        r"folds: give validation_split or folds, not both"),
    "rank of an unknown metric": (
        'rank = "val_acc"\n',
        r"rank: unknown rank 'val_acc'; did you mean 'val_mae'\? allowed: val_loss, val_mae, "
        r"val_r2 \(val_<metric> for a metric in the spec's metrics list\)"),
    "rank of a training metric": ('rank = "mae"\n', r"rank: unknown rank 'mae'; did you mean "
                                                    r"'val_mae'\?"),
    "bad seed": ("seed = -1\n", r"seed: must be an int >= 0 \(got -1\)"),
    "bad override": ("batch_size = 0\n", r"batch_size: must be a positive int \(got 0\)"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_a_bad_setting_is_named_with_the_file_and_the_key(folder, case):
    line, message = BAD_SETTINGS[case]
    path = write(folder, GOOD_HEAD + line + "[grid]\nseed = [1, 2]\n")
    with pytest.raises(SpecError, match="^" + re.escape(str(path)) + ": " + message):
        load_sweep(path)


MISSING_OR_CONTRADICTORY = [
    ('data = "data.csv"\ntargets = "t"\nvalidation_split = 0.25\n[grid]\nseed = [1]\n',
     r"spec: required: the base network spec"),
    ('spec = "nope.toml"\ndata = "data.csv"\n[grid]\nseed = [1]\n',
     r"spec: nope\.toml: no such file"),
    ('spec = "net.toml"\nvalidation_split = 0.25\n[grid]\nseed = [1]\n',
     r"data: required: the training data file"),
    ('spec = "net.toml"\ntargets = "t"\n[grid]\nseed = [1]\n',
     r"targets: chooses columns of a data file; give data too"),
    ('spec = "net.toml"\ndata = "data.csv"\ntargets = "t"\n[grid]\nseed = [1]\n',
     r"rank: 'val_loss' is measured on held-out rows: set validation_split = 0\.2 or folds = 5"),
    ('spec = "net.toml"\ndata = "data.csv"\ntargets = "t"\nfolds = 1\n[grid]\nseed = [1]\n',
     r"folds: must be an int >= 2 \(got 1\)"),
    ('spec = "net.toml"\ndata = "data.csv"\ntargets = "t"\nfolds = 41\n[grid]\nseed = [1]\n',
     r"folds: 41 folds of 40 samples leaves a fold empty"),
    ('spec = "net.toml"\ndata = "data.csv"\ntargets = "t"\nvalidation_split = 0.01\n'
     '[grid]\nseed = [1]\n', r"validation_split: validation_split = 0\.01 of 40 samples leaves"),
]


@pytest.mark.parametrize(("body", "message"), MISSING_OR_CONTRADICTORY)
def test_missing_or_contradictory_settings_are_named(folder, body, message):
    path = write(folder, body)
    with pytest.raises(SpecError, match="^" + re.escape(str(path)) + ": " + message):
        load_sweep(path)


def test_a_mistake_in_the_base_spec_names_the_spec_file(folder):
    (folder / "net.toml").write_text(NET.replace('activation = "relu"', 'activation = "rleu"'))
    path = write(folder, GOOD_HEAD + "[grid]\nseed = [1]\n")
    with pytest.raises(SpecError, match="^" + re.escape(f"{path}: spec: net.toml: layers[0]."
                                                        "activation: unknown activation 'rleu'")):
        load_sweep(path)


def test_the_messages_in_the_docs_are_the_real_ones(folder):
    """docs/sweeps.md's table of mistakes quotes messages these tests produce."""
    bodies = [GOOD_HEAD + body for body, _ in BAD_FILES.values()]
    bodies += [GOOD_HEAD + line + "[grid]\nseed = [1, 2]\n" for line, _ in BAD_SETTINGS.values()]
    bodies += [body for body, _ in MISSING_OR_CONTRADICTORY]
    actual = []
    for spec in (NET, NET.replace('activation = "relu"', 'activation = "rleu"')):
        (folder / "net.toml").write_text(spec)
        for body in bodies:
            path = write(folder, body)
            with pytest.raises(SpecError) as caught:
                load_sweep(path)
            actual.append(str(caught.value).replace(str(path), "sweep.toml"))
    text = (ROOT / "docs" / "sweeps.md").read_text()
    section = text.split("## Mistakes in a sweep file")[1].split("\n## ")[0]
    quoted = re.findall(r"^\| [^|`]+ \| `(.+)` \|$", section, flags=re.MULTILINE)
    assert len(quoted) >= 12
    for message in quoted:
        prefix = message.removesuffix(" ...")
        assert any(real.startswith(prefix) for real in actual), f"not a real message: {message}"


def test_a_key_that_only_exists_for_some_values_of_its_parent_is_accepted(folder):
    path = write(folder, GOOD_HEAD + """\
        [grid]
        optimizer = ["momentum", "adam"]
        "optimizer.momentum" = [0.9]
        """)
    assert load_sweep(path).n_trials == 2  # adam + momentum fails as a trial, not here


def test_a_results_file_from_another_sweep_is_refused(folder):
    path = write(folder, GOOD_HEAD + "[grid]\nseed = [1, 2]\n")
    out = folder / "results.csv"
    npframe.sweep(path, out=out)
    other = write(folder, GOOD_HEAD.replace("epochs = 5", "epochs = 6") + "[grid]\nseed = [1, 2]\n",
                  "other.toml")
    with pytest.raises(ResultsFileError, match=re.escape(
            f"{out.with_suffix('.json')}: written by a different sweep (its spec differ from "
            f"{other}'s)")):
        npframe.sweep(other, out=out)
    # same settings, but the file says trial 1 tried another seed
    data = json.loads(out.with_suffix(".json").read_text())
    data["trials"][1]["seed"] = 7
    out.with_suffix(".json").write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match=r"trial 1 has seed = 7, but .*'s trial 1 has 2"):
        npframe.sweep(path, out=out)


def test_a_results_csv_without_its_json_is_refused(folder):
    path = write(folder, GOOD_HEAD + "[grid]\nseed = [1]\n")
    (folder / "results.csv").write_text("trial\n")
    with pytest.raises(ResultsFileError, match=r"results\.csv exists, but results\.json, which "
                                               r"a sweep resumes from, does not"):
        npframe.sweep(path, out=folder / "results.csv")
