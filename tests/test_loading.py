"""Loading arguments come from the repos' files: the record, the twins built from it, the real failures they show."""

import json

import pytest
import torch

from helpers import loading
from helpers.checkpoints import CHECKPOINTS
from helpers.loading import PickleWeightsError, choose, compare_with_record, decide, load_args
from helpers.manifests import RECORD_FILE, component_folders, parse_size, record, recorded_files, recorded_repos
from helpers.modes import snapshot_path
from helpers.twins import twin_cache

X2 = "stabilityai/sd-x2-latent-upscaler"
X4 = "stabilityai/stable-diffusion-x4-upscaler"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
INPAINT = "stable-diffusion-v1-5/stable-diffusion-inpainting"
CONTROLNET = "lllyasviel/control_v11f1p_sd15_depth"
PICKLE_ONLY = ("ogkalu/Comic-Diffusion", "kohbanye/pixel-art-style", "nitrosocke/elden-ring-diffusion")

# What the files say, per repo (the decision table the record implies; see docs/twins.md for the sources)
EXPECTED = {
    SD15: ("fp16", True), INPAINT: ("fp16", True),
    "stabilityai/stable-diffusion-xl-refiner-1.0": ("fp16", True),
    "diffusers/stable-diffusion-xl-1.0-inpainting-0.1": ("fp16", True),
    "kandinsky-community/kandinsky-2-2-decoder": (None, True),
    "kandinsky-community/kandinsky-2-2-prior": (None, True),
    "kandinsky-community/kandinsky-2-2-decoder-inpaint": (None, True),
    "ogkalu/Comic-Diffusion": (None, False), "kohbanye/pixel-art-style": (None, False),
    "nitrosocke/elden-ring-diffusion": (None, False),
    X2: (None, True), X4: ("fp16", True), CONTROLNET: ("fp16", True),
    "depth-anything/Depth-Anything-V2-Small-hf": (None, True),
    "madebyollin/taesd": (None, True), "madebyollin/taesdxl": (None, True),
}


def test_every_model_of_the_table_has_a_record_with_sources():
    assert set(recorded_repos()) == set(CHECKPOINTS) == set(EXPECTED)
    for repo in recorded_repos():
        entry = record(repo)
        assert entry.get("pipeline") or entry.get("model"), repo
        assert entry["classes_source"], repo
        for folder, part in entry["folders"].items():
            assert part["source"].startswith(("https://", "a ")), (repo, folder)
            assert part["files"] and part["params"] > 0, (repo, folder)
        if "pipeline" in entry:
            assert entry["pipeline"] == CHECKPOINTS[repo].pipeline, repo


def test_sizes_parse_as_the_hub_shows_them():
    assert parse_size("3.44 GB") == 3_440_000_000 and parse_size("597 Bytes") == 597 and parse_size(None) is None
    with pytest.raises(ValueError, match="3.44 GB"):
        parse_size("big")


@pytest.mark.parametrize("repo", sorted(EXPECTED))
def test_the_record_decides_variant_and_safetensors(repo):
    choice = choose(repo, recorded_files(repo), component_folders(repo), allow_pickle=repo in PICKLE_ONLY)
    assert (choice.variant, choice.use_safetensors) == EXPECTED[repo]
    assert set(choice.files) <= set(recorded_files(repo))


def test_pickle_only_repos_are_refused_without_their_name():
    for repo in PICKLE_ONLY:
        with pytest.raises(PickleWeightsError, match=f'allow_pickle="{repo}"'):
            choose(repo, recorded_files(repo), component_folders(repo))


def test_mixed_folders_fall_back_per_component():
    choice = choose(X4, recorded_files(X4), component_folders(X4))
    assert choice.fp16_folders == ("vae", "text_encoder") and choice.full_folders == ("unet",)
    assert "unet/diffusion_pytorch_model.safetensors" in choice.files
    assert "unet has none" in choice.explain()


def test_inpainting_takes_fp16_files_even_for_float32():
    choice = choose(INPAINT, recorded_files(INPAINT), component_folders(INPAINT))
    assert choice.variant == "fp16" and choice.use_safetensors  # its only safetensors are fp16 files
    assert all(".fp16." in f for f in choice.files)


