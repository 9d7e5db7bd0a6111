"""Watch the denoising loop: a small picture of every step, as a `callback_on_step_end` for any SD-family pipeline.

At each step the UNet predicts the noise in the noisy latents x_t. From that prediction and the scheduler's
`alphas_cumprod` at the step's timestep, the clean latents it points at follow in one line,
x_0 = (x_t - sqrt(1 - a_t) * noise) / sqrt(a_t) (for a v-predicting UNet, x_0 = sqrt(a_t) * x_t - sqrt(1 - a_t) * v),
which is what DDIM's and Euler's `step()` return as `pred_original_sample`. PNDM, SD 1.5's default scheduler, returns
no such thing, and `callback_on_step_end` sees only the latents after the step, so a forward hook on the UNet keeps
the step's input and prediction (guided as the pipeline guides them) for the callback to read.

Each frame is decoded cheaply, by the decoder helpers.preview_decode picks for the pipeline.
"""

from __future__ import annotations

import inspect
import io
import numbers
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from helpers.i18n import _
from helpers.preview_decode import preview_decoder, tiny_decoder, to_picture

VIEWS = ("estimate", "noisy")


@dataclass
class Frame:
    """One step of a run: the estimate of the final picture, the noisy picture, and where in the loop it was.

    A frame keeps its two small latents and decodes each picture the first time it is looked at, so a run pays
    for the pictures shown, not for every view of every step.
    """

    def __getattr__(self, name):
        if name in ("save", "show", "resize", "convert", "size", "crop", "width", "height", "mode"):
            raise AttributeError(f"a step preview Frame holds two pictures, not one: frame.estimate (the final "
                                 f"picture as it looks at this step) and frame.noisy; e.g. frame.estimate.{name}")
        raise AttributeError(f"'Frame' object has no attribute {name!r}")

    latents: dict  # view name -> small latents (1, C, h, w) on the CPU
    step: int  # 0: the start, before the first step; then 1, 2, ... one per UNet call
    timestep: float
    caption: str
    decode: object = field(repr=False, default=None)
    size: int = 160
    _pictures: dict = field(default_factory=dict, repr=False)

    def view(self, name: str) -> Image.Image:
        """The frame's picture for `name`: "estimate" or "noisy" (ch. 1–5)."""
        if name not in VIEWS:
            raise ValueError(f"view={name!r}: a frame has the views {', '.join(VIEWS)}.")
        if name not in self._pictures:
            import torch

            with torch.no_grad():
                self._pictures[name] = to_picture(self.decode(self.latents[name]).cpu(), self.size)
        return self._pictures[name]

    def __repr__(self) -> str:
        return f"Frame(step={self.step}, timestep={self.timestep:g}, caption={self.caption!r})"

    def _repr_png_(self) -> bytes:
        """Shown as its estimate in a notebook (ch. 1–5)."""
        buffer = io.BytesIO()
        self.estimate.save(buffer, format="PNG")
        return buffer.getvalue()

    @property
    def estimate(self) -> Image.Image:
        """The estimate of the final picture at this step (ch. 1–5)."""
        return self.view("estimate")

    @property
    def noisy(self) -> Image.Image:
        """The noisy picture the step started from (ch. 1–5)."""
        return self.view("noisy")


