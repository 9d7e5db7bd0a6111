"""Errors explained in the cell: a note under known errors, and a check of every pipeline call before it runs.

Each chapter turns it on with `explain_errors()` (or `%load_ext helpers.explain`). Two things, both switched off by
`explain_errors(False)` (or `%unload_ext helpers.explain`):

* Under the traceback of a known error (from diffusers, torch, PIL or the Hub) it adds two lines: what the error
  means and how to fix it (helpers.notes). The traceback itself is unchanged.
* Every diffusers pipeline's `__call__` is wrapped so that its arguments are checked before it runs
  (helpers.callcheck): a clear error for values that cannot work, a warning where diffusers would change the
  input without a word (a resize, a mode conversion, a prompt cut at 77 tokens), and a progress bar with an
  estimate for a call that will take more than a minute (helpers.longrun). The call in the cell stays plain
  diffusers; the pipeline is the same object, only its class's `__call__` gains the checks.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import warnings

_STATE = {"enabled": False, "wrapped": {}, "hooked": False, "showwarning": None}
_LOCAL = threading.local()  # nested pipeline calls (Kandinsky's combined pipelines) are checked once, at the top


def _depth() -> int:
    return getattr(_LOCAL, "depth", 0)


def _checked(original):
    @functools.wraps(original)
    def __call__(self, *args, **kwargs):
        if not _STATE["enabled"] or _depth() > 0:
            return original(self, *args, **kwargs)
        from helpers.pipelock import pipeline_lock

        __tracebackhide__ = True
        with pipeline_lock(self):  # one run at a time, its checks included: another run's timesteps are not ours
            return _run_checked(original, self, args, kwargs)

    __call__._tutorial_original = original
    return __call__


def _run_checked(original, self, args, kwargs):
    """Check a pipeline call, run it, and keep what its output and failure need for later checks and notes."""
    from helpers.callcheck import check_pipeline_call
    from helpers.callnames import bind_hint, check_names
    from helpers.cellpipes import check_cell_pipeline
    from helpers.compelcheck import wrap_compel
    from helpers.longrun import Watch
    from helpers.mixups import quiet_wrong_warnings

    wrap_compel()  # in a script there is no cell hook: compel imported since is checked from here on

    __tracebackhide__ = True  # IPython: the traceback ends in the learner's cell, where the fix goes
    signature = inspect.signature(original)
    try:
        check_names(self, signature, kwargs)
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:
            if args and isinstance(args[0], str) and "prompt" not in signature.parameters:
                check_names(self, signature, {"prompt": args[0]})  # says what this pipeline takes instead
            raise TypeError(f"{type(self).__name__}(): {err}. {bind_hint(self, err)}") from None
        replaced = check_pipeline_call(self, signature, bound.arguments)
        check_cell_pipeline(self)  # a cell run again after its pipeline's name was given to another model
    except (TypeError, ValueError, RuntimeError) as problem_in_this_call:  # the checker's frames would bury it
        raise problem_in_this_call.with_traceback(None) from None
    for name, value in replaced.items():
        bound.arguments[name] = value
    _LOCAL.depth = _depth() + 1
    try:
        defaults = {n: p.default for n, p in signature.parameters.items() if p.default is not p.empty}
        with Watch(self, {**defaults, **bound.arguments}), \
                quiet_wrong_warnings(bound.arguments):  # diffusers' notes that misfire for this call left out
            output = original(*bound.args, **bound.kwargs)
    except Exception as err:
        from helpers.callfacts import remember

        remember(err, self, bound.arguments)  # what the note under it may confirm its cause from
        raise
    finally:
        from helpers.schedulercheck import note_timesteps_used

        _LOCAL.depth -= 1
        note_timesteps_used(self)  # failed or not, the call set them: a later set_timesteps is the learner's
    from helpers.callcheck import note_generator_use

    note_generator_use(bound.arguments.get("generator"))
    if bound.arguments.get("output_type") == "latent":
        _note_latent_space(self, output, bound.arguments.get("denoising_end"))
    return output


def _note_latent_space(pipeline, output, denoising_end=None) -> None:
    """Latents remember where they came from, and whether their run stopped early, for the next pipeline (ch. 3)."""
    import torch

    from helpers.chain import latent_space, mark_latents, wrap_vae_decode

    wrap_vae_decode()  # by now diffusers has imported AutoencoderKL, whose decode may get these latents next

    images = getattr(output, "images", None)
    if isinstance(images, torch.Tensor):
        try:
            mark_latents(images, latent_space(pipeline))
            images._tutorial_denoising_end = denoising_end  # None: a finished run, with no noise left in it
        except TypeError:  # a pipeline with no VAE: nothing to compare later
            pass


def _wrap(cls) -> None:
    original = cls.__dict__.get("__call__")
    if original is None or hasattr(original, "_tutorial_original") or cls in _STATE["wrapped"]:
        return
    _STATE["wrapped"][cls] = original
    cls.__call__ = _checked(original)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def wrap_pipelines() -> int:
    """Wrap `__call__` of every diffusers pipeline class imported so far and of those imported later (every chapter)."""
    from helpers.compelcheck import wrap_compel

    wrap_compel()  # compel's prompts too (chapter 4), once compel has been imported
    if "diffusers" not in sys.modules:
        return 0  # not imported yet: importing it here would fix the hub cache before use_models() chooses it
    from diffusers.pipelines.pipeline_utils import DiffusionPipeline as base

    from helpers.chain import wrap_vae_decode
    from helpers.gridcheck import wrap_make_image_grid
    from helpers.overlaycheck import wrap_apply_overlay
    from helpers.schedulercheck import wrap_scheduler_config

    wrap_apply_overlay()  # apply_overlay's pictures in another order keep the wrong part
    wrap_scheduler_config()  # from_config's dropped keywords (use_karras_sigmas= on DDIM) are said
    wrap_vae_decode()  # the pipeline's latents decoded without dividing by scaling_factor are said
    wrap_make_image_grid()  # diffusers' grid of pictures of different sizes crops them: said
    for cls in list(_subclasses(base)):
        _wrap(cls)
    if not _STATE["hooked"]:  # classes that diffusers imports lazily later, e.g. inside from_pretrained
        previous = base.__dict__.get("__init_subclass__")

        def hook(cls, **kw):
            if previous is not None:
                previous.__func__(cls, **kw)
            else:
                super(base, cls).__init_subclass__(**kw)
            if _STATE["enabled"]:
                _wrap(cls)

        base.__init_subclass__ = classmethod(hook)
        _STATE["hooked"] = True
    return len(_STATE["wrapped"])


def unwrap_pipelines() -> None:
    """Give every wrapped pipeline class its own `__call__` back (every chapter)."""
    from helpers.compelcheck import unwrap_compel
    from helpers.schedulercheck import unwrap_scheduler_config

    unwrap_scheduler_config()
    from helpers.chain import unwrap_vae_decode
    from helpers.gridcheck import unwrap_make_image_grid
    from helpers.overlaycheck import unwrap_apply_overlay

    unwrap_vae_decode()
    unwrap_make_image_grid()
    unwrap_apply_overlay()
    for cls, original in _STATE["wrapped"].items():
        cls.__call__ = original
    _STATE["wrapped"].clear()
    unwrap_compel()


def _show_call_warning(message, category, filename, lineno, file=None, line=None):
    from helpers.checks import CallWarning

    if issubclass(category, CallWarning):  # one clean line: no file name or source line, which change every run
        print(f"CallWarning: {message}", file=sys.stderr)
    else:
        _STATE["showwarning"](message, category, filename, lineno, file, line)


def _custom_exc(shell, etype, value, tb, tb_offset=None):
    from helpers.notes import format_note

    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # %debug and %tb read these
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    try:
        note = format_note(value)
    except Exception:  # noqa: BLE001 - IPython would unregister this handler and turn every note off
        note = None
    if note:
        stb = [*stb, note]
    shell._showtraceback(etype, value, stb)
    return stb


def wrap_if_enabled() -> None:
    """Wrap pipeline classes imported since explain_errors() ran, if it is on: for scripts (every chapter).

    explain_errors() before `import diffusers` cannot wrap anything yet; load_args, fit_to_machine and the panel
    call this, so the checks are on by the time a pipeline runs, in a notebook or a plain script alike.
    """
    if _STATE["enabled"]:
        wrap_pipelines()


def enable(shell=None) -> None:
    """Switch the notes and call checks on; in IPython also after every cell's imports (every chapter)."""
    from helpers.checks import CallWarning

    _STATE["enabled"] = True
    wrap_pipelines()
    if _STATE["showwarning"] is None:
        _STATE["showwarning"] = warnings.showwarning
        warnings.showwarning = _show_call_warning
    warnings.filterwarnings("always", category=CallWarning)  # the same mistake made twice is reported twice
    if shell is not None:
        shell.set_custom_exc((Exception,), _custom_exc)
        for event, hook in (("pre_run_cell", _pre_run_cell), ("post_run_cell", _post_run_cell)):
            if hook not in shell.events.callbacks[event]:  # turning it on twice adds it once
                shell.events.register(event, hook)