def test_an_empty_folder_is_reported():
    with pytest.raises(FileNotFoundError, match="no weight files in unet"):
        choose("someone/model", ["vae/diffusion_pytorch_model.safetensors"], ["unet", "vae"])


# ---------------------------------------------------------------- twins ship exactly the recorded files


@pytest.mark.parametrize("repo", sorted(EXPECTED))
def test_twin_ships_exactly_the_recorded_weight_files(repo):
    snapshot = snapshot_path(repo, twin_cache())
    files = [p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()]
    assert compare_with_record(repo, files) == ()
    for unconfirmed in record(repo).get("unconfirmed", {}):
        assert unconfirmed not in files, f"{unconfirmed} is unconfirmed: the twin must leave it out"


@pytest.mark.parametrize("repo", sorted(EXPECTED))
def test_twin_has_the_hub_tree_listing_that_offline_loading_reads(repo):
    from huggingface_hub import get_cached_repo_tree

    listed = {f.path for f in get_cached_repo_tree(repo, cache_dir=twin_cache())}
    snapshot = snapshot_path(repo, twin_cache())
    assert listed == {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- the real failures, reproduced on the twins


def test_the_books_fp16_variant_fails_on_the_x2_upscaler_as_on_the_hub():
    from diffusers import StableDiffusionLatentUpscalePipeline

    with pytest.raises(ValueError, match="variant=fp16.*no such modeling files"):
        StableDiffusionLatentUpscalePipeline.from_pretrained(X2, variant="fp16", dtype=torch.float16)
    pipe = StableDiffusionLatentUpscalePipeline.from_pretrained(X2, dtype=torch.float16, **decide(X2).kwargs)
    assert pipe.unet.dtype == torch.float16


def test_inpainting_without_the_variant_finds_no_safetensors():
    from diffusers import AutoPipelineForInpainting

    with pytest.raises(OSError, match="safetensors"):
        AutoPipelineForInpainting.from_pretrained(INPAINT, use_safetensors=True, dtype=torch.float32)


def test_fp16_files_load_into_a_float32_pipeline():
    from diffusers import AutoPipelineForInpainting

    pipe = AutoPipelineForInpainting.from_pretrained(INPAINT, dtype=torch.float32, **decide(INPAINT).kwargs)
    assert {pipe.unet.dtype, pipe.vae.dtype, pipe.text_encoder.dtype, pipe.safety_checker.dtype} == {torch.float32}


def test_pickle_only_twins_load_after_the_named_opt_in():
    from diffusers import AutoPipelineForImage2Image

    repo = "nitrosocke/elden-ring-diffusion"
    with pytest.raises(PickleWeightsError):
        decide(repo)
    pipe = AutoPipelineForImage2Image.from_pretrained(repo, **decide(repo, allow_pickle=repo).kwargs)
    assert type(pipe).__name__ == "StableDiffusionImg2ImgPipeline"


# ---------------------------------------------------------------- what load_args prints, and the live listing


def test_load_args_prints_one_line_naming_the_folders(capsys):
    assert load_args(SD15) == {"variant": "fp16", "use_safetensors": True}
    line = capsys.readouterr().out.strip()
    assert line == (f"{SD15}: variant='fp16', use_safetensors=True — the repo ships fp16 safetensors for unet, vae, "
                    "text_encoder, safety_checker [files: twin cache]")


def test_passed_components_are_left_out(capsys):
    load_args(X2, passed=["vae"])
    assert "for unet, text_encoder [" in capsys.readouterr().out


def test_kandinsky_decision_covers_the_prior_it_loads_with():
    assert decide("kandinsky-community/kandinsky-2-2-decoder").kwargs == {"variant": None, "use_safetensors": True}


def test_a_live_listing_that_differs_from_the_record_is_said_and_followed(monkeypatch, capsys):
    live = {p: 1 for p in recorded_files(SD15) if ".fp16." not in p}  # suppose the Hub dropped the fp16 files
    monkeypatch.setattr(loading, "repo_files", lambda repo: (live, "Hub listing"))
    assert load_args(SD15) == {"variant": None, "use_safetensors": True}
    out = capsys.readouterr().out
    assert "note: the Hub listing differs from the recorded manifest" in out and "following the Hub listing" in out
    assert "-unet/diffusion_pytorch_model.fp16.safetensors" in out


def test_thehub_listing_is_read_with_sizes_and_no_weights(monkeypatch):
    class Sibling:
        def __init__(self, name, size):
            self.rfilename, self.size = name, size

    class Api:
        def model_info(self, repo_id, files_metadata=False):
            assert files_metadata
            return type("Info", (), {"siblings": [Sibling("unet/diffusion_pytorch_model.safetensors", 5)]})()

    import huggingface_hub

    loading.hub_listing.cache_clear()
    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    assert loading.hub_listing(SD15) == {"unet/diffusion_pytorch_model.safetensors": 5}
    loading.hub_listing.cache_clear()


def test_no_network_falls_back_instead_of_crashing(monkeypatch):
    import huggingface_hub

    class Unreachable:
        def model_info(self, *args, **kwargs):
            raise RuntimeError("[Errno 111] Connection refused")  # whatever the HTTP library raises

    loading.hub_listing.cache_clear()
    monkeypatch.setattr(huggingface_hub, "HfApi", Unreachable)
    assert loading.hub_listing(SD15) is None
    loading.hub_listing.cache_clear()


def test_the_choice_agrees_with_diffusers_when_fp16_files_are_pickle_only_in_one_folder():
    from tools.preflight import diffusers_accepts

    files = ["a/diffusion_pytorch_model.fp16.bin", "a/diffusion_pytorch_model.safetensors",
             "b/diffusion_pytorch_model.fp16.safetensors", "b/diffusion_pytorch_model.safetensors"]
    choice = choose("someone/model", files, ["a", "b"])
    assert choice.kwargs == {"variant": None, "use_safetensors": True}  # fp16 would make diffusers refuse folder a
    assert diffusers_accepts(None, files, ["a", "b"], (), choice.kwargs) is None
    assert diffusers_accepts(None, files, ["a", "b"], (), {"variant": "fp16", "use_safetensors": True}) is not None
    assert "do not form a set diffusers accepts" in choice.explain()


def test_an_unconfirmed_file_turning_up_is_no_difference():
    files = [*recorded_files(CONTROLNET), "diffusion_pytorch_model.safetensors"]  # recorded as unconfirmed
    assert compare_with_record(CONTROLNET, files) == ()
    assert compare_with_record(CONTROLNET, [*files, "diffusion_pytorch_model.non_ema.bin"]) == (
        "+diffusion_pytorch_model.non_ema.bin",)


def test_fp16_files_are_known_per_repo():
    from helpers.manifests import has_fp16_files

    assert has_fp16_files(SD15) and has_fp16_files(X4) and not has_fp16_files(X2)


def test_the_record_file_is_valid_json_with_an_about_line():
    data = json.loads(RECORD_FILE.read_text())
    assert data["_about"].startswith("What each real checkpoint ships")


def test_hub_mode_says_how_much_a_chapter_downloads_before_downloading(monkeypatch):
    monkeypatch.setattr(loading, "repo_files", lambda repo: (recorded_files(repo), "Hub listing"))
    monkeypatch.setattr(loading, "_cached", lambda repo, path: repo == SD15)  # SD 1.5 is in the cache already
    text = loading.download_summary([SD15, X4, X2])
    sd = sum(recorded_files(SD15)[p] for p in decide(SD15).files)
    x4 = sum(recorded_files(X4)[p] for p in decide(X4).files)
    assert text.splitlines()[0].startswith(f"This chapter's weights: {(sd + x4) / 1e9:.1f} GB, of which "
                                           f"{x4 / 1e9:.1f} GB still to download (plus the repos whose sizes")
    assert f"  {SD15}: {sd / 1e9:.2f} GB, {sd / 1e9:.2f} GB already cached" in text
    assert f"  {X2}: size not listed (3 weight files)" in text
