"""Issue 16's hostile-input campaign in one place: every input ends cleanly.

"Cleanly" means: the documented exception with a message that names the input and says
what is wrong (exit code 2 and one line on stderr for the command line), within a
memory cap and a time limit; never a crash (``MemoryError``, ``RecursionError``,
``TypeError``...), a hang, code run from a file, or a half-changed network.

The inputs, by category (``CAMPAIGN`` counts them; ``test_the_campaign_size`` states
the total):

* archives: every ``tests/hostile.py`` ``.npz``/``.npy`` case, read here as a model file
  (``npframe.load``) and as a data file (``load_data``); ``test_archive.py`` reads them
  with the archive reader itself;
* model files, data files and spec files made to look like the real thing
  (``hostile.MODEL_CASES``, ``DATA_CASES``, ``SPEC_CASES``), all read in one subprocess
  whose address space is capped at 1 GiB;
* oversize specs in process (no allocation, fast), command lines in capped subprocesses;
* plugins: failing, exiting, interrupting, deadlocking, recursing, slow, broken
  metadata, and a plugin planted in the working folder;
* interruptions: Ctrl-C at random moments of ``fit`` (``tests/interrupts.py``),
  ``kill -9`` in the middle of ``save``, hostile save targets, diverging runs.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import hostile
import numpy as np
import pytest

import npframe
from npframe import PluginWarning, RegistryError, SpecError
from npframe.errors import DivergenceError, ModelFileError
from npframe.registry import Registry

resource = pytest.importorskip("resource")

HERE = Path(__file__).resolve().parent
LIMIT = 1 << 30  # the address space of every capped subprocess
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NPFRAME_PLUGINS")}
ENV.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
BASE_SPEC = {
    "input": 3, "seed": 1, "standardize": True, "optimizer": "adam",
    "layers": [{"units": 4, "activation": "relu"}, {"units": 2, "activation": "linear"}],
}


def available(cases):
    return [c for c in cases if c.available()]


def trained_model(path: Path) -> npframe.Network:
    """The small valid model every hostile model file is made from."""
    net = npframe.Network.from_spec(BASE_SPEC)
    rng = np.random.default_rng(0)
    net.fit(rng.normal(size=(20, 3)), rng.normal(size=(20, 2)), epochs=1, batch_size=8)
    net.save(path)
    return net


def cap_memory() -> None:  # preexec_fn of the capped subprocesses
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


# -- every file, read in one subprocess capped at 1 GiB ---------------------------------------
CHILD = r"""
import contextlib, io, json, resource, sys, time
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import npframe
from npframe.cli import main
from npframe.data import load_data
results = {}
for item in json.loads(open(sys.argv[1]).read()):
    start = time.perf_counter()
    try:
        if item["read"] == "check":
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["check", item["path"]])
            outcome = ["exit", str(code), err.getvalue()]
        elif item["read"] == "load":
            npframe.load(item["path"])
            outcome = ["accepted", "", ""]
        else:
            load_data(item["path"])
            outcome = ["accepted", "", ""]
    except MemoryError as exc:
        outcome = ["crashed", "MemoryError", repr(exc)]
    except Exception as exc:
        outcome = ["raised", type(exc).__name__, str(exc)]
    except BaseException as exc:
        outcome = ["crashed", type(exc).__name__, repr(exc)]
    outcome.append(time.perf_counter() - start)
    results[item["key"]] = outcome
