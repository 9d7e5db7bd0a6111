"""What a panel run passes to its pipeline: the same keyword arguments a notebook cell would write.

`fixed=` first, then the controls' values, the prompt (as text, or through `encode=` as embeddings, cached per
prompt), the seed's generator and the step callback that drives Stop and the step preview.
"""

from __future__ import annotations

import inspect

from helpers.panel_encode import run_encode


def accepts(pipeline, name: str) -> bool:
    """Whether the pipeline's __call__ takes a parameter of this name (ch. 1–5)."""
    try:
        return name in inspect.signature(pipeline.__call__).parameters
    except (TypeError, ValueError):
        return False


def call_kwargs(panel, p: dict, on_step, on_old_step) -> dict:
    """One panel run's keyword arguments: fixed=, the controls, the encoded prompt, seed, step callback (ch. 1–5)."""
    from helpers.callcheck import check_prompts
    from helpers.checks import check_call
    from helpers.device import make_generator

    kwargs = dict(panel.fixed)
    kwargs.update(guidance_scale=p["guidance_scale"], num_inference_steps=p["num_inference_steps"])
    kwargs.update({e.name: e._argument(p[e.name]) for e in panel.extras if e.pipeline_arg})
    check_call(**kwargs)  # a readable message before torch gets a chance to fail deep inside
    # the text goes in as prompt_embeds below, which the call's own checks cannot read: check it here
    check_prompts(panel.pipeline, {"prompt": p["prompt"], "negative_prompt": p["negative_prompt"],
                                  "guidance_scale": p["guidance_scale"]})
    if not panel.own_encode:  # the default encoder reads `word++` as words, like a plain prompt string
        from helpers.ignored import check_weighting
        from helpers.promptslips import check_prompt_slips

        check_weighting({"prompt": p["prompt"], "negative_prompt": p["negative_prompt"]})
        check_prompt_slips(panel.pipeline, {"prompt": p["prompt"], "negative_prompt": p["negative_prompt"]})
    if panel.encode is None:
        kwargs["prompt"] = p["prompt"]
        if p["negative_prompt"]:
            kwargs["negative_prompt"] = p["negative_prompt"]
    else:
        # the controls the pipeline does not take can only feed `encode`, so they belong in its cache key
        key = (p["prompt"], p["negative_prompt"], *(p[e.name] for e in panel.extras if not e.pipeline_arg))
        if key not in panel.encoded:
            panel.encoded.clear()  # keep one: the embeddings of the prompt on screen
            made = run_encode(panel.encode, p)  # a control it reads and the panel lacks: named
            if not isinstance(made, dict):
                raise TypeError(f"encode= must return a dict of keyword arguments for the pipeline, such as "
                                f"{{'prompt_embeds': ..., 'negative_prompt_embeds': ...}}; yours returned "
                                f"{type(made).__name__}.")
            panel.encoded[key] = made
            if p["negative_prompt"] and not {"negative_prompt_embeds", "negative_prompt"} & set(made):
                from helpers.callwarning import warn_call

                warn_call("encode= returned no negative_prompt_embeds, so the negative prompt box has no effect. "
                          "Return both: {'prompt_embeds': compel(prompt), 'negative_prompt_embeds': "
                          "compel(negative_prompt)}.")
        kwargs.update(panel.encoded[key])
        if p["guidance_scale"] <= 1:  # guidance off: the negative side is unused (check_prompts said so once)
            kwargs.pop("negative_prompt_embeds", None)
            kwargs.pop("negative_pooled_prompt_embeds", None)
    kwargs["generator"] = make_generator(int(p["seed"]), panel.device)
    if accepts(panel.pipeline, "callback_on_step_end"):
        own = panel.fixed.get("callback_on_step_end")
        kwargs["callback_on_step_end"] = on_step  # the learner's own, from fixed=, runs inside it
        if getattr(own, "tensor_inputs", None) and "callback_on_step_end_tensor_inputs" not in panel.fixed:
            kwargs["callback_on_step_end_tensor_inputs"] = list(own.tensor_inputs)  # diffusers' callback objects
    elif accepts(panel.pipeline, "callback"):  # the upscalers: diffusers' older step callback, every step
        kwargs["callback"] = on_old_step
        kwargs["callback_steps"] = 1
    return kwargs
