"""Scheduler mistakes the call check says: a scheduler that is not one, or made with other betas than the model's.

Also eta= that the scheduler has no use for, set_timesteps() before a call (which the pipeline undoes), a
scheduler set where a combined pipeline does not use it, and (while the checks are on) each keyword a scheduler's
from_config drops without a word. helpers.ignored runs the per-call checks with the others, before each call.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import re

from helpers.callwarning import warn_call as _warn

# the schedulers a learner meets in diffusers' docs: where a keyword another one drops is looked up
SCHEDULERS = ("DDIMScheduler", "PNDMScheduler", "DDPMScheduler", "EulerDiscreteScheduler",
              "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
              "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "LMSDiscreteScheduler", "UniPCMultistepScheduler",
              "DEISMultistepScheduler", "LCMScheduler")
_WRAPPED = {}
# from_config passes these to the Hub, not to the scheduler
HUB_KEYWORDS = {"cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder", "proxies",
                "resume_download", "user_agent", "_from_pipeline", "_from_auto", "trust_remote_code"}
# the model's noise schedule: a scheduler that differs in any of these denoises with other noise levels than the
# model learned (timestep_spacing and the like only choose which levels to visit, and may differ)
BETAS = ("beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type", "num_train_timesteps",
         "clip_sample")
# arguments of the pipeline call that a learner may hand to a scheduler's from_config instead (which drops them)
CALL_ARGUMENTS = ("num_inference_steps", "strength", "guidance_scale", "timesteps", "sigmas", "eta", "generator",
                  "height", "width", "num_images_per_prompt", "denoising_start", "denoising_end", "guidance_rescale",
                  "negative_prompt")


def _reference_betas(pipeline) -> dict | None:
    """The betas of the scheduler the pipeline was loaded with, read once from its repo's scheduler folder."""
    cached = pipeline.__dict__.get("_tutorial_betas", False)
    if cached is not False:
        return cached
    found = None
    source = getattr(getattr(pipeline, "config", None), "_name_or_path", None)
    scheduler = getattr(pipeline, "scheduler", None)
    if isinstance(source, str) and scheduler is not None:
        try:  # offline and from the cache: the files the pipeline itself was loaded from
            config = type(scheduler).load_config(source, subfolder="scheduler", local_files_only=True)
            found = {k: config[k] for k in BETAS if k in config}
            found["_class_name"] = config.get("_class_name")
        except Exception:  # noqa: BLE001 - no folder to compare with: nothing is said
            found = None
    pipeline.__dict__["_tutorial_betas"] = found
    return found


