"""Test session setup: choose the weights once, before anything imports huggingface_hub.

CI and laptops run on the offline twins (the default here). A GPU runner sets TUTORIAL_MODELS=hub.
"""

import os

import pytest

os.environ.setdefault("TUTORIAL_MODELS", "twins")
# The run is split over one worker per core (pytest-xdist), and notebooks run in kernels beside them. Threads that
# wait on a busy core must sleep, not spin: spinning OpenMP threads in oversubscribed processes cost a 2-core machine
# more than twice the time. (Kernels inherit this; it changes no result, only how idle threads wait.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)  # each worker already has a core of its own; notebook kernels keep the default


def checked_pipes(**more):
    """Yield SD 1.5's twin as "t2i" and "img2img" plus `more` (name -> function of the t2i pipeline), checks on.

    For a module fixture: `yield from checked_pipes(refiner=lambda t2i: ...)`; the call checks go off after it.
    """
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    from helpers import explain
    from helpers.loading import load_args

    sd = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    explain.enable()
    try:
        t2i = StableDiffusionPipeline.from_pretrained(sd, **load_args(sd))
        found = {"t2i": t2i, "img2img": StableDiffusionImg2ImgPipeline(**t2i.components)}
        found.update({name: make(t2i) for name, make in more.items()})
        for pipe in found.values():
            pipe.set_progress_bar_config(disable=True)
        yield found
    finally:
        explain.disable()


def raised(fn) -> Exception:
    """The exception `fn()` raises; a test fails if it raises none."""
    try:
        fn()
    except Exception as err:  # noqa: BLE001
        return err
    raise AssertionError("it did not fail")


def run_cell(source: str, names: dict, number: int = 1, tag: str = "test"):
    """Run `source` as a notebook cell does: its lines known to linecache, so a failing line can be read."""
    import linecache

    filename = f"<ipython-input-{number}-{tag}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), names)  # noqa: S102 - the test's own cell text


def noted(fn) -> tuple[str, str]:
    """The note (what it means, how to fix it) under the error `fn()` raises, or ("", "") for none."""
    from helpers.notes import note_for

    return note_for(raised(fn)) or ("", "")


def said(fn, only_call_warnings: bool = False) -> str:
    """The warnings `fn()` gives, joined into one text."""
    import warnings

    from helpers.callwarning import CallWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return " ".join(str(w.message) for w in caught
                    if not only_call_warnings or issubclass(w.category, CallWarning))


@pytest.fixture
def painters_of_this_test_only():
    """Painters left open by other tests would be 'made before' here: close them; keep `earlier` as it was."""
    import helpers.painter
    from helpers import painter_kept

    for old in painter_kept.open_painters():
        old.close()
    before = list(helpers.painter.earlier)
    helpers.painter.earlier.clear()
    yield
    helpers.painter.earlier[:] = before


@pytest.fixture(scope="module")
def t2i():
    """The SD 1.5 text-to-image twin with the call checks on, one per test module (the checks go off after it)."""
    from diffusers import StableDiffusionPipeline

    from helpers import explain
    from helpers.loading import load_args

    sd = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    explain.enable()
    pipe = StableDiffusionPipeline.from_pretrained(sd, **load_args(sd))
    pipe.set_progress_bar_config(disable=True)
    yield pipe
    explain.disable()


def pytest_addoption(parser):
    parser.addoption("--gpu", action="store_true",
                     help="also run tests/gpu: CUDA-only checks (fp16, offload, xformers, compile) for a GPU machine")
    parser.addoption("--full-size", action="store_true",
                     help="also run tests/full_size: build the full-size twins (8 GB of disk) and benchmark one")
    parser.addoption("--hosted", action="store_true",
                     help="also run tests/hosted: chapter 1 on an emulated Colab kernel (Python 3.13, torch 2.11, "
                          "ipywidgets 7.7.1; a 5 GB image downloaded once, then about three minutes)")
    parser.addoption("--retrain-twins", action="store_true",
                     help="also run tests/retrain: retrain every twin UNet and the depth twins (about an hour), "
                          "and check the targets")


