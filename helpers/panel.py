"""A "try it yourself" panel: sliders and text boxes for a pipeline's parameters, with a short history.

The panel never hides the lesson: it calls the same pipeline with the same keyword arguments as the
notebook above it (`prompt`, `negative_prompt`, `guidance_scale`, `strength`, `num_inference_steps`,
`generator`, `image`, `mask_image`, `control_image`, ...), and the caption of every picture lists them.
"""

from __future__ import annotations

import inspect
import io
import json
import threading
import time
from dataclasses import dataclass, field

import ipywidgets as W
from PIL import Image, PngImagePlugin

from helpers.paths import build_dir


@dataclass
class Result:
    """One generated picture with the arguments and time that made it."""

    image: Image.Image
    params: dict
    seconds: float
    caption: str = field(default="")


def _png(image: Image.Image, max_side: int | None = None) -> bytes:
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _accepts(pipeline, name: str) -> bool:
    try:
        return name in inspect.signature(pipeline.__call__).parameters
    except (TypeError, ValueError):
        return False


def caption_for(params: dict, seconds: float) -> str:
    """Short text naming the arguments that made a picture, for its caption (ch. 1–5)."""
    order = ["guidance_scale", "strength", "num_inference_steps", "seed", "controlnet_conditioning_scale",
             "weight", "mask"]
    short = {"guidance_scale": "guidance", "num_inference_steps": "steps", "controlnet_conditioning_scale": "control"}
    bits = [f"{short.get(k, k)}={params[k]}" for k in order if k in params]
    return " · ".join(bits) + f" · {seconds:.2f} s"