def check_scheduler(pipeline) -> None:
    """Refuse what is not a scheduler; say once a scheduler with other betas than the model's (ch. 1–5)."""
    scheduler = getattr(pipeline, "scheduler", None)
    if isinstance(scheduler, str):  # pipeline.scheduler = "DDIM": a name, not a scheduler
        raise TypeError(f"pipeline.scheduler is the text {scheduler!r}, not a scheduler. Make one from the model's "
                        "settings: pipeline.scheduler = DDIMScheduler.from_pretrained(repo_id, subfolder='scheduler') "
                        "(from diffusers import DDIMScheduler; the same for the other schedulers).")
    if isinstance(scheduler, type):  # pipeline.scheduler = DDIMScheduler: the class, not a scheduler
        raise TypeError(f"pipeline.scheduler is the class {scheduler.__name__} itself, not a scheduler. Make one "
                        f"with the model's settings: pipeline.scheduler = {scheduler.__name__}.from_pretrained("
                        "repo_id, subfolder='scheduler').")
    if isinstance(scheduler, enum.Enum):  # KarrasDiffusionSchedulers.X: a name in diffusers' list of schedulers
        cls = scheduler.name
        raise TypeError(f"pipeline.scheduler is the enum member {type(scheduler).__name__}.{cls}, a name in "
                        f"diffusers' list of schedulers, not a scheduler. Make one with the model's settings: "
                        f"from diffusers import {cls}; pipeline.scheduler = {cls}.from_pretrained(repo_id, "
                        "subfolder='scheduler').")
    if scheduler is not None and not hasattr(scheduler, "set_timesteps"):
        raise TypeError(f"pipeline.scheduler is a {type(scheduler).__name__}, not a scheduler (it has no "
                        "set_timesteps). Make one with the model's settings: pipeline.scheduler = "
                        "DDIMScheduler.from_pretrained(repo_id, subfolder='scheduler') (or another scheduler class).")
    reference = _reference_betas(pipeline)
    if not reference or scheduler is None:
        return
    name = type(scheduler).__name__
    theirs = str(reference.get("_class_name") or "")
    if name.startswith("FlowMatch") and not theirs.startswith("FlowMatch"):
        raise TypeError(f"pipeline.scheduler is a {name}, made for flow-matching models (SD3, Flux), but this model "
                        f"was trained to predict noise with {theirs or 'a noise scheduler'}. Pick a noise scheduler: "
                        "pipeline.scheduler = EulerDiscreteScheduler.from_pretrained(repo_id, subfolder='scheduler').")
    if name.startswith("EDM") and not theirs.startswith(("EDM", "FlowMatch")):
        # EDM schedulers hand the UNet log(sigma) / 4 as its timestep and precondition its input and output
        trained = f"{theirs}'s" if theirs else "a noise scheduler's"
        raise TypeError(f"pipeline.scheduler is an {name}, made for EDM-trained models (e.g. Playground v2.5), which "
                        f"take other timesteps and scaled inputs, but this model was trained with {trained} noise "
                        "levels: the picture comes out as noise. Pick a scheduler made for it: pipeline.scheduler = "
                        + ("EulerDiscreteScheduler.from_config(pipeline.scheduler.config) (the model's betas are "
                           "still in that config)." if "beta_schedule" in scheduler.config else
                           "EulerDiscreteScheduler.from_pretrained(repo_id, subfolder='scheduler')."))
    reference = {k: v for k, v in reference.items() if k != "_class_name"}
    # only what this scheduler class has: Euler has no clip_sample, and needs none to match the repo's PNDM
    # read as the scheduler reads them: config.num_train_timesteps = 500 changes the attribute, not the dict
    now = {k: getattr(scheduler.config, k, scheduler.config[k]) for k in reference if k in scheduler.config}
    differ = [k for k in now if now[k] != reference[k]]
    if differ:
        listed = ", ".join(f"{k} {now[k]!r} instead of {reference[k]!r}" for k in differ)
        # the object's address: a second wrong scheduler is said again, not taken for the one already reported
        _warn(f"pipeline.scheduler ({name} at {id(scheduler):#x}) was not made from the model's own settings: "
              f"{listed}. The model was trained with those noise levels, so pictures come out washed out or noisy. "
              f"Make it from the model's: {name}.from_pretrained(repo_id, subfolder='scheduler'), or "
              f"{name}.from_config(scheduler.config) of the scheduler the pipeline was loaded with (its config "
              "now holds the wrong betas too, once you have swapped).")


_OWN_ATTRIBUTES: dict = {}  # scheduler class -> the config names its __init__ also keeps as attributes


def check_setting_attributes(pipeline) -> None:
    """Say a scheduler setting set as a plain attribute, which the scheduler never reads (ch. 1–5).

    `pipeline.scheduler.timestep_spacing = "trailing"` makes a new attribute; the scheduler reads its config, where
    the setting is as it was. Settings a scheduler class keeps as attributes itself (Euler's use_karras_sigmas) are
    left alone."""
    scheduler = getattr(pipeline, "scheduler", None)
    config = getattr(scheduler, "config", None)
    if config is None or not hasattr(scheduler, "set_timesteps"):
        return
    cls = type(scheduler)
    if cls not in _OWN_ATTRIBUTES:
        try:
            _OWN_ATTRIBUTES[cls] = set(vars(cls.from_config(config)))
        except Exception:  # noqa: BLE001 - a scheduler that cannot be made again: nothing to compare
            _OWN_ATTRIBUTES[cls] = None
    own = _OWN_ATTRIBUTES[cls]
    if own is None:
        return
    for key, value in vars(scheduler).items():
        if key in config and key not in own and not key.startswith("_") and value != config[key]:
            _warn(f"pipeline.scheduler.{key} = {value!r} made a plain attribute, and {cls.__name__} reads its "
                  f"settings from pipeline.scheduler.config, where {key} is still {config[key]!r}. Make the "
                  f"scheduler with the setting: pipeline.scheduler = {cls.__name__}.from_config("
                  f"pipeline.scheduler.config, {key}={value!r}).")


