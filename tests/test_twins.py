"""The twins must match the real checkpoints in everything a caller can see (helpers/twins/facts.py)."""

import json
from pathlib import Path

import pytest
import torch

from helpers.checkpoints import CHECKPOINTS
from helpers.loading import decide
from helpers.manifests import recorded_files
from helpers.modes import snapshot_path
from helpers.twins import build as builder
from helpers.twins import ensure_built, is_twin, twin_cache
from helpers.twins.facts import FACTS

HUB = twin_cache()


def snapshot(repo: str) -> Path:
    return snapshot_path(repo, HUB)


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_cache_holds_a_marked_twin_for_every_id_and_is_small():
    ensure_built()
    for repo in CHECKPOINTS:
        marker = load_json(snapshot(repo) / "twin.json")
        assert marker["twin"] is True and marker["repo_id"] == repo
        assert "twin" in (snapshot(repo) / "README.md").read_text()
    size = sum({p.stat().st_ino: p.stat().st_size for p in HUB.rglob("*") if p.is_file()}.values())
    assert size < 150 * 2**20, f"twin cache is {size / 2**20:.0f} MiB"


PIPELINES = [r for r, f in FACTS.items() if "pipeline" in f]


@pytest.mark.parametrize("repo", PIPELINES)
def test_pipeline_twin_matches_the_facts_table(repo):
    facts, snap = FACTS[repo], snapshot(repo)
    index = load_json(snap / "model_index.json")
    assert index["_class_name"] == facts["pipeline"] == CHECKPOINTS[repo].pipeline
    for name, cls in facts["components"].items():
        assert index[name][1] == cls, name
    for key, value in facts.get("pipeline_config", {}).items():
        assert index[key] == value
    sched = load_json(snap / "scheduler" / "scheduler_config.json")
    for key, value in facts["scheduler"].items():
        if key in sched or key == "_class_name":
            assert sched[key] == value, (key, sched.get(key), value)
    if "unet_in" in facts:
        unet = load_json(snap / "unet" / "config.json")
        assert (unet["in_channels"], unet["out_channels"]) == (facts["unet_in"], facts["unet_out"])
        vae_dir = "movq" if (snap / "movq").is_dir() else "vae"
        vae = load_json(snap / vae_dir / "config.json")
        assert vae["latent_channels"] == facts["latent_channels"]
        assert 2 ** (len(vae["block_out_channels"]) - 1) == facts["vae_scale_factor"]
        if "vae_scaling_factor" in facts:
            assert vae["scaling_factor"] == facts["vae_scaling_factor"]
        if "default_size" in facts:
            assert unet["sample_size"] * facts["vae_scale_factor"] == facts["default_size"]
    for tok in ("tokenizer", "tokenizer_2"):
        if facts["components"].get(tok):
            assert load_json(snap / tok / "tokenizer_config.json")["model_max_length"] == 77
    if facts.get("connected_prior"):
        assert f"- {facts['connected_prior']}" in (snap / "README.md").read_text()


def test_tokenizer_is_the_real_clip_vocabulary():
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5", subfolder="tokenizer")
    assert len(tok) == 49408 and tok.model_max_length == 77
    # the chapter prompt splits into the same 16 word pieces as with the real tokenizer
    ids = tok("Astronaut in a jungle, cold color palette, muted colors, detailed, 8k").input_ids
    assert ids[0] == 49406 and ids[-1] == 49407 and len(ids) == 18


def test_tokenizers_are_kept_in_the_real_repos_four_files():
    ensure_built()
    real = {"merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"}  # no tokenizer.json
    folders = [f for repo in CHECKPOINTS for f in (snapshot(repo) / "tokenizer", snapshot(repo) / "tokenizer_2")
               if f.is_dir()]
    assert len(folders) >= 8
    for folder in folders:
        assert {p.name for p in folder.iterdir()} == real, folder
    pads = {f.parent.parent.parent.name + "/" + f.name: load_json(f / "special_tokens_map.json")["pad_token"]
            for f in folders}
    assert {k: v for k, v in pads.items() if k.endswith("tokenizer_2")} and \
        all(v == "!" for k, v in pads.items() if k.endswith("tokenizer_2"))  # SDXL's second tokenizer pads with "!"