class StepPreview:
    """A `callback_on_step_end` that keeps a small picture of every step of a run (ch. 1–5).

    Pass it to the call: `pipeline(..., callback_on_step_end=preview)`. Afterwards `preview.frames[0]` is the start
    (pure noise, or for img2img and inpainting the start picture noised as far as `strength` says) and each later
    frame the estimate after a step; `frame.step` says which (past the cap they are no longer one apart). A new call
    starts new frames. `size` bounds each picture's side; past `cap` frames every
    other frame is dropped, so memory stays bounded and the whole run is still covered. `decoder=` takes an
    AutoencoderTiny of your own; by default the family's tiny autoencoder is loaded (see preview_decoder).
    """

    def __getitem__(self, index):
        raise TypeError(f"a StepPreview is the callback, not its frames: preview.frames[{index!r}] is one step, and "
                        "preview.timeline() picks a few for a grid.")

    def __init__(self, pipeline, *, size: int = 160, cap: int = 60, on_frame=None, decoder=None, **unknown):
        if unknown:  # every=2, steps=5: the ways to have fewer frames are cap= and timeline(steps=)
            raise TypeError(f"StepPreview has no {next(iter(unknown))}=; it takes size= (pixels per frame), cap= "
                            "(the most frames kept: past it, every other step is dropped, evenly), on_frame= and "
                            "decoder=. For fewer frames pass cap=, e.g. cap=10; to show a few of them, "
                            "preview.timeline(steps=5).")
        if isinstance(size, bool) or not isinstance(size, int) or size < 16:
            raise ValueError(f"size={size!r}: the side of a preview picture in pixels, a whole number of at least 16 "
                             "(160 is usual).")
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 2:
            raise ValueError(f"cap={cap!r}: how many frames a run keeps, a whole number of at least 2 (60 is usual).")
        if not (hasattr(pipeline, "unet") and hasattr(pipeline, "scheduler")):
            raise TypeError(f"StepPreview takes the pipeline, and got a {type(pipeline).__name__}: pass the pipeline "
                            "the call goes to, StepPreview(pipeline), not one of its parts.")
        if decoder is not None and type(decoder).__name__ != "AutoencoderTiny":
            raise TypeError(f"decoder= takes a tiny autoencoder (AutoencoderTiny), got {type(decoder).__name__}: "
                            "AutoencoderTiny.from_pretrained('madebyollin/taesd') for SD 1.x, 'madebyollin/taesdxl' "
                            "for SDXL; leave decoder= out to get the family's one (the pipeline's own VAE is the "
                            "slow, exact decoder the finished picture gets).")
        if on_frame is not None:
            try:
                inspect.signature(on_frame).bind(None)
            except (TypeError, ValueError):
                raise TypeError("on_frame= is called with each new Frame: give it one parameter, "
                                "e.g. on_frame=lambda frame: print(frame.caption).") from None
        self.pipeline, self.size, self.cap, self.on_frame = pipeline, size, cap, on_frame
        self.frames: list[Frame] = []
        self.thinned = False  # True once frames were dropped to stay under the cap
        if decoder is not None:  # an AutoencoderTiny of the learner's own choosing
            self.decode, self.note = tiny_decoder(decoder), _("preview decoded by the tiny autoencoder passed in")
        else:
            self.decode, self.note = preview_decoder(pipeline)
        self._seen = None  # (x_t, prediction, timestep) of the latest UNet call, as the UNet gave them
        self._stride = 1  # past the cap, only every stride-th step is kept
        self._hook = None
        self.attach()

    def attach(self) -> None:
        """Put the hook on the UNet (done when made; again after close()) (ch. 1–5)."""
        if self.decode is not None and self._hook is None:
            self._hook = self.pipeline.unet.register_forward_hook(self._keep, with_kwargs=True)

    # ------------------------------------------------------------------ the loop

    def _keep(self, module, args, kwargs, output) -> None:
        """UNet forward hook: keep the step's noisy latents, prediction and timestep as they are."""
        sample = args[0] if args else kwargs.get("sample")
        timestep = args[1] if len(args) > 1 else kwargs.get("timestep")
        prediction = output[0] if isinstance(output, tuple) else output.sample
        self._seen = (sample.detach(), prediction.detach(), timestep)

    def _guided(self, pipe):
        """The first picture's noisy latents and noise prediction, guided as the calling pipeline guides them."""
        sample, prediction, _t = self._seen
        channels = self.pipeline.vae.config.latent_channels
        if getattr(pipe, "do_classifier_free_guidance", False) and prediction.shape[0] % 2 == 0:
            unguided, text = prediction.chunk(2)  # diffusers puts the unconditional half first
            prediction = unguided + pipe.guidance_scale * (text - unguided)
            if getattr(pipe, "guidance_rescale", 0) > 0:  # SD and SDXL rescale after guiding, when asked to
                from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

                prediction = rescale_noise_cfg(prediction, text, guidance_rescale=pipe.guidance_rescale)
            sample = sample.chunk(2)[0]
        return sample[:1, :channels], prediction[:1, :channels]  # one picture: the call's first

    def __call__(self, pipe, step, timestep, callback_kwargs):
        """Make the frame of the step that just ran (diffusers calls this after each step)."""
        if getattr(pipe, "unet", None) is not getattr(self.pipeline, "unet", None):
            raise TypeError(f"this StepPreview was made for another pipeline ({type(self.pipeline).__name__}) and "
                            f"is called by {type(pipe).__name__}: make one for the pipeline you call, "
                            "StepPreview(pipeline).")
        if self._seen is None:
            return callback_kwargs
        noisy, prediction = self._guided(pipe)
        t = self._seen[2]
        if step == 0:  # a new run: the first step's input is the start the loop denoises from
            self.frames, self.thinned, self._stride = [], False, 1
            self._add(noisy, noisy, 0, self._start_caption())
        self._add(self._estimate(noisy, prediction, t), noisy, step + 1,
                  _("step {step}/{steps} · timestep {t}").format(step=step + 1, steps=self._calls(), t=_t(t)))
        return callback_kwargs

    def _estimate(self, noisy, prediction, timestep):
        """The clean latents the step's prediction points at (x_0), from alphas_cumprod at its timestep."""
        scheduler = self.pipeline.scheduler
        alphas = scheduler.alphas_cumprod.float().cpu().numpy()
        t = float(timestep.flatten()[0]) if hasattr(timestep, "flatten") else float(timestep)
        a = float(np.interp(t, np.arange(len(alphas)), alphas))  # Euler's timesteps may fall between integers
        x, p = noisy.float(), prediction.float()
        kind = getattr(scheduler.config, "prediction_type", "epsilon")
        if kind == "v_prediction":
            return a ** 0.5 * x - (1 - a) ** 0.5 * p
        if kind == "sample":
            return p
        return (x - (1 - a) ** 0.5 * p) / a ** 0.5

    def _add(self, estimate, noisy, step: int, caption: str) -> None:
        import torch

        pair = torch.cat([estimate.float(), noisy.float()])
        side = max(pair.shape[-2:])
        factor = 2 ** (len(self.pipeline.vae.config.block_out_channels) - 1)
        if side * factor > self.size:  # average the latents down first: decoding costs by the pixel
            pair = torch.nn.functional.adaptive_avg_pool2d(
                pair, [max(1, round(n * self.size / (factor * side))) for n in pair.shape[-2:]])
        frame = Frame({"estimate": pair[:1].cpu(), "noisy": pair[1:].cpu()}, step, _value(self._seen[2]), caption,
                      self.decode, self.size)
        newest = self.frames[-1] if len(self.frames) > 1 else None
        if newest is not None and newest.step % self._stride:  # kept only as the newest: the next one replaces it
            self.frames.pop()
        self.frames.append(frame)
        if len(self.frames) > self.cap:  # past the cap: every other kept step, evenly, and always the newest
            self._stride *= 2
            self.frames = [f for f in self.frames if f.step % self._stride == 0 or f is frame]
            self.thinned = True
        if self.on_frame is not None:
            self.on_frame(frame)

    # ------------------------------------------------------------------ captions

    def _calls(self) -> int:
        """UNet calls of the whole run: the pipeline's count of its loop, else the scheduler's timesteps."""
        found = getattr(self.pipeline, "_num_timesteps", None)
        return int(found) if found else len(self.pipeline.scheduler.timesteps)

    def _start_caption(self) -> str:
        """Where the loop starts: pure noise, or the start picture noised to the step `strength` chose."""
        scheduler = self.pipeline.scheduler
        steps = int(getattr(scheduler, "num_inference_steps", 0) or 0)
        order = int(getattr(scheduler, "order", 1) or 1)
        calls = self._calls()
        run = steps - (len(scheduler.timesteps) - calls) // order  # what diffusers' progress bar counts
        t = _t(self._seen[2])
        distinct = list(dict.fromkeys(_value(v) for v in scheduler.timesteps))  # PNDM lists one timestep twice
        first = distinct.index(_value(self._seen[2])) + 1 if _value(self._seen[2]) in distinct else 1
        if first == 1 or not steps:
            said = _("start · timestep {t} · pure noise; {steps} steps to run").format(t=t, steps=run or steps)
        else:
            said = _("start · timestep {t} · the start picture noised for step {first} of {steps}; {run} steps to "
                     "run").format(t=t, first=first, steps=steps, run=run)
        if steps and calls != run:  # PNDM lists steps + 1 timesteps: the loop calls the UNet once more
            said += " " + _("({calls} UNet calls: {scheduler} lists {listed} timesteps for {steps} steps)").format(
                calls=calls, scheduler=type(scheduler).__name__, listed=len(scheduler.timesteps), steps=steps)
        return said

    # ------------------------------------------------------------------ after the run

    def close(self) -> None:
        """Remove the UNet hook; the frames stay, and attach() puts it back (ch. 1–5)."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def timeline(self, steps: int = 5) -> list[Frame]:
        """The start frame and `steps` more, spread evenly up to the last step, for a grid (ch. 1–2)."""
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            kind = TypeError if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) else ValueError
            fix = int(steps) if isinstance(steps, float) and steps.is_integer() and steps >= 1 else 5  # 5.0 means 5
            raise kind(f"steps={steps!r}: how many frames to show after the start frame, a whole number of at least 1 "
                       f"(5 is usual), e.g. preview.timeline({fix}).")
        if not self.frames:
            if self.decode is None:
                raise ValueError(f"no frames: {self.note}")
            if self._seen is not None:  # the UNet ran while the hook was on, but the preview was never called
                raise ValueError("no frames: the pipeline ran while the preview watched its UNet, but the preview "
                                 "was not passed to the call, so it made no frames. Pass it: pipeline(..., "
                                 "callback_on_step_end=preview). To run your own callback too, call both from one "
                                 "function: def both(pipe, step, timestep, kwargs): kwargs = my_callback(pipe, step, "
                                 "timestep, kwargs); return preview(pipe, step, timestep, kwargs), then "
                                 "callback_on_step_end=both.")
            if self._hook is None:
                raise ValueError("no frames: the preview's hook came off the UNet when its `with` block ended (or "
                                 "close() was called), so a call after it left nothing. Call the pipeline inside the "
                                 "with block, or call preview.attach() before the call.")
            raise ValueError("no frames yet: pass the preview to the call, "
                             "pipeline(..., callback_on_step_end=preview).")
        picks = np.unique(np.linspace(0, len(self.frames) - 1, steps + 1).round().astype(int))
        return [self.frames[i] for i in picks]


def _value(timestep) -> float:
    return round(float(timestep.flatten()[0]) if hasattr(timestep, "flatten") else float(timestep), 3)


def _t(timestep) -> str:
    value = _value(timestep)
    return f"{value:.0f}" if abs(value - round(value)) < 1e-3 else f"{value:.1f}"
