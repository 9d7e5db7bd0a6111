"""The pre-flight finds every from_pretrained of the notebooks and checks it as diffusers would, offline here."""

import json
from pathlib import Path

from helpers.manifests import recorded_files, recorded_repos
from tools import preflight

ROOT = Path(__file__).resolve().parent.parent
X2 = "stabilityai/sd-x2-latent-upscaler"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def _notebook_sources() -> str:
    return "\n".join("".join(c["source"]) for nb in sorted((ROOT / "notebooks").glob("0*.ipynb"))
                     for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")


def test_every_from_pretrained_of_the_notebooks_is_found():
    calls = preflight.notebook_calls()
    text = _notebook_sources()
    assert len(calls) == text.count(".from_pretrained(") + text.count("transformers_pipeline(\n")
    assert {c.notebook for c in calls} == {f"0{i}_{n}" for i, n in enumerate(
        ["guidance_scale", "negative_prompt", "chaining_pipelines", "controlling_generation", "inpainting"], 1)}
    assert all(c.repo_id in recorded_repos() for c in calls)
    assert all(c.uses_load_args and not c.written for c in calls)


def test_recorded_listings_pass_and_the_report_shows_cuda_and_cpu(capsys):
    assert preflight.main(["--recorded"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("0 failed")
    x2 = out[out.index(f"StableDiffusionLatentUpscalePipeline.from_pretrained('{X2}')"):]
    assert x2.splitlines()[1].split() == ["CUDA", "dtype=torch.float16,", "variant=None,", "use_safetensors=True"]
    assert x2.splitlines()[2].split() == ["CPU", "dtype=torch.float32,", "variant=None,", "use_safetensors=True"]


def recorded(repo):
    return recorded_files(repo), "recorded manifest"


def test_a_hand_written_variant_is_a_failure():
    call = preflight.Call("99_test", 1, "StableDiffusionLatentUpscalePipeline", X2, written={"variant": "'fp16'"})
    row = preflight.check_call(call, recorded)
    assert any("by hand" in p for p in row["problems"]) and any("load_args" in p for p in row["problems"])


def test_load_args_must_name_the_loaded_repo_and_only_passed_components():
    call = preflight.Call("99_test", 1, "AutoPipelineForImage2Image", X2, uses_load_args=True, load_args_repo=SD15,
                          passed=("vae",), given=())
    problems = preflight.check_call(call, recorded)["problems"]
    assert any("load_args is asked about" in p for p in problems)
    assert any("names ['vae'], which the call does not pass in" in p for p in problems)


def test_an_unresolved_repo_is_a_failure_not_a_crash():
    row = preflight.check_call(preflight.Call("99_test", 1, "AutoPipelineForImage2Image", "?"), recorded)
    assert any("could not be read from the notebook" in p for p in row["problems"])


def test_a_name_means_its_value_at_that_point_of_the_cell(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": [
        'repo = "stabilityai/sd-x2-latent-upscaler"\n',
        "a = StableDiffusionLatentUpscalePipeline.from_pretrained(repo, **load_args(repo))\n",
        'repo = "stable-diffusion-v1-5/stable-diffusion-v1-5"\n',
        "b = AutoPipelineForText2Image.from_pretrained(repo, **load_args(repo))\n"]}]}
    (tmp_path / "99_test.ipynb").write_text(json.dumps(nb))
    assert [c.repo_id for c in preflight.notebook_calls(tmp_path)] == [X2, SD15]


def test_diffusers_rules_reject_what_the_repo_lacks():
    x2_files = list(recorded_files(X2))
    folders = ["unet", "vae", "text_encoder"]
    reason = preflight.diffusers_accepts(None, x2_files, folders, (), {"variant": "fp16", "use_safetensors": True})
    assert "variant=fp16" in reason and "no such modeling files" in reason
    inpaint = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    reason = preflight.diffusers_accepts(None, list(recorded_files(inpaint)),
                                         ["unet", "vae", "text_encoder", "safety_checker"], (),
                                         {"variant": None, "use_safetensors": True})
    assert "no safetensors" in reason
    assert preflight.diffusers_accepts("ControlNetModel", ["diffusion_pytorch_model.fp16.safetensors"], [""], (),
                                       {"variant": None, "use_safetensors": True}) is not None
    assert preflight.diffusers_accepts("DepthAnythingForDepthEstimation", ["model.safetensors"], [""], (),
                                       {"variant": None, "use_safetensors": True}) is None


def test_a_live_listing_that_drifted_from_the_record_fails(monkeypatch):
    def listing(repo, recorded):
        files = dict(recorded_files(repo))
        if repo == SD15:
            files.pop("unet/diffusion_pytorch_model.non_ema.bin")
        return files, "Hub listing"

    calls = [c for c in preflight.notebook_calls() if c.repo_id == SD15][:1]
    rows = preflight.run(recorded=False, calls=calls, listing=listing)
    assert any("differs from helpers/manifests.json: -unet/diffusion_pytorch_model.non_ema.bin" in p
               for r in rows for p in r["problems"])


def test_a_pickle_only_repo_without_its_opt_in_fails():
    repo = "ogkalu/Comic-Diffusion"
    call = preflight.Call("99_test", 1, "AutoPipelineForImage2Image", repo, uses_load_args=True, load_args_repo=repo)
    row = preflight.check_call(call, recorded)
    assert any("allow_pickle" in p for p in row["problems"])


def test_no_network_means_a_clear_exit(monkeypatch, capsys):
    def offline(repo, recorded):
        raise ConnectionError(f"the Hub's listing of {repo} could not be read")

    monkeypatch.setattr(preflight, "listing_for", offline)
    assert preflight.main([]) == 2
    assert "could not be read" in capsys.readouterr().err


def test_what_the_repo_has_is_accepted():
    folders = ["unet", "vae", "text_encoder", "safety_checker"]
    assert preflight.diffusers_accepts(None, list(recorded_files(SD15)), folders, (),
                                       {"variant": "fp16", "use_safetensors": True}) is None