results["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """``(results, folder)``: every hostile file read once, in one capped subprocess."""
    folder = tmp_path_factory.mktemp("campaign")
    base_path = folder / "base.npz"
    trained_model(base_path)
    with np.load(base_path, allow_pickle=False) as f:
        base = {name: f[name] for name in f.files}
    items = []
    (folder / "archives").mkdir()
    for case, path in hostile.write_cases(folder / "archives"):
        items.append({"key": f"archive-as-model:{case.name}", "read": "load", "path": str(path)})
        items.append({"key": f"archive-as-data:{case.name}", "read": "data", "path": str(path)})
    for kind, cases, read in (("model", hostile.MODEL_CASES, "load"),
                              ("data", hostile.DATA_CASES, "data"),
                              ("spec", hostile.SPEC_CASES, "check")):
        for case, path in hostile.write_file_cases(cases, folder / kind, base):
            items.append({"key": f"{kind}:{case.name}", "read": read, "path": str(path)})
    (folder / "manifest.json").write_text(json.dumps(items))
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder / "manifest.json"),
                           str(LIMIT)], capture_output=True, text=True, timeout=300, env=ENV,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert len(results) == len(items) + 1
    return results, folder


def _refused(outcome, errors, path=None):
    status, kind, message, seconds = outcome
    assert status == "raised", f"{status} {kind}: {message}"
    assert kind in errors, f"{kind}: {message}"
    if path is not None:
        assert str(path) in message, message
    assert seconds < 10, f"took {seconds:.1f} s"
    return message


@pytest.mark.parametrize("case", available(hostile.MODEL_CASES), ids=lambda c: c.name)
def test_a_hostile_model_file_is_refused_within_1_gib(capped, case):
    results, folder = capped
    message = _refused(results[f"model:{case.name}"], case.errors)
    assert case.expect in message, message
    if case.errors == ("ModelFileError",):
        assert message.startswith(str(folder / "model" / f"{case.name}.npz")), message
    else:  # a spec error names the model it is stored in
        assert f"{case.name}.npz" in message, message
    assert not case.reject or case.reject not in message, message


@pytest.mark.parametrize("case", available(hostile.DATA_CASES), ids=lambda c: c.name)
def test_a_hostile_data_file_is_refused_within_1_gib(capped, case):
    results, folder = capped
    message = _refused(results[f"data:{case.name}"], case.errors)
    assert message.startswith(str(folder / "data" / f"{case.name}{case.suffix}")), message
    assert case.expect in message, message


@pytest.mark.parametrize("case", available(hostile.SPEC_CASES), ids=lambda c: c.name)
def test_a_hostile_spec_file_is_one_line_and_exit_2_from_npframe_check(capped, case):
    results, folder = capped
    status, code, stderr, seconds = results[f"spec:{case.name}"]
    path = folder / "spec" / f"{case.name}{case.suffix}"
    assert (status, code) == ("exit", "2"), stderr
    assert stderr.count("\n") == 1 and stderr.startswith(f"npframe: error: {path}"), stderr
    assert case.expect in stderr, stderr
    assert seconds < 10, f"took {seconds:.1f} s"


@pytest.mark.parametrize("case", available(hostile.CASES), ids=lambda c: c.name)
def test_a_hostile_archive_is_refused_as_a_model_and_as_data(capped, case):
    results, folder = capped
    path = case.path_in(folder / "archives") if case.needs != "dev_zero" else "/dev/zero"
    _refused(results[f"archive-as-model:{case.name}"], ("ModelFileError", "IsADirectoryError"),
             path)
    message = _refused(results[f"archive-as-data:{case.name}"], ("DataError",))
    assert message.startswith(f"{path}: "), message


def test_no_file_ran_code_and_the_reader_stayed_small(capped):
    results, folder = capped
    assert not list(folder.rglob("*.pwned"))  # the pickled payloads never ran
    assert results["peak_rss_kib"] < 400 * 1024


def test_a_small_file_whose_spec_describes_a_large_network_allocates_nothing(tmp_path):
    """The weights a spec calls for must be declared in full before the network is
    allocated: a 13 KB file cannot make ``load`` build (and initialize) 48 MB of weights."""
    trained_model(tmp_path / "base.npz")
    with np.load(tmp_path / "base.npz", allow_pickle=False) as f:
        base = {name: f[name] for name in f.files}
    case = _case(hostile.MODEL_CASES, "model_spec_of_6_million_parameters_without_weights")
    path = case.make(tmp_path, base)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=case.expect):
            npframe.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size < 20_000 and peak < 8 << 20


# -- oversize specs: refused fast, nothing allocated ----------------------------------------------
_BIG_UNITS = [{"units": 10**8, "activation": "relu"}, {"units": 10**8, "activation": "linear"}]
OVERSIZE = {
    "units 1e8": ({"input": 2, "layers": _BIG_UNITS}, "10,000,000,400,000,000 parameters"),
    "units 1e12": ({"input": 2, "layers": [{"units": 10**12, "activation": "relu"}]},
                   "3,000,000,000,000 parameters"),
    "input 1e12": ({"input": 10**12, "layers": [{"units": 3, "activation": "relu"}]},
                   "3,000,000,000,003 parameters"),
    "float32 units 1e5 x 1e5": (
        {"input": 10**5, "dtype": "float32",
         "layers": [{"units": 10**5, "activation": "relu"}]}, "10,000,100,000 parameters"),
    "a million layers": ({"input": 2, "layers": [{"units": 2, "activation": "relu"}] * 10**6},
                         "1000000 layers is more than npframe builds (at most 10000)"),
}


@pytest.mark.parametrize("name", list(OVERSIZE))
def test_an_oversize_spec_is_refused_fast_and_allocates_nothing(monkeypatch, name):
    spec, expect = OVERSIZE[name]
    monkeypatch.setattr("npframe.assembly.available_memory", lambda: 4 << 30)
    for build in (npframe.check_spec, npframe.Network.from_spec):
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with pytest.raises(SpecError) as info:
                build(spec)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        message = str(info.value)
        assert message.startswith("layers: ") and expect in message, message
        if "parameters" in expect:  # the estimate, and the ceiling it is held against
            assert "training it takes about" in message and "4.0 GiB" in message, message
        assert seconds < 1.0, f"{build.__name__} took {seconds:.2f} s"
        assert peak < 8 << 20, f"{build.__name__} allocated {peak} bytes"


# -- the command line, capped at 1 GiB -------------------------------------------------------
def _case(cases, name):
    return next(c for c in cases if c.name == name)


CLI_RUNS = {
    "check 1e8 units": (["check", "spec:spec_units_10_to_8"], "parameters"),
    "check 100k-deep TOML": (["check", "spec:spec_toml_arrays_100k_deep"], "nested too deeply"),
    "predict with a zip-bomb model": (
        ["predict", "model:model_four_gib_weights", "--data", "data.csv"], "more than the"),
    "predict with a lying data file": (
        ["predict", "model.npz", "--data", "data:data_x_header_declares_terabytes"],
        "is truncated"),
    "evaluate a FIFO model": (["evaluate", "model:fifo", "--data", "data.csv"], "named pipe"),
    "train a FIFO spec": (["train", "spec:spec_fifo", "--data", "data.csv"], "not a regular file"),
    "train on a FIFO": (["train", "spec.json", "--data", "data:data_csv_fifo"], "named pipe"),
    "train from a model file with NaN state": (
        ["evaluate", "model:model_optimizer_state_nan", "--data", "data.csv"], "NaN or inf"),
}


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    trained_model(folder / "model.npz")
    with np.load(folder / "model.npz", allow_pickle=False) as f:
        base = {name: f[name] for name in f.files}
    rows = np.random.default_rng(1).normal(size=(10, 5))
    (folder / "data.csv").write_text("a,b,c,y1,y2\n" + "\n".join(
        ",".join(map(repr, row)) for row in rows.tolist()) + "\n")
    (folder / "spec.json").write_text(json.dumps(BASE_SPEC))
    for cases in (hostile.MODEL_CASES, hostile.DATA_CASES, hostile.SPEC_CASES):
        needed = {arg.split(":", 1)[1] for args, _ in CLI_RUNS.values() for arg in args
                  if ":" in arg}
        hostile.write_file_cases([c for c in cases if c.name in needed], folder, base)
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.npz")
    return folder


def _cli_path(folder: Path, arg: str) -> str:
    if ":" not in arg:
        return arg
    kind, name = arg.split(":", 1)
    cases = {"model": hostile.MODEL_CASES, "data": hostile.DATA_CASES,
             "spec": hostile.SPEC_CASES}[kind]
    if name == "fifo":
        return str(folder / "fifo.npz")
    case = _case(cases, name)
    return str(folder / f"{case.name}{case.suffix}")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("run", list(CLI_RUNS))
def test_a_hostile_command_line_exits_2_with_one_line_within_1_gib(cli_folder, run):
    args, expect = CLI_RUNS[run]
    args = [_cli_path(cli_folder, a) for a in args]
    done = subprocess.run([sys.executable, "-m", "npframe", *args], cwd=cli_folder,
                          capture_output=True, text=True, timeout=120, env=ENV,
                          preexec_fn=cap_memory, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("npframe: error: "), \
        done.stderr
    assert expect in done.stderr, done.stderr


# -- plugins -----------------------------------------------------------------------------------
_counter = itertools.count()

_PLUGIN = """
import npframe, threading

class Swish(npframe.Activation):
    def forward(self, z):
        return z

    def backward(self, z, a, grad_a):
        return grad_a
{module}
@npframe.hookimpl
def npframe_register(registry):
    registry.register("activation", "{name}_first", Swish)
    {body}
    registry.register("activation", "{name}_last", Swish)
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` holding plugin distributions; their modules are
    forgotten afterwards, and the process-wide registry never sees them."""
    npframe.registry.names("activation")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("NPFRAME_PLUGINS", raising=False)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("npf_hostile_"):
            del sys.modules[name]


def plugin(site: Path, dist: str, body: str = "pass", module_code: str = "") -> str:
    """Distribution ``dist`` whose hook registers ``<name>_first``, runs ``body``, then
    registers ``<name>_last``; returns the component-name prefix."""
    name = f"npf_hostile_{next(_counter)}"
    source = _PLUGIN.format(module=textwrap.dedent(module_code), name=name,
                            body=textwrap.indent(textwrap.dedent(body), "    ").strip())
    hostile.write_dist(site, dist, source, name)
    return name


def _registered(reg: Registry, prefix: str) -> set[str]:
    return {n for n in reg.names("activation") if n.startswith(prefix)}


RAISING = {  # where: (hook body, module code)
    "SystemExit on import": ("pass", "raise SystemExit(3)\n"),
    "SystemExit in the hook": ("raise SystemExit(4)", ""),
    "RecursionError on import": ("pass", "def f():\n    return f()\nf()\n"),
    "MemoryError in the hook": ("raise MemoryError('hostile')", ""),
}


@pytest.mark.parametrize("where", list(RAISING))
def test_a_plugin_raising_anything_is_a_failure_and_the_rest_loads(site, where):
    body, module_code = RAISING[where]
    good = plugin(site, "npframe-zz-good")
    bad = plugin(site, "npframe-bad", body, module_code)
    reg = Registry()
    with pytest.warns(PluginWarning, match=r"\(npframe-bad 0\.1\) failed to load: "
                                           r"(SystemExit|RecursionError|MemoryError)"):
        names = reg.names("activation")
    assert {f"{good}_first", f"{good}_last"} <= set(names)
    assert not _registered(reg, bad)
    assert [f.distribution for f in reg.failures()] == ["npframe-bad"]


INTERRUPTING = ["hook", "import"]


@pytest.mark.parametrize("where", INTERRUPTING)
def test_a_plugin_raising_keyboard_interrupt_leaves_the_registry_consistent(site, where):
    plugin(site, "npframe-aa-broken", module_code="raise ImportError('aa is broken')\n")
    before = plugin(site, "npframe-bb-good")
    bad = plugin(site, "npframe-cc-interrupts", *(("raise KeyboardInterrupt", "")
                                                  if where == "hook"
                                                  else ("pass", "raise KeyboardInterrupt\n")))
    after = plugin(site, "npframe-dd-good")
    reg = Registry()
    assert reg.entry("activation", "relu").builtin  # the built-ins load on their own
    with pytest.raises(KeyboardInterrupt):
        reg.names("activation")  # the user's Ctrl-C (or a plugin pretending) propagates
    # the next use completes the load: earlier plugins stay, later ones load, the
    # interrupted one is a recorded failure with nothing registered, nothing is lost
    with pytest.warns(PluginWarning) as record:
        names = set(reg.names("activation"))
    assert [str(w.message) for w in record] == [
        "npframe plugin 'plugin' (npframe-aa-broken 0.1) failed to load: ImportError: aa is "
        "broken",
        "npframe plugin 'plugin' (npframe-cc-interrupts 0.1) failed to load: KeyboardInterrupt",
    ]
    assert {f"{before}_first", f"{before}_last", f"{after}_first", f"{after}_last"} <= names
    assert not _registered(reg, bad)
    assert [f.distribution for f in reg.failures()] == ["npframe-aa-broken",
                                                        "npframe-cc-interrupts"]
    assert reg.load_plugins() == reg.failures()  # loaded once; no second attempt


def _within(seconds: float, work):
    """``work()`` in a thread that must finish in time: a deadlock fails, not hangs."""
    result: list = []
    worker = threading.Thread(target=lambda: result.append(work()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "deadlocked"
    return result[0]


WAITING = ["join", "future"]


@pytest.mark.parametrize("wait", WAITING)
def test_a_hook_waiting_for_a_thread_that_uses_the_registry_does_not_deadlock(site, wait):
    body = {
        "join": """
            seen = []
            def use():
                try:
                    seen.append(npframe.registry.default_registry().names("activation"))
                except Exception as exc:
                    seen.append(exc)
            t = threading.Thread(target=use)
            t.start()
            t.join()
            SEEN.extend(seen)""",
        "future": """
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(1) as pool:
                try:
                    SEEN.append(pool.submit(npframe.registry.default_registry().names,
                                            "activation").result())
                except Exception as exc:
                    SEEN.append(exc)""",
    }[wait]
    name = plugin(site, "npframe-waits", body, "SEEN = []\n")
    reg = Registry()
    original = npframe.registry._default
    npframe.registry._default = reg  # the hook's thread uses the registry being loaded
    try:
        names = _within(20, lambda: reg.names("activation"))
    finally:
        npframe.registry._default = original
    [seen] = sys.modules[name].SEEN
    assert isinstance(seen, RegistryError)
    assert "must not wait for threads that use the registry" in str(seen)
    assert {f"{name}_first", f"{name}_last"} <= set(names)  # the hook went on and finished


def test_a_thread_a_hook_started_may_use_the_registry_once_the_load_is_done(site):
    name = plugin(site, "npframe-later", """
        def use():
            DONE.wait(10)
            SEEN.append(REG[0].names("activation"))
        THREAD.append(threading.Thread(target=use))
        THREAD[0].start()""", "SEEN, THREAD, REG, DONE = [], [], [], threading.Event()\n")
    reg = Registry()
    module = None
    try:
        names = _within(20, lambda: reg.names("activation"))
        module = sys.modules[name]
        module.REG.append(reg)
    finally:
        if module is not None:
            module.DONE.set()
            module.THREAD[0].join(10)
    assert [names] == module.SEEN


def test_a_recursive_load_from_a_hook_fails_with_nothing_registered(site):
    name = plugin(site, "npframe-recursive",
                  "npframe.registry.default_registry().load_plugins()")
    reg = Registry()
    original = npframe.registry._default
    npframe.registry._default = reg
    try:
        with pytest.warns(PluginWarning, match=r"\(npframe-recursive 0\.1\) failed to load: "
                                               r"RegistryError: plugins are being loaded "
                                               r"already"):
            names = _within(20, lambda: reg.names("activation"))
    finally:
        npframe.registry._default = original
    assert not _registered(reg, name)
    assert "relu" in names


BROKEN_METADATA = {  # where: (METADATA lines, entry_points.txt, whom the failure names)
    "entry_points.txt not UTF-8": ("Name: npframe-mangled\n", b"\xff\xfe[npframe]\nx = y\n",
                                   "folder"),
    "entry_points.txt not INI": ("Name: npframe-mangled\n",
                                 b"[[[npframe]\n= = =\n[npframe]\n=\n", "npframe-mangled"),
    "METADATA without a name": ("Summary: nameless\n", b"[npframe]\nplugin = npf_nameless\n",
                                "folder"),
}


@pytest.mark.parametrize("where", list(BROKEN_METADATA))
def test_a_distribution_with_broken_metadata_is_a_failure_not_a_crash(site, where):
    metadata, entry_points, blamed = BROKEN_METADATA[where]
    good = plugin(site, "npframe-fine")
    info = site / "mangled-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\n{metadata}Version: 1.0\n")
    (info / "entry_points.txt").write_bytes(entry_points)
    other = site / "unrelated-1.0.dist-info"  # broken, but no npframe plugin: ignored
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nVersion: 1.0\n")
    (other / "entry_points.txt").write_bytes(b"\xff\xfe[console_scripts]\n")
    blamed = str(info) if blamed == "folder" else blamed
    reg = Registry()
    with pytest.warns(PluginWarning, match="failed to load: ") as record:
        assert reg.entry("activation", "relu").builtin
        names = reg.names("activation")
    assert len(record) == 1 and f"({blamed}" in str(record[0].message)
    assert f"{good}_last" in names
    assert [f.distribution for f in reg.failures()] == [blamed]


def test_an_entry_point_that_is_not_a_module_path_is_a_failure(site):
    info = site / "npframe_odd-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: npframe-odd\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[npframe]\nodd = not a module path!\n")
    reg = Registry()
    with pytest.warns(PluginWarning, match=r"'odd' \(npframe-odd 1\.0\) failed to load"):
        assert "relu" in reg.names("activation")


# the working folder and slow plugins: real interpreters in real folders
_MARKER_PLUGIN = """
import os, pathlib, time
pathlib.Path(os.environ["NPF_MARKER"]).write_text("imported")
time.sleep(float(os.environ.get("NPF_SLOW", "0")))
import npframe

@npframe.hookimpl
def npframe_register(registry):
    pass
"""


def _python(args, cwd, env=None, timeout=60):
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**ENV, **(env or {})}, check=False)
    return done


def test_a_plugin_planted_in_the_working_folder_is_never_imported(tmp_path):
    """A downloaded model beside a crafted ``evil-1.0.dist-info``: its code never runs."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = tmp_path / "evil-ran"
    hostile.write_dist(folder, "evil", _MARKER_PLUGIN, "evil_plugin")
    trained_model(folder / "model.npz")
    (folder / "data.csv").write_text("a,b,c\n1,2,3\n")
    spec = dict(BASE_SPEC, layers=[{"units": 2, "activation": "evil_act"}])
    (folder / "net.json").write_text(json.dumps(spec))
    env = {"NPF_MARKER": str(marker)}
    runs = [
        (["-c", "import npframe; net = npframe.load('model.npz'); net.predict([[1, 2, 3]]); "
                "npframe.registry.names('activation'); print(npframe.registry.failures())"], 0),
        (["-m", "npframe", "predict", "model.npz", "--data", "data.csv"], 0),
        (["-m", "npframe", "plugins"], 0),
        (["-m", "npframe", "check", "net.json"], 2),  # asks for a name only a plugin has
    ]
    for args, code in runs:
        done = _python(args, folder, env)
        assert done.returncode == code, done.stderr
        assert not marker.exists(), f"{args} imported the working folder's plugin"
    assert "unknown activation 'evil_act'" in done.stderr
    # the control: named on PYTHONPATH, the same folder is searched and the plugin runs
    done = _python(["-c", "import npframe; npframe.registry.names('activation')"], folder,
                   {**env, "PYTHONPATH": str(folder)})
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "imported"


def test_a_slow_plugin_is_not_imported_for_a_model_of_builtins(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "slow-ran"
    hostile.write_dist(site, "npframe-slow", _MARKER_PLUGIN, "npf_slow_plugin")
    trained_model(tmp_path / "model.npz")
    code = ("import sys, time, npframe\n"
            "start = time.perf_counter()\n"
            "net = npframe.load('model.npz')\n"
            "net.predict([[1.0, 2.0, 3.0]])\n"
            "npframe.check_spec('spec.json')\n"
            "assert 'npf_slow_plugin' not in sys.modules\n"
            "print(time.perf_counter() - start)\n")
    (tmp_path / "spec.json").write_text(json.dumps(BASE_SPEC))
    env = {"NPF_MARKER": str(marker), "PYTHONPATH": str(site)}
    done = _python(["-c", code], tmp_path, {**env, "NPF_SLOW": "5"})
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 3.0
    assert not marker.exists()
    # the control: asking for every component imports it
    done = _python(["-c", "import npframe; npframe.registry.names('activation')"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "imported"


PLUGIN_CASES = [
    *RAISING, *(f"KeyboardInterrupt in the {where}" for where in INTERRUPTING),
    *(f"a hook waiting ({wait}) for a thread that uses the registry" for wait in WAITING),
    "a thread of a hook using the registry after the load", "a recursive load from a hook",
    *BROKEN_METADATA, "an entry point that is not a module path",
    "a plugin in the working folder (python -c, python -m npframe)",
    "a plugin that takes seconds to import",
]


# -- Ctrl-C during fit ---------------------------------------------------------------------------
INTERRUPT_TRIALS = {"deferred": 40, "raising": 20}


def _interrupt_campaign(mode: str, trials: int, seed: int) -> list[dict]:
    done = subprocess.run([sys.executable, str(HERE / "interrupts.py"), "--trials", str(trials),
                           "--mode", mode, "--seed", str(seed)], capture_output=True, text=True,
                          timeout=60 + 3 * trials, env=ENV, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout)
    assert len(outcomes) == trials
    return outcomes


def _check_interrupts(outcomes: list[dict], mode: str) -> None:
    problems = [f"trial {o['trial']}: {o['problem']}" for o in outcomes if o["problem"]]
    assert not problems, "\n".join(problems)
    mid_epoch = [o for o in outcomes if o["position"][1] > 0]
    if mode == "deferred":  # stopped after the step in flight, often inside an epoch
        assert len(mid_epoch) >= len(outcomes) // 10
    else:  # rolled back to the start of the epoch
        assert not mid_epoch


@pytest.mark.parametrize("mode", list(INTERRUPT_TRIALS))
def test_ctrl_c_at_random_moments_of_fit_always_leaves_a_resumable_network(mode):
    _check_interrupts(_interrupt_campaign(mode, INTERRUPT_TRIALS[mode], seed=16), mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(INTERRUPT_TRIALS))
def test_ctrl_c_campaign_long(mode):
    _check_interrupts(_interrupt_campaign(mode, 10 * INTERRUPT_TRIALS[mode], seed=1616), mode)


def _small_net_and_data():
    net = npframe.Network.from_spec(dict(BASE_SPEC, standardize=False))
    rng = np.random.default_rng(3)
    return net, rng.normal(size=(40, 3)), rng.normal(size=(40, 2))


def _deferring() -> bool:
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)


@pytest.mark.skipif(not _deferring(), reason="needs Python's own SIGINT handler")
def test_one_ctrl_c_stops_after_the_step_in_flight():
    net, X, y = _small_net_and_data()

    class CtrlC:
        def on_batch_begin(self, step, logs):
            if step == 7:
                signal.raise_signal(signal.SIGINT)  # handled here, in the main thread

    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=10, batch_size=8, callbacks=[CtrlC()])
    p = net.loop.position
    assert (p.epoch, p.batch, p.step) == (1, 3, 8)  # step 7 was completed, then it stopped
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.skipif(not _deferring(), reason="needs Python's own SIGINT handler")
def test_a_second_ctrl_c_escapes_a_step_that_hangs():
    """A plugin step that never returns cannot trap the user: the first Ctrl-C waits for
    the step, the second aborts it, rolled back to the start of the epoch."""
    net, X, y = _small_net_and_data()
    entered, survived_first = threading.Event(), threading.Event()
    epoch_start = {}

    class Hang:
        def on_epoch_begin(self, epoch, logs):
            epoch_start.update({k: np.array(v) for k, v in net.state_dict().items()})

        def on_batch_begin(self, step, logs):
            if step != 7:
                return
            entered.set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # "hangs" until a Ctrl-C gets it out
                time.sleep(0.005)
                if sent_first.is_set() and not survived_first.is_set():
                    time.sleep(0.05)
                    survived_first.set()
            raise AssertionError("the second Ctrl-C did not interrupt the hung step")

    sent_first = threading.Event()
    main = threading.main_thread().ident

    def press_twice():
        if entered.wait(10):
            signal.pthread_kill(main, signal.SIGINT)
            sent_first.set()
            if survived_first.wait(10):
                signal.pthread_kill(main, signal.SIGINT)

    sender = threading.Thread(target=press_twice)
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            net.fit(X, y, epochs=10, batch_size=8, callbacks=[Hang()])
    finally:
        sender.join(20)
    assert survived_first.is_set()  # the first press only asked to stop
    assert type(info.value) is KeyboardInterrupt  # not a clean stop between steps
    p = net.loop.position
    assert (p.epoch, p.batch, p.step) == (1, 0, 5)  # back at the start of epoch 1
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, epoch_start[key], err_msg=key)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- kill -9 in the middle of save ---------------------------------------------------------------
SAVER = r"""
import sys, npframe
net = npframe.Network.from_spec({"input": 1000, "seed": 1, "optimizer": "adam",
                                 "layers": [{"units": 1000, "activation": "relu"},
                                            {"units": 1, "activation": "linear"}]})
print("ready", flush=True)
while True:
    net.save(sys.argv[1])
"""
KILLS = 5


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".model.npz.*.tmp"))


def _kill_while_saving(folder: Path, rng: np.random.Generator) -> int:
    """Start a process that saves a 24 MB model over and over; kill -9 it while it
    writes a temporary file. Its process id."""
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(folder / "model.npz")],
                             stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert saver.stdout is not None and saver.stdout.readline() == "ready\n"
        own = f".model.npz.{saver.pid}."
        deadline = time.monotonic() + 30
        while not any(p.name.startswith(own) for p in _temporaries(folder)):
            assert time.monotonic() < deadline, "the saver never wrote a temporary file"
            time.sleep(0.001)
        time.sleep(float(rng.uniform(0, 0.01)))
        saver.send_signal(signal.SIGKILL)
    finally:
        saver.kill()
        saver.wait(30)
        saver.stdout.close()
    return saver.pid


def _kill_campaign(tmp_path: Path, kills: int) -> None:
    """Each saver's first save removes what the saver killed before it left; the kills
    land mid-write (a temporary of the killed process remains) nearly every time."""
    folder = tmp_path / "models"
    folder.mkdir()
    rng = np.random.default_rng(9)
    hits, dead = 0, []
    for _ in range(kills):
        pid = _kill_while_saving(folder, rng)
        dead.append(pid)
        left = _temporaries(folder)
        assert all(p.name.startswith(f".model.npz.{pid}.") for p in left), left
        hits += len(left)
    assert hits >= kills // 2
    if (folder / "model.npz").exists():  # a save that completed is intact
        assert npframe.load(folder / "model.npz").n_parameters == 1000 * 1000 + 1000 + 1001
    stale = [folder / f".model.npz.{pid}.{i:08x}.tmp" for i, pid in enumerate(dead)]
    stale.append(folder / f".other.npz.{dead[0]}.0000abcd.tmp")  # another model's
    for path in stale:
        path.write_bytes(b"left by a killed save")
    live = folder / f".model.npz.{os.getpid()}.0123abcd.tmp"  # a save in progress elsewhere
    live.write_bytes(b"in progress")
    others = [folder / "notes.tmp", folder / ".model.npz.draft.tmp", folder / "keep.npz"]
    for path in others:
        path.write_bytes(b"not ours")
    net = trained_model(folder / "model.npz")  # the next save cleans up after the dead
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.npz", live.name, *(p.name for p in others)])
    np.testing.assert_array_equal(npframe.load(folder / "model.npz").get_weights()[0],
                                  net.get_weights()[0])


def test_kill_9_during_save_leaves_temporaries_the_next_save_removes(tmp_path):
    _kill_campaign(tmp_path, KILLS)


@pytest.mark.slow
def test_kill_9_during_save_36_times(tmp_path):
    _kill_campaign(tmp_path, 36)


# -- hostile save targets ------------------------------------------------------------------------
def _symlink(folder: Path, target: Path) -> Path:
    (folder / "model.npz").symlink_to(target)
    return folder / "model.npz"


SAVE_TARGETS = {
    "a symlink to a model": (lambda f: _symlink(f, f / "real.npz"), "a symbolic link"),
    "a dangling symlink": (lambda f: _symlink(f, f / "nowhere.npz"), "a symbolic link"),
    "a symlink to /dev/null": (lambda f: _symlink(f, Path("/dev/null")), "a symbolic link"),
    "a FIFO": (lambda f: (os.mkfifo(f / "model.npz"), f / "model.npz")[1],
               "not a regular file"),
    "a folder": (lambda f: ((f / "model.npz").mkdir(), f / "model.npz")[1], "folder"),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes and symlinks")
@pytest.mark.parametrize("target", list(SAVE_TARGETS))
def test_save_refuses_to_replace_anything_but_a_regular_file(tmp_path, target):
    make, expect = SAVE_TARGETS[target]
    net = trained_model(tmp_path / "real.npz")
    real = (tmp_path / "real.npz").read_bytes()
    path = make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    kind = path.lstat().st_mode
    with pytest.raises((ModelFileError, IsADirectoryError), match=expect):
        net.save(path)
    assert path.lstat().st_mode == kind  # still the symlink, FIFO or folder it was
    assert sorted(os.listdir(tmp_path)) == before  # and no temporary left behind
    assert (tmp_path / "real.npz").read_bytes() == real


SAVE_MODES = [0o600, 0o640, 0o400]


@pytest.mark.parametrize("mode", SAVE_MODES)
def test_resaving_keeps_the_files_permissions(tmp_path, mode):
    path = tmp_path / "model.npz"
    net = trained_model(path)
    os.chmod(path, mode)
    old = os.umask(0o022)
    try:
        net.save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert npframe.load(path).epoch == net.epoch


# -- divergence ----------------------------------------------------------------------------------
DIVERGENCE = list(itertools.product(["sgd", "momentum", "adam"], [1.0, 1e3, 1e8], [None, 16],
                                    ["linear", "relu"], ["float32", "float64"]))


def test_every_diverging_run_rolls_back_to_a_state_the_advised_retry_trains_from():
    rng = np.random.default_rng(0)
    X = rng.uniform(-50, 50, (200, 3))
    y = np.stack([X.sum(axis=1) * 10, X[:, 0] * X[:, 1]], axis=1)
    diverged = 0
    for optimizer, rate, batch_size, activation, dtype in DIVERGENCE:
        spec = {"input": 3, "seed": 1, "dtype": dtype,
                "optimizer": {"name": optimizer, "learning_rate": rate},
                "layers": [{"units": 8, "activation": activation},
                           {"units": 2, "activation": "linear"}]}
        net = npframe.Network.from_spec(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", npframe.ConvergenceWarning)
            try:
                net.fit(X, y, epochs=30, batch_size=batch_size)
            except DivergenceError:
                diverged += 1
            else:
                continue
            where = f"{optimizer} {rate} {batch_size} {activation} {dtype}"
            assert all(np.isfinite(w).all() for w in net.get_weights()), where
            assert np.isfinite(net.evaluate(X, y)), where
            net.optimizer.learning_rate = 1e-12  # what the error advises
            history = net.fit(X, y, epochs=2, batch_size=batch_size)
            assert all(np.isfinite(history.loss)), where
    assert diverged >= len(DIVERGENCE) // 2


# -- the documentation of all this --------------------------------------------------------------
def test_the_security_page_states_the_real_limits_and_controls():
    from npframe.archive import DEFAULT_MAX_MEMBERS
    from npframe.plugins import ENV_VAR, STRICT_ENV_VAR
    from npframe.spec import MAX_DEPTH, MAX_LAYERS, MAX_SPEC_BYTES

    docs = HERE.parent / "docs"
    page = (docs / "security.md").read_text(encoding="utf-8")
    for fact in (ENV_VAR, f"{STRICT_ENV_VAR}=1", f"{MAX_DEPTH} parts",
                 f"{MAX_SPEC_BYTES >> 20} MiB", f"{MAX_LAYERS:,} layers",
                 f"at most {DEFAULT_MAX_MEMBERS:,})",
                 ".model.npz.<process id>.<random>.tmp", "OPENBLAS_NUM_THREADS",
                 "threadpool_limits", "PYTHONPATH"):
        assert fact in page, fact
    assert "(security.md)" in (docs / "index.md").read_text(encoding="utf-8")
    assert "(security.md)" in (docs / "saving.md").read_text(encoding="utf-8")


# -- the count -----------------------------------------------------------------------------------
CAMPAIGN = {
    "archives (.npz/.npy), each read 3 ways": len(available(hostile.CASES)),
    "model files (npframe.load)": len(available(hostile.MODEL_CASES)),
    "data files (load_data)": len(available(hostile.DATA_CASES)),
    "spec files (npframe check)": len(available(hostile.SPEC_CASES)),
    "oversize specs (in process)": len(OVERSIZE),
    "command lines (capped subprocesses)": len(CLI_RUNS),
    "plugins": len(PLUGIN_CASES),
    "Ctrl-C during fit": sum(INTERRUPT_TRIALS.values()) + 2,
    "kill -9 during save": KILLS,
    "save targets and modes": len(SAVE_TARGETS) + len(SAVE_MODES),
    "diverging training runs (configurations)": len(DIVERGENCE),
}


def test_the_campaign_size():
    """The review that filed issue 16 tried 207 hostile inputs; this suite tries more,
    and every test above asserts that each one ends cleanly."""
    total = sum(CAMPAIGN.values())
    assert total >= 350, CAMPAIGN
    assert len(PLUGIN_CASES) == len(set(PLUGIN_CASES))
    names = [c.name for c in [*hostile.CASES, *hostile.MODEL_CASES, *hostile.DATA_CASES,
                              *hostile.SPEC_CASES]]
    assert len(names) == len(set(names))


if __name__ == "__main__":  # python tests/test_hostile_campaign.py: the table
    for category, count in CAMPAIGN.items():
        print(f"{count:5d}  {category}")
    print(f"{sum(CAMPAIGN.values()):5d}  in all")