class Panel:
    """Sliders, prompts, Generate/Stop/Save and a history strip around one pipeline (ch. 1–5).

    Arguments named like the pipeline's own (`prompt`, `guidance_scale`, ...) set the starting values.
    `fixed` holds arguments passed unchanged on every run (`image=`, `control_image=`, ...).
    `masks` offers a choice of `mask_image` (chapter 5). `encode` turns (prompt, negative_prompt, extras)
    into keyword arguments such as `prompt_embeds` (chapter 4 uses compel there); it is cached per prompt,
    so moving a slider other than a prompt never re-encodes the text.
    """

    def __init__(self, pipeline, *, prompt: str, negative_prompt: str = "", guidance_scale: float = 7.5,
                 num_inference_steps: int = 20, seed: int = 0, strength: float | None = None,
                 controlnet_conditioning_scale: float | None = None, weight: float | None = None,
                 masks: dict | None = None, fixed: dict | None = None, encode=None, history: int = 6,
                 live: bool = False, device: str = "cpu", save_dir=None):
        self.pipeline = pipeline
        self.fixed = dict(fixed or {})
        self.masks = dict(masks or {})
        self.encode = encode if encode is not None else self._default_encoder()
        self.history_size = history
        self.device = device
        self.save_dir = save_dir
        self.results: list[Result] = []
        self.runs = 0  # pipeline calls actually made (tests check that a double click runs once)
        self._cache: dict = {}
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        cont = {"continuous_update": False, "style": {"description_width": "140px"},
                "layout": W.Layout(width="460px")}
        self.prompt = W.Textarea(value=prompt, description="prompt", rows=2, **cont)
        self.negative_prompt = W.Textarea(value=negative_prompt, description="negative_prompt", rows=1, **cont)
        self.guidance_scale = W.FloatSlider(value=guidance_scale, min=0.0, max=20.0, step=0.5,
                                            description="guidance_scale", **cont)
        self.num_inference_steps = W.IntSlider(value=num_inference_steps, min=1, max=100,
                                               description="num_inference_steps", **cont)
        self.seed = W.IntSlider(value=seed, min=0, max=1000, description="seed", **cont)
        self.controls = [self.prompt, self.negative_prompt, self.guidance_scale, self.num_inference_steps, self.seed]
        self.strength = self._optional(strength, "strength", lambda v: W.FloatSlider(
            value=v, min=0.0, max=1.0, step=0.05, description="strength", **cont))
        self.controlnet_conditioning_scale = self._optional(
            controlnet_conditioning_scale, "controlnet_conditioning_scale", lambda v: W.FloatSlider(
                value=v, min=0.0, max=2.0, step=0.05, description="controlnet_conditioning_scale", **cont))
        self.weight = None
        if weight is not None:  # chapter 4: a compel weight, used by `encode`
            self.weight = W.FloatSlider(value=weight, min=0.0, max=2.0, step=0.1, description="weight", **cont)
            self.controls.append(self.weight)
        self.mask = None
        if self.masks:
            self.mask = W.Dropdown(options=list(self.masks), description="mask_image", **cont)
            self.controls.append(self.mask)

        self.generate_button = W.Button(description="Generate", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop", disabled=True)
        self.save_button = W.Button(description="Save PNG", icon="save", disabled=True)
        self.live = W.Checkbox(value=live, description="live (run on slider release)", indent=False)
        self.status = W.HTML(value="ready")
        self.image = W.Image(format="png", layout=W.Layout(max_width="512px"))
        self.caption = W.HTML(value="")
        self.history = W.HBox(layout=W.Layout(flex_flow="row wrap"))

        self.generate_button.on_click(lambda _: self.generate())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save())
        for control in self.controls:
            control.observe(self._on_change, names="value")

        buttons = W.HBox([self.generate_button, self.stop_button, self.save_button, self.live])
        self.widget = W.VBox([*self.controls, buttons, self.status, self.image, self.caption,
                              W.HTML("<b>history</b> (newest first)"), self.history])

    # ------------------------------------------------------------------ setup helpers

    def _optional(self, value, name, make):
        if value is None:
            return None
        if not _accepts(self.pipeline, name):
            raise ValueError(f"{type(self.pipeline).__name__} does not take `{name}`; leave {name}=None for it.")
        widget = make(value)
        self.controls.append(widget)
        return widget

    def _default_encoder(self):
        """Cache prompt embeddings through the pipeline's own `encode_prompt` (SD 1.x/2.x and SDXL layouts)."""
        pipe = self.pipeline
        params = inspect.signature(pipe.__call__).parameters if callable(pipe) else {}
        if not hasattr(pipe, "encode_prompt") or "prompt_embeds" not in params:
            return None  # e.g. Kandinsky: its prior turns the text into an image embedding on every run

        if "pooled_prompt_embeds" in params:  # SDXL: two encoders, plus pooled vectors
            def encode(prompt, negative_prompt, extras):
                pe, ne, pooled, neg_pooled = pipe.encode_prompt(
                    prompt=prompt, device=pipe._execution_device, num_images_per_prompt=1,
                    do_classifier_free_guidance=True, negative_prompt=negative_prompt or None)
                return {"prompt_embeds": pe, "negative_prompt_embeds": ne, "pooled_prompt_embeds": pooled,
                        "negative_pooled_prompt_embeds": neg_pooled}
            return encode

        def encode(prompt, negative_prompt, extras):
            positive, negative = pipe.encode_prompt(prompt, pipe._execution_device, 1, True, negative_prompt or None)
            return {"prompt_embeds": positive, "negative_prompt_embeds": negative}

        return encode

    # ------------------------------------------------------------------ running

    def params(self) -> dict:
        """The current control values, named as the pipeline's arguments (ch. 1–5)."""
        p = {"prompt": self.prompt.value, "negative_prompt": self.negative_prompt.value,
             "guidance_scale": self.guidance_scale.value, "num_inference_steps": self.num_inference_steps.value,
             "seed": self.seed.value}
        if self.strength is not None:
            p["strength"] = self.strength.value
        if self.controlnet_conditioning_scale is not None:
            p["controlnet_conditioning_scale"] = self.controlnet_conditioning_scale.value
        if self.weight is not None:
            p["weight"] = self.weight.value
        if self.mask is not None:
            p["mask"] = self.mask.value
        return p

    def _kwargs(self, p: dict) -> dict:
        from helpers.checks import check_call
        from helpers.device import make_generator

        kwargs = dict(self.fixed)
        kwargs.update({k: p[k] for k in ("guidance_scale", "num_inference_steps", "strength",
                                         "controlnet_conditioning_scale") if k in p})
        if "mask" in p:
            kwargs["mask_image"] = self.masks[p["mask"]]
        check_call(**kwargs)  # a readable message before torch gets a chance to fail deep inside
        if self.encode is None:
            kwargs["prompt"] = p["prompt"]
            if p["negative_prompt"]:
                kwargs["negative_prompt"] = p["negative_prompt"]
        else:
            key = (p["prompt"], p["negative_prompt"], p.get("weight"))
            if key not in self._cache:
                self._cache.clear()  # keep one: the embeddings of the prompt on screen
                self._cache[key] = self.encode(p["prompt"], p["negative_prompt"], p)
            kwargs.update(self._cache[key])
        kwargs["generator"] = make_generator(int(p["seed"]), self.device)
        if _accepts(self.pipeline, "callback_on_step_end"):
            kwargs["callback_on_step_end"] = self._on_step
        return kwargs

    def _on_step(self, pipe, step, timestep, callback_kwargs):
        if self._stop.is_set():
            pipe._interrupt = True  # diffusers checks this flag and skips the remaining steps
        return callback_kwargs

    def generate(self, wait: bool = False) -> bool:
        """Start one run unless one is already running; returns False for an ignored double click (ch. 1–5)."""
        if not self._busy.acquire(blocking=False):
            self.status.value = "busy: the current run must finish (or press Stop) first"
            return False
        self._stop.clear()
        self.generate_button.disabled = True
        self.stop_button.disabled = False
        self.status.value = "running…"
        self._thread = threading.Thread(target=self._run, args=(self.params(),), daemon=True)
        self._thread.start()
        if wait:
            self.wait()
        return True

    def wait(self, timeout: float | None = 600) -> None:
        """Block until the current run ends (for scripts and tests) (ch. 1–5)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Ask the running pipeline to stop after its current step (ch. 1–5)."""
        self._stop.set()
        self.status.value = "stopping after this step…"

    def _run(self, p: dict) -> None:
        start = time.perf_counter()
        try:
            kwargs = self._kwargs(p)
            self.runs += 1
            output = self.pipeline(**kwargs)
            seconds = time.perf_counter() - start
            if self._stop.is_set():
                self.status.value = f"stopped after {seconds:.2f} s; the last picture is unchanged"
                return
            self._show(Result(output.images[0], p, seconds, caption_for(p, seconds)))
            self.status.value = f"done in {seconds:.2f} s"
        except Exception as exc:  # the panel must survive any error and keep the learner's history
            self.status.value = (f"<span style='color:#b00'><b>{type(exc).__name__}</b>: "
                                 f"{_html(str(exc).splitlines()[0] if str(exc) else '')}</span>")
            self.last_error = exc
        finally:
            if getattr(self.pipeline, "_interrupt", False):
                self.pipeline._interrupt = False
            self.generate_button.disabled = False
            self.stop_button.disabled = True
            self._busy.release()

    def _show(self, result: Result) -> None:
        from helpers.modes import active_mode

        if active_mode() == "twins":
            result.caption = "TWIN (noise) · " + result.caption
        self.results.insert(0, result)
        del self.results[self.history_size:]
        self.image.value = _png(result.image)
        self.caption.value = _html(result.caption)
        self.save_button.disabled = False
        thumbs = []
        for r in self.results[1:]:
            thumbs.append(W.VBox([W.Image(value=_png(r.image, 160), format="png"),
                                  W.HTML(f"<small>{_html(r.caption)}</small>", layout=W.Layout(width="170px"))]))
        self.history.children = thumbs

    def _on_change(self, change) -> None:
        if self.live.value:
            self.generate()

    # ------------------------------------------------------------------ saving

    def save(self, path=None):
        """Save the current picture as PNG with its parameters in the metadata; return the path (ch. 1–5)."""
        if not self.results:
            raise RuntimeError("Nothing to save yet: press Generate first.")
        r = self.results[0]
        folder = build_dir() / "panel" if self.save_dir is None else self.save_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = path or folder / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{r.params['seed']}.png"
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", json.dumps({**r.params, "seconds": round(r.seconds, 3),
                                                "pipeline": type(self.pipeline).__name__}))
        r.image.save(path, pnginfo=info)
        self.status.value = f"saved {path.name}"
        return path

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _html(text: str) -> str:
    import html

    return html.escape(text)
