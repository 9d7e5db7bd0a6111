"""The learner's package: only what the chapter notebooks import. Maintainer tools live in tools/.

Only the plumbing lives here (which weights, which device, images, grids, fingerprints, speed setup);
every `from_pretrained` and every pipeline call stays in the notebooks. Importing this package is
cheap and imports neither diffusers nor huggingface_hub, so `use_models()` can still pick the cache.
"""

from helpers.explain import explain_errors
from helpers.models import use_models
from helpers.modes import active_mode

__all__ = ["active_mode", "explain_errors", "use_models"]
__version__ = "0.1.0"
