"""Long pipeline calls never run in silence: time the first denoising step, then estimate and show progress."""

from __future__ import annotations

import os
import sys
import time

# the modules a pipeline calls once per step, in the order they run (Kandinsky's combined pipelines: prior first)
DENOISERS = (("prior_prior", "prior_num_inference_steps"), ("prior", "num_inference_steps"),
             ("unet", "num_inference_steps"), ("transformer", "num_inference_steps"))


def threshold() -> float:
    """Seconds after which a call shows an estimate and progress (TUTORIAL_PROGRESS_AFTER, default 60) (ch. 1–5)."""
    raw = os.environ.get("TUTORIAL_PROGRESS_AFTER", "").strip()
    if not raw:
        return 60.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):  # also NaN
        raise ValueError(f"TUTORIAL_PROGRESS_AFTER={raw!r} is not a number of seconds; set it like "
                         "TUTORIAL_PROGRESS_AFTER=60 (0 shows progress for every call), or unset it for 60.")
    return seconds


def planned_steps(args: dict, name: str = "num_inference_steps") -> int | None:
    """Denoising steps a call will run, from its arguments (defaults included), before it starts (ch. 1–5)."""
    steps = args.get(name)
    if not isinstance(steps, int):
        return None
    strength = args.get("strength") if name == "num_inference_steps" else None
    return max(1, int(steps * strength)) if isinstance(strength, (int, float)) else steps


def _compiled(module) -> bool:
    # a hook inside a torch.compile'd graph breaks fullgraph compiles and forces a recompile on every call
    return getattr(module, "_compiled_call_impl", None) is not None or type(module).__name__ == "OptimizedModule"


class _Phase:
    """One denoiser's run: its step count, its clock, its progress bar."""

    def __init__(self, watch, name: str, expected: int | None):
        self.watch, self.name, self.expected = watch, name, expected
        self.calls, self.started, self.first_done, self.bar = 0, None, None, None

    def pre(self, module, args):
        if self.started is None:
            self.started = time.perf_counter()

    def post(self, module, args, output):
        self.calls += 1
        now = time.perf_counter()
        if self.calls == 1 and self.expected and self.name in ("unet", "transformer"):
            # set by the pipeline before its loop: this call's count (img2img's strength and PNDM's extra step in)
            self.expected = getattr(self.watch.pipeline, "_num_timesteps", None) or self.expected
            if self.bar is not None and self.bar.total != self.expected:  # a bar shown before the call: its end
                self.bar.total = self.expected
                self.bar.refresh()
        if self.bar is None and self.expected:
            # The first step carries one-time costs (memory first touched, kernels chosen), so the estimate is timed
            # from the second; only a first step that is long even for that is said at once.
            if self.calls == 1:
                self.first_done = now
                first = now - self.started
                if first * self.expected > 4 * threshold() or (self.expected == 1 and first > threshold()):
                    self._announce(first, "timed from its first step")
            elif self.calls == 2:
                second = now - self.first_done
                if second * self.expected > threshold():
                    self._announce(second, "timed from its second step")
                    self.bar.update(1)  # the first step, before the bar
        if self.bar is not None:
            self.bar.update(1)

    def _announce(self, per_step: float, timed: str):
        part = "prior" if self.name.startswith("prior") else ""
        self.bar = self.watch.announce(per_step, self.expected, part, timed)


class Watch:
    """Time each forward pass of a pipeline's denoisers; after the first, estimate the rest and show progress."""

    def __init__(self, pipeline, args: dict, out=None):
        self.pipeline = pipeline
        self.out = out or sys.stderr
        self.args = args
        self.phases: list[_Phase] = []
        self.hooks = []
        self.started = None
        self.expected = planned_steps(args)
        rate = getattr(pipeline, "_tutorial_seconds_per_step", None)
        self.bar = None
        if rate and self.expected and rate * self.expected > threshold():  # known from an earlier call: say it first
            self.bar = self.announce(rate, self.expected, "", "timed from its last call")

    def __enter__(self):
        self.started = time.perf_counter()
        for attribute, steps_name in DENOISERS:
            module = getattr(self.pipeline, attribute, None)
            if not hasattr(module, "register_forward_pre_hook") or _compiled(module):
                continue
            if attribute == "prior" and hasattr(self.pipeline, "unet"):
                continue  # a prior pipeline's own prior is the main denoiser only where there is no UNet
            phase = _Phase(self, attribute, planned_steps(self.args, steps_name))
            self.phases.append(phase)
            self.hooks.append(module.register_forward_pre_hook(phase.pre))
            self.hooks.append(module.register_forward_hook(phase.post))
        if self.bar is not None and self.phases:  # estimated before the call: the main denoiser moves its bar
            self.phases[-1].bar, self.bar = self.bar, None
        return self

    def __exit__(self, *exc):
        for hook in self.hooks:
            hook.remove()
        for bar in [self.bar, *(p.bar for p in self.phases)]:
            if bar is not None:
                bar.close()
        if exc[0] is None and self.expected:  # for the next call's estimate
            self.pipeline._tutorial_seconds_per_step = steady_rate(self.phases, time.perf_counter(), self.started,
                                                                   self.expected)
        return False

    def announce(self, per_step: float, total: int, part: str, timed: str):
        """Print the estimate and return a progress bar over `total` steps."""
        from tqdm import tqdm

        what = f"its {part} " if part else ""
        print(f"This call will take about {_duration(per_step * total)} ({what}{total} steps × {per_step:.2f} s, "
              f"{timed}). Fewer num_inference_steps or a smaller picture make it quicker; Interrupt (■) stops it.",
              file=self.out, flush=True)
        return tqdm(total=total, desc=type(self.pipeline).__name__, unit="step", file=self.out)


def steady_rate(phases, now: float, started: float, expected: int) -> float:
    """Seconds per step for the next call's estimate: from the second step to the end (ch. 1–5).

    The first step of a call carries one-time costs (a first call's warm-up can take longer than all the rest),
    so it is left out; the decoding after the loop stays in, spread over the steps."""
    main = next((p for p in reversed(phases) if p.calls >= 2 and p.first_done is not None), None)
    if main is None:
        return (now - started) / expected
    return (now - main.first_done) / (main.calls - 1)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
