import pytest

from helpers.checkpoints import (
    CHECKPOINTS,
    DEAD_IDS,
    DeadRepoIdError,
    UnknownCheckpointError,
    checkpoint,
    with_trigger,
)


def test_every_chapter_checkpoint_is_in_the_one_table():
    expected = {
        "stable-diffusion-v1-5/stable-diffusion-v1-5", "stabilityai/stable-diffusion-xl-refiner-1.0",
        "kandinsky-community/kandinsky-2-2-decoder", "kandinsky-community/kandinsky-2-2-prior",
        "ogkalu/Comic-Diffusion", "kohbanye/pixel-art-style", "stabilityai/sd-x2-latent-upscaler",
        "stabilityai/stable-diffusion-x4-upscaler", "lllyasviel/control_v11f1p_sd15_depth",
        "nitrosocke/elden-ring-diffusion", "kandinsky-community/kandinsky-2-2-decoder-inpaint",
        "stable-diffusion-v1-5/stable-diffusion-inpainting", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    }
    assert expected <= set(CHECKPOINTS)
    assert any(m.task == "depth" for m in CHECKPOINTS.values())


@pytest.mark.parametrize(("book_id", "current"), [
    ("runwayml/stable-diffusion-v1-5", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    ("runwayml/stable-diffusion-inpainting", "stable-diffusion-v1-5/stable-diffusion-inpainting"),
    ("lllyasviel/control_v11flip_sd15_depth", "lllyasviel/control_v11f1p_sd15_depth"),
])
def test_dead_book_ids_name_the_current_id(book_id, current):
    with pytest.raises(DeadRepoIdError, match=current):
        checkpoint(book_id)
    assert DEAD_IDS[book_id] == current


def test_unknown_id_is_refused_with_a_suggestion():
    with pytest.raises(UnknownCheckpointError, match="Did you mean 'ogkalu/Comic-Diffusion'"):
        checkpoint("ogkalu/Comic-Difusion")
    with pytest.raises(UnknownCheckpointError, match="not one of the checkpoints"):
        checkpoint("someone/something-else")
    with pytest.raises(UnknownCheckpointError, match="non-empty string"):
        checkpoint("")


def test_trigger_tokens():
    assert CHECKPOINTS["ogkalu/Comic-Diffusion"].trigger == "charliebo artstyle"
    assert CHECKPOINTS["kohbanye/pixel-art-style"].trigger == "pixelartstyle"
    assert CHECKPOINTS["nitrosocke/elden-ring-diffusion"].trigger == "elden ring style"
    assert with_trigger("kohbanye/pixel-art-style", "Astronaut") == "Astronaut, pixelartstyle"
    assert with_trigger("kohbanye/pixel-art-style", "pixelartstyle astronaut") == "pixelartstyle astronaut"
    assert with_trigger("stable-diffusion-v1-5/stable-diffusion-v1-5", "Astronaut") == "Astronaut"
