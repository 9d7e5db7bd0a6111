"""Test session setup: choose the weights once, before anything imports huggingface_hub.

CI and laptops run on the offline twins (the default here). A GPU runner sets TUTORIAL_MODELS=hub.
"""

import os

os.environ.setdefault("TUTORIAL_MODELS", "twins")

from helpers import use_models  # noqa: E402

MODE = use_models()