def check_eta(pipeline, args: dict) -> None:
    """Say once an eta= that the pipeline's scheduler has no use for (ch. 1–5)."""
    eta = args.get("eta")
    scheduler = getattr(pipeline, "scheduler", None)
    if not eta or scheduler is None or not hasattr(scheduler, "step"):
        return
    if "eta" not in inspect.signature(scheduler.step).parameters:
        _warn(f"eta={eta} has no effect with {type(scheduler).__name__}: only DDIM-style schedulers (DDIMScheduler) "
              "use it. Swap in DDIMScheduler.from_config(pipeline.scheduler.config) to try it.")


_EPOCH = [0]  # bumped each time the checks are switched off


def check_preset_timesteps(pipeline, args: dict, steps) -> None:
    """Say once a set_timesteps() before the call, which the pipeline undoes (ch. 1–5)."""
    scheduler = getattr(pipeline, "scheduler", None)
    preset = getattr(scheduler, "num_inference_steps", None)
    if not isinstance(preset, int) or args.get("timesteps") is not None or args.get("sigmas") is not None:
        return
    if preset == getattr(scheduler.config, "num_train_timesteps", None):
        return  # KDPM2, Heun and others set every training step when they are made: not the learner's doing
    left = scheduler.__dict__.get("_tutorial_timesteps_used")
    if left is None or left[1] != _EPOCH[0] or getattr(scheduler, "timesteps", None) is left[0]:
        # no checked call has used this scheduler since the checks came on (an unchecked call may have set the
        # timesteps), or they are what the last checked call left there: nothing says the learner changed them
        return
    if isinstance(steps, int) and steps != preset:
        _warn(f"pipeline.scheduler.set_timesteps({preset}) before the call is undone: the pipeline sets the "
              f"timesteps again itself, from num_inference_steps={steps}"
              + (" (its default)" if "num_inference_steps" not in args else "") + f". To run {preset} steps, "
              f"pass num_inference_steps={preset} to the call.")


def note_timesteps_used(pipeline) -> None:
    """Remember the timesteps a call left on its scheduler, to tell them from a later set_timesteps (ch. 1–5)."""
    scheduler = getattr(pipeline, "scheduler", None)
    if scheduler is not None and hasattr(scheduler, "__dict__"):
        scheduler.__dict__["_tutorial_timesteps_used"] = (getattr(scheduler, "timesteps", None), _EPOCH[0])


def forget_timesteps() -> None:
    """The checks go off: calls from now on are not seen, so no earlier record may vouch for a scheduler (ch. 1–5)."""
    _EPOCH[0] += 1


def check_combined_scheduler(pipeline) -> None:
    """A scheduler set on a Kandinsky 2.2 combined pipeline, which denoises with its decoder's (ch. 2–5)."""
    decoder = getattr(pipeline, "decoder_pipe", None)  # Kandinsky 2.2's combined pipelines
    if decoder is None:
        return
    mine, theirs = getattr(pipeline, "scheduler", None), getattr(decoder, "scheduler", None)
    before = pipeline.__dict__.get("_tutorial_schedulers")  # the pair a checked call last saw
    pipeline.__dict__["_tutorial_schedulers"] = (mine, theirs)
    # said only when pipeline.scheduler itself changed and the decoder's did not: the one that is used stayed
    if before is not None and mine is not before[0] and theirs is before[1] and mine is not theirs:
        _warn(f"pipeline.scheduler was replaced, but {type(pipeline).__name__} denoises with its decoder's "
              "scheduler, so the new one is not used. Set it there: pipeline.decoder_pipe.scheduler = "
              f"{type(mine).__name__}.from_config(pipeline.decoder_pipe.scheduler.config).")


def _scheduler_keyword_owners(key: str) -> list[str]:
    from helpers.callnames import classes_taking

    return classes_taking(key, SCHEDULERS, "__init__")


def _default_of(scheduler: str, key: str):
    import diffusers

    parameter = inspect.signature(getattr(diffusers, scheduler).__init__).parameters.get(key)
    return parameter.default if parameter is not None else inspect.Parameter.empty


