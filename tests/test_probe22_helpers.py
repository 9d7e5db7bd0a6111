"""From a twenty-second probe: latents saved as a picture, a CUDA generator on a CPU machine, an alpha-painted mask's
coverage, and a grid compared with one picture."""

import numpy as np
import torch
from conftest import noted, raised
from PIL import Image


def test_latents_saved_as_a_picture_are_told_to_decode():
    latents_1 = torch.randn(1, 4, 8, 8)  # what output_type="latent" returns: four channels, an 8 times smaller grid
    what, fix = noted(lambda: latents_1[0].save("stage1.png"))
    assert "latents_1[0] is a tensor of latents (4, 8, 8), not a picture" in what
    assert "pipe.vae.decode(latents_1[:1] / pipe.vae.config.scaling_factor)" in fix
    assert "Image.fromarray" not in fix  # the fix it gave before, which fails on latents
    pixels = torch.rand(1, 3, 8, 8)  # a decoded picture tensor keeps the conversion advice
    what, fix = noted(lambda: pixels[0].save("x.png"))
    assert "not a PIL picture" in what and ".transpose(1, 2, 0)" in fix


def test_a_cuda_generator_on_a_machine_without_cuda_names_pick_device():
    from helpers.device import make_generator, pick_device

    err = raised(lambda: make_generator(0, "cuda:0"))
    assert isinstance(err, ValueError) and "no CUDA device" in str(err) and "pick_device()" in str(err)
    assert make_generator(0, pick_device()).initial_seed() == 0  # the fix
    assert make_generator(0, "mps").device.type == "cpu"  # mps generators are made on the CPU, as before


def test_mask_coverage_reads_an_alpha_painted_mask_as_the_call_does():
    from helpers.images import mask_coverage

    layer = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    layer.paste((0, 0, 0, 255), (0, 0, 32, 32))  # painted in alpha only, as an editor exports it
    assert mask_coverage(layer) == 0.25
    assert mask_coverage(layer.getchannel("A")) == 0.25  # what the pipeline check takes from it
    assert mask_coverage(Image.new("RGBA", (8, 8), (255, 255, 255, 255))) == 1.0  # opaque all over: brightness


def test_a_grid_is_not_compared_with_one_picture():
    from helpers.compare import correlation, psnr
    from helpers.grid import captioned_grid

    picture = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3)))
    grid = captioned_grid([picture, picture], ["a", "b"])
    for measure in (correlation, psnr):
        err = raised(lambda m=measure: m(grid, picture))
        assert isinstance(err, ValueError) and "different shapes" in str(err) and "captioned_grid" in str(err)
    assert correlation(picture, picture.resize((32, 32))) > 0.99  # same shape, another size: compared as before
