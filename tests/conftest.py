"""Test session setup: choose the weights once, before anything imports huggingface_hub.

CI and laptops run on the offline twins (the default here). A GPU runner sets TUTORIAL_MODELS=hub.
"""

import os

import pytest

os.environ.setdefault("TUTORIAL_MODELS", "twins")

from helpers import use_models  # noqa: E402

MODE = use_models()


def pytest_addoption(parser):
    parser.addoption("--gpu", action="store_true",
                     help="also run tests/gpu: CUDA-only checks (fp16, offload, xformers, compile) for a GPU machine")
    parser.addoption("--retrain-twins", action="store_true",
                     help="also run tests/retrain: retrain every twin UNet (about 45 min) and check the targets")


def pytest_ignore_collect(collection_path, config):
    # tests/gpu is a separate suite for GPU machines (scripts/gpu_check.sh): asked for with --gpu, never implied
    if collection_path.parent.name == "tests":
        if collection_path.name == "gpu":
            return not config.getoption("--gpu")
        if collection_path.name == "retrain":  # opt-in as well: it trains for half an hour
            return not config.getoption("--retrain-twins")
    return None


def pytest_configure(config):
    if config.getoption("--gpu"):
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError("--gpu runs the CUDA-only tests, but torch sees no CUDA device here. "
                                    "Run them on a GPU machine (scripts/gpu_check.sh), or leave out --gpu.")