def test_builds_are_deterministic(tmp_path):
    repos = ["stable-diffusion-v1-5/stable-diffusion-v1-5", "kandinsky-community/kandinsky-2-2-prior"]
    src = HUB.parent / "src"
    a = builder.manifest(builder.build_cache(tmp_path / "a", src, repos=repos, log=lambda m: None))
    b = builder.manifest(builder.build_cache(tmp_path / "b", src, repos=repos, log=lambda m: None))
    assert a == b and len(a) > 20
    # and equal, file for file, to the same twins inside the full cache built earlier
    full = builder.manifest(HUB)
    for rel, digest in a.items():
        assert full[rel] == digest, rel


def test_failed_build_leaves_no_half_built_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))

    def explode(dest, src, log=print, repos=None):
        Path(dest).mkdir(parents=True)
        (Path(dest) / "half.txt").write_text("x")
        raise KeyboardInterrupt  # as if the learner pressed Ctrl-C mid-build

    monkeypatch.setattr(builder, "build_cache", explode)
    with pytest.raises(KeyboardInterrupt):
        ensure_built(log=lambda m: None)
    assert not (tmp_path / "twins" / "hub").exists()
    assert not list((tmp_path / "twins").glob("hub.partial-*"))


LOADERS = {
    "text2img": "AutoPipelineForText2Image", "img2img": "AutoPipelineForImage2Image",
    "inpaint": "AutoPipelineForInpainting",
}
EXPECTED = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": "StableDiffusionPipeline",
    "stabilityai/stable-diffusion-xl-refiner-1.0": "StableDiffusionXLImg2ImgPipeline",
    "kandinsky-community/kandinsky-2-2-decoder": "KandinskyV22CombinedPipeline",
    "ogkalu/Comic-Diffusion": "StableDiffusionImg2ImgPipeline",
    "kohbanye/pixel-art-style": "StableDiffusionImg2ImgPipeline",
    "nitrosocke/elden-ring-diffusion": "StableDiffusionImg2ImgPipeline",
    "kandinsky-community/kandinsky-2-2-decoder-inpaint": "KandinskyV22InpaintCombinedPipeline",
    "stable-diffusion-v1-5/stable-diffusion-inpainting": "StableDiffusionInpaintPipeline",
    "diffusers/stable-diffusion-xl-1.0-inpainting-0.1": "StableDiffusionXLInpaintPipeline",
}


@pytest.mark.parametrize("repo", list(EXPECTED))
def test_unmodified_autopipeline_calls_load_the_twin(repo):
    import diffusers

    task = CHECKPOINTS[repo].task
    loader = getattr(diffusers, LOADERS.get(task, "AutoPipelineForImage2Image"))
    pickle_only = not any(f.endswith(".safetensors") for f in recorded_files(repo))
    kwargs = decide(repo, allow_pickle=repo if pickle_only else None).kwargs  # what the files allow
    pipe = loader.from_pretrained(repo, dtype=torch.float16, **kwargs)
    assert type(pipe).__name__ == EXPECTED[repo]
    assert is_twin(pipe)
    assert all(is_twin(m) for m in pipe.components.values() if hasattr(m, "config") and hasattr(m, "parameters"))
    assert pipe.dtype == torch.float16


def test_other_checkpoints_load_through_their_real_classes():
    from diffusers import (
        ControlNetModel,
        KandinskyV22PriorPipeline,
        StableDiffusionLatentUpscalePipeline,
        StableDiffusionUpscalePipeline,
    )
    from transformers import pipeline

    controlnet = "lllyasviel/control_v11f1p_sd15_depth"
    assert is_twin(ControlNetModel.from_pretrained(controlnet, **decide(controlnet).kwargs))
    assert is_twin(KandinskyV22PriorPipeline.from_pretrained("kandinsky-community/kandinsky-2-2-prior"))
    x2_id, x4_id = "stabilityai/sd-x2-latent-upscaler", "stabilityai/stable-diffusion-x4-upscaler"
    x2 = StableDiffusionLatentUpscalePipeline.from_pretrained(x2_id, **decide(x2_id).kwargs)
    x4 = StableDiffusionUpscalePipeline.from_pretrained(x4_id, **decide(x4_id).kwargs)
    assert x4.vae_scale_factor == 4 and x4.config.max_noise_level == 350 and is_twin(x2)
    depth = pipeline("depth-estimation", model="depth-anything/Depth-Anything-V2-Small-hf")
    assert type(depth.model).__name__ == "DepthAnythingForDepthEstimation"


def test_is_twin_is_false_for_other_ids():
    assert not is_twin("openai/clip-vit-base-patch32")
    assert not is_twin(object())