def disable(shell=None) -> None:
    """Switch the notes and call checks off and restore diffusers' own `__call__` (every chapter)."""
    from helpers.schedulercheck import forget_timesteps

    _STATE["enabled"] = False
    unwrap_pipelines()
    forget_timesteps()  # calls made while off go unseen
    if _STATE["showwarning"] is not None:
        warnings.showwarning = _STATE["showwarning"]
        _STATE["showwarning"] = None
    if shell is not None:
        shell.set_custom_exc((), None)
        for event, hook in (("pre_run_cell", _pre_run_cell), ("post_run_cell", _post_run_cell)):
            try:
                shell.events.unregister(event, hook)
            except ValueError:
                pass


def _pre_run_cell(info=None, *_):
    wrap_pipelines()
    if _STATE["enabled"]:
        from IPython import get_ipython

        from helpers.cellcheck import check_cell
        from helpers.cellpipes import enter_cell

        shell = get_ipython()
        names, raw = (shell.user_ns if shell is not None else {}), getattr(info, "raw_cell", None)
        for check in (enter_cell, check_cell):  # the pipelines the cell names, then its text
            try:
                check(raw, names)
            except Exception:  # noqa: BLE001, PERF203 - a check of the cell's text must never stop the cell
                pass


def _post_run_cell(result=None, *_):
    from helpers.cellpipes import leave_cell

    leave_cell()
    if _STATE["enabled"]:  # after the cell: a function it redefined that a panel made earlier still calls
        from IPython import get_ipython

        from helpers.panel_encode import warn_stale_encode

        try:
            shell = get_ipython()
            warn_stale_encode(shell.user_ns if shell is not None else {})
        except Exception:  # noqa: BLE001 - a check after the cell must never add an error of its own
            pass


def explain_errors(on: bool = True) -> None:
    """Notes under known errors, checks before every pipeline call; explain_errors(False): off (every chapter)."""
    if not isinstance(on, bool):  # explain_errors("off") is truthy: it would switch them on
        raise TypeError(f"on must be True or False, got {on!r}: explain_errors() turns the checks on, "
                        "explain_errors(False) turns them off.")
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    (enable if on else disable)(shell)


def load_ipython_extension(shell) -> None:
    """`%load_ext helpers.explain` (every chapter)."""
    enable(shell)
    print("helpers.explain is on: errors get a note on how to fix them, and pipeline calls are checked first "
          "(%unload_ext helpers.explain turns it off).")


def unload_ipython_extension(shell) -> None:
    """`%unload_ext helpers.explain` (every chapter)."""
    disable(shell)
    print("helpers.explain is off: plain tracebacks, and pipeline calls run unchecked.")