# The slowest modules and notebooks, slowest first (each 8 to 30 s on 2 cores with 2 workers; those after test_panel
# 3 to 8 s), except that the browser test (a JupyterLab, a Chromium and a kernel) starts after the first two: started
# beside a notebook's kernel it made both a third slower. Sent last, the browser test alone once kept one worker busy
# for 48 s after the other had finished, and the twins' tests (12 s) for 10 s. Modules not named here (each under
# 3 s) follow in name order.
SLOWEST_FIRST = ("tests/test_cuda_path.py", "notebooks/01_", "notebooks/05_", "tests/test_browser.py",
                 "notebooks/04_", "notebooks/03_", "tests/test_sweep.py", "tests/test_bench.py", "notebooks/02_",
                 "tests/test_run.py", "tests/test_twins.py", "tests/test_explain.py", "tests/test_chain.py",
                 "tests/test_panel.py", "tests/test_teaching_twins.py", "tests/test_cache_check.py",
                 "tests/test_modes.py", "tests/test_probe_slips9.py", "tests/test_twin_words.py",
                 "tests/test_errors.py", "tests/test_nbval_outputs.py", "tests/test_controlling.py",
                 "tests/test_learner_slips.py", "tests/test_gpu_check.py", "tests/test_probe_slips.py",
                 "tests/test_note_causes.py", "tests/test_ignored.py", "tests/test_t4_check.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        found = [i for i, start in enumerate(SLOWEST_FIRST) if item.nodeid.startswith(start)]
        return found[0] if found else len(SLOWEST_FIRST)

    items.sort(key=rank)  # a stable sort: the cells of a notebook keep their order


def pytest_collection_finish(session):
    # Everything imported and collected so far (torch, diffusers, transformers, the test modules: about half a
    # million objects) lives until the end. Frozen, it is left out of every later garbage collection, and the
    # collector runs less often: the tests' free_memory() calls and model loads once made 120 full collections of
    # 0.4 s each (48 s of 2 workers' time); now about 60 of 0.14 s. Only the objects frozen here are never freed.
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)  # Python's default is (700, 10, 10): a young collection every 700 objects


def pytest_sessionfinish(session, exitstatus):
    # Each IPython shell a test made runs its exit work when the worker ends: a reset whose gc.collect() walks the
    # whole heap, 0.3 s per shell, one after another (about 3 s of a 2-core run's last seconds). Their history and
    # temporary files are the tests', not the learner's: end the history, remove the files, and skip the reset.
    import atexit
    import gc
    import shutil
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython.core.interactiveshell import InteractiveShell

    for shell in [o for o in gc.get_objects() if isinstance(o, InteractiveShell)]:
        atexit.unregister(shell.atexit_operations)
        try:
            shell.history_manager.end_session()
        except Exception:  # noqa: BLE001, S110 - a history that cannot be closed costs nothing at exit
            pass
        for path in shell.tempfiles:
            path.unlink(missing_ok=True)
        for folder in shell.tempdirs:
            shutil.rmtree(folder, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    # tests/gpu is a separate suite for GPU machines (tools/gpu_check.sh): asked for with --gpu, never implied
    if collection_path.parent.name == "tests":
        if collection_path.name == "gpu":
            return not config.getoption("--gpu")
        if collection_path.name == "retrain":  # opt-in as well: it trains for half an hour
            return not config.getoption("--retrain-twins")
        if collection_path.name == "full_size":  # opt-in as well: gigabytes of disk and a minute or more
            return not config.getoption("--full-size")
        if collection_path.name == "hosted":  # opt-in as well: a 5 GB image and about three minutes
            return not config.getoption("--hosted")
    return None


def pytest_configure(config):
    # In a distributed run each worker chooses the weights (before its tests import huggingface_hub); the process
    # that only hands out tests loads nothing, which spares it the import of diffusers.
    if not (config.getoption("numprocesses", None) and not hasattr(config, "workerinput")):
        from helpers import use_models

        use_models()
    check_gpu_option(config)


def check_gpu_option(config):
    """--gpu needs a CUDA device: say so at once instead of failing every CUDA test."""
    if config.getoption("--gpu"):
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError("--gpu runs the CUDA-only tests, but torch sees no CUDA device here. "
                                    "Run them on a GPU machine (tools/gpu_check.sh), or leave out --gpu.")