def wrap_scheduler_config() -> None:
    """While the checks are on, say each keyword a scheduler's from_config drops without a word (ch. 1–5)."""
    import sys

    config_utils = sys.modules.get("diffusers.configuration_utils")
    scheduling = sys.modules.get("diffusers.schedulers.scheduling_utils")
    mixin, scheduler = getattr(config_utils, "ConfigMixin", None), getattr(scheduling, "SchedulerMixin", None)
    if mixin is None or scheduler is None or _WRAPPED:
        return
    original = mixin.__dict__["from_config"]  # a classmethod: schedulers and models share it

    def from_config(cls, config=None, return_unused_kwargs=False, **kwargs):
        takes = inspect.signature(cls.__init__).parameters if issubclass(cls, scheduler) else kwargs
        dropped = {}
        for key, value in kwargs.items():
            default = takes[key].default if issubclass(cls, scheduler) and key in takes else None
            if key == "solver_order" and isinstance(value, int) and value > 3 \
                    and cls.__name__ == "DPMSolverMultistepScheduler":  # 0.42: first, second or third order only
                _warn(f"{cls.__name__} computes orders 1 to 3, so solver_order={value} runs as 3 without a word. "
                      "Pass solver_order=2 (diffusers' advice for guided sampling) or 3.")
            if isinstance(default, bool) and isinstance(value, str):  # "False" and "no" would both read as True
                raise TypeError(f"{key}={value!r} is text, and {cls.__name__}'s {key} takes True or False; Python "
                                f"reads any non-empty text as True. Pass {key}=True or {key}=False.")
            if key in CALL_ARGUMENTS and key not in takes and issubclass(cls, scheduler):
                shown = repr(value) if isinstance(value, (int, float, str, list, tuple)) else "..."
                _warn(f"{key} is an argument of the pipeline call, not of the scheduler, so {cls.__name__}."
                      f"from_config dropped it without a word. Pass it to the call: pipeline(..., {key}={shown}).")
                continue
            owners = [] if key in takes else [n for n in _scheduler_keyword_owners(key) if n != cls.__name__]
            # a setting of other schedulers that would change something there: hub keywords (cache_dir=),
            # a default value (use_karras_sigmas=False) and another scheduler's **config spread in are not said
            if owners and value != _default_of(owners[0], key):
                dropped[key] = (value, owners)
            elif not owners and key not in takes and issubclass(cls, scheduler) and key not in HUB_KEYWORDS:
                close = difflib.get_close_matches(key, [n for n in takes if n != "self"], n=1, cutoff=0.7)
                if close:  # no scheduler has it: a misspelt setting of this one
                    _warn(f"{cls.__name__} has no {key}=, and no scheduler has, so from_config dropped it without "
                          f"a word. Did you mean {close[0]}={value!r}?")
        if len(dropped) == 1:
            (key, (value, owners)), = dropped.items()
            _warn(f"{cls.__name__} has no {key}=, so from_config dropped it without a word. It is a setting of "
                  f"{', '.join(owners[:4])}: e.g. {owners[0]}.from_config(pipeline.scheduler.config, "
                  f"{key}={value!r}).")
        try:
            return original.__func__(cls, config, return_unused_kwargs=return_unused_kwargs, **kwargs)
        except NotImplementedError as err:
            unknown = _unknown_setting(cls, kwargs, str(err))
            if unknown is None:
                raise
            raise ValueError(unknown) from err

    _WRAPPED["mixin"], _WRAPPED["original"] = mixin, original
    mixin.from_config = classmethod(from_config)


def _unknown_setting(cls, kwargs: dict, message: str) -> str | None:
    """The scheduler setting a NotImplementedError names, with the values the class's __init__ accepts."""
    for key, value in kwargs.items():
        if not isinstance(value, str) or not message.startswith(f"{value} is not implemented for"):
            continue  # only a value the learner passed, named by the message itself
        try:
            source = inspect.getsource(cls.__init__)
        except (OSError, TypeError):
            return None
        found = re.search(rf"{key} not in \[([^\]]*)\]", source)  # e.g. algorithm_type not in ["dpmsolver", ...]
        if found is None:
            return None
        accepted = re.findall(r"[\"']([^\"']+)[\"']", found.group(1))
        close = difflib.get_close_matches(value, accepted, n=1, cutoff=0.6)
        return (f"{key}={value!r} is not a value {cls.__name__} knows (diffusers says 'not implemented', but it is "
                f"the value that is unknown). It takes {', '.join(map(repr, accepted))}"
                + (f"; did you mean {key}={close[0]!r}?" if close else "."))
    return None


def unwrap_scheduler_config() -> None:
    """Give schedulers diffusers' own from_config back (ch. 1–5)."""
    mixin, original = _WRAPPED.pop("mixin", None), _WRAPPED.pop("original", None)
    if mixin is not None and original is not None:
        mixin.from_config = original
