"""Tests for helpers.images: chapter images (offline stand-ins, caching), safe file loading, masks."""

import io
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import images


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TUTORIAL_OFFLINE", raising=False)
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    def refuse(url):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(images, "_download", refuse)


def png_bytes(color=(10, 200, 30), size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name", list(images.CHAPTER_IMAGES))
def test_offline_stand_ins(name, cache, no_network, capsys):
    image = images.load_chapter_image(name, offline=True)
    assert image.mode == "RGB"
    assert image.size == (512, 512)
    assert image.info["tutorial_source"] == "offline stand-in"
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith(f"image {name!r}: offline stand-in — ")
    assert not (cache / "images").exists()


def test_stand_ins_are_deterministic(cache, no_network):
    a = images.load_chapter_image("control", offline=True)
    b = images.load_chapter_image("control", offline=True)
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_control_stand_in_is_another_scene(cache, no_network):
    # the real control.png is the depth map of another photo (the model card's lecture hall), so its stand-in
    # must not share the start image's layout
    control = np.asarray(images.load_chapter_image("control", offline=True).convert("L"), dtype=float)
    start = np.asarray(images.load_chapter_image("img2img-init", offline=True).convert("L"), dtype=float)
    assert control.shape == start.shape
    assert abs(np.corrcoef(control.ravel(), start.ravel())[0, 1]) < 0.5


def test_stand_in_mask_matches_cat(cache, no_network):
    mask = images.load_chapter_image("inpaint_mask", offline=True)
    assert 0.1 < images.mask_coverage(mask) < 0.5
    assert set(np.unique(np.asarray(mask))) == {0, 255}


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "TUTORIAL_OFFLINE"])
def test_offline_env(var, cache, no_network, monkeypatch, capsys):
    monkeypatch.setenv(var, "1")
    image = images.load_chapter_image("img2img-init")
    assert image.info["tutorial_source"] == "offline stand-in"
    assert var in capsys.readouterr().out


def test_offline_false_overrides_env(cache, monkeypatch):
    monkeypatch.setenv("TUTORIAL_OFFLINE", "1")
    monkeypatch.setattr(images, "_download", lambda url: png_bytes())
    assert images.load_chapter_image("inpaint", offline=False).info["tutorial_source"] == "chapter URL"


def test_download_then_cache(cache, monkeypatch, capsys):
    fetched = []

    def fake_download(url):
        fetched.append(url)
        return png_bytes()

    monkeypatch.setattr(images, "_download", fake_download)
    first = images.load_chapter_image("inpaint")
    assert fetched == [images.CHAPTER_IMAGES["inpaint"]]
    assert (cache / "images" / "inpaint.png").is_file()
    assert list((cache / "images").iterdir()) == [cache / "images" / "inpaint.png"]  # no temp files left
    assert first.size == (40, 30)
    assert first.getpixel((0, 0)) == (10, 200, 30)
    assert first.info["tutorial_source"] == "chapter URL"

    second = images.load_chapter_image("inpaint", offline=True)  # the cache is used even offline
    assert fetched == [images.CHAPTER_IMAGES["inpaint"]]
    assert second.getpixel((0, 0)) == (10, 200, 30)
    lines = capsys.readouterr().out.splitlines()
    where = (cache / "images" / "inpaint.png").resolve()  # the full path: the learner can open it from there
    assert lines == [
        f"image 'inpaint': chapter URL (downloaded, cached at {where})",
        f"image 'inpaint': chapter URL (cached at {where})",
    ]


def test_download_failure_falls_back(cache, monkeypatch, capsys):
    def unreachable(url):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(images, "_download", unreachable)
    image = images.load_chapter_image("img2img-init")
    assert image.info["tutorial_source"] == "offline stand-in"
    assert "the chapter URL was not reachable" in capsys.readouterr().out
    assert not (cache / "images" / "img2img-init.png").exists()


def test_download_not_an_image_falls_back(cache, monkeypatch):
    monkeypatch.setattr(images, "_download", lambda url: b"<html>rate limited</html>")
    assert images.load_chapter_image("control").info["tutorial_source"] == "offline stand-in"
    assert not (cache / "images" / "control.png").exists()


def test_an_unreadable_file_in_the_cache_is_left_alone_and_named(cache, monkeypatch, capsys):
    (cache / "images").mkdir()
    mine = cache / "images" / "control.png"
    mine.write_bytes(b"\x00\x00\x00\x18ftypheic")  # a learner's HEIC photo saved under the cached name
    monkeypatch.setattr(images, "_download", lambda url: png_bytes((1, 2, 3)))
    assert images.load_chapter_image("control").getpixel((0, 0)) == (1, 2, 3)  # downloaded and used
    assert mine.read_bytes() == b"\x00\x00\x00\x18ftypheic"  # neither deleted nor overwritten
    out = capsys.readouterr().out
    assert f"downloaded, not cached: {mine.resolve()} is there but cannot be used (Pillow cannot read it" in out
    assert "it was left as it is: rename or remove it" in out
    image = images.load_chapter_image("control", offline=True)  # offline: the stand-in, and the same words
    assert image.info["tutorial_source"] == "offline stand-in" and mine.read_bytes().endswith(b"heic")
    assert "left as it is" in capsys.readouterr().out


def test_a_file_too_large_for_pillow_is_left_alone_too(cache, monkeypatch, capsys):
    (cache / "images").mkdir()
    mine = cache / "images" / "control.png"
    mine.write_bytes(png_bytes())
    real_open = images._open_guarded

    def huge(source, label):  # Pillow's own guard refuses the file before it is decoded
        if isinstance(source, Path):
            raise Image.DecompressionBombError("Image size (400000000 pixels) exceeds limit of 178956970 pixels, "
                                               "could be decompression bomb DOS attack.")
        return real_open(source, label)

    monkeypatch.setattr(images, "_open_guarded", huge)
    image = images.load_chapter_image("control", offline=True)
    assert image.info["tutorial_source"] == "offline stand-in" and mine.read_bytes() == png_bytes()
    assert "decompression bomb" in capsys.readouterr().out.lower()


def test_an_oversized_file_in_the_cache_is_left_alone(cache, monkeypatch, capsys):
    (cache / "images").mkdir()
    mine = cache / "images" / "inpaint.png"
    mine.write_bytes(png_bytes())
    monkeypatch.setattr(images, "MAX_MEGAPIXELS", 0.0001)  # 40x30 px is over a 100-pixel limit
    monkeypatch.setattr(images, "_download", lambda url: (_ for _ in ()).throw(urllib.error.URLError("offline")))
    assert images.load_chapter_image("inpaint").info["tutorial_source"] == "offline stand-in"
    assert mine.read_bytes() == png_bytes()
    assert "megapixel" in capsys.readouterr().out


def test_size_resizes(cache, no_network):
    image = images.load_chapter_image("inpaint", size=(256, 128), offline=True)
    assert image.size == (256, 128)
    assert image.info["tutorial_source"] == "offline stand-in"


@pytest.mark.parametrize("size", [(0, 10), (10,), "512", (10.5, 10)])
def test_bad_size(size, cache):
    with pytest.raises(ValueError, match="size="):
        images.load_chapter_image("inpaint", size=size, offline=True)


def test_unknown_name_lists_names(cache):
    with pytest.raises(ValueError, match="img2img-init, inpaint, inpaint_mask, control"):
        images.load_chapter_image("cat")


def test_download_rejects_non_http():
    with pytest.raises(ValueError, match="only http"):
        images._download("file:///etc/passwd")


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "ftp://example.com/a.png", "data:image/png;base64,AAAA"])
def test_load_image_file_bad_schemes(bad, no_network):
    with pytest.raises(ValueError, match="path_or_url=.*only http\\(s\\) URLs and local paths are accepted"):
        images.load_image_file(bad)


def test_load_image_file_url(monkeypatch):
    monkeypatch.setattr(images, "_download", lambda url: png_bytes((5, 6, 7)))
    assert images.load_image_file("https://example.com/x.png").getpixel((1, 1)) == (5, 6, 7)


def test_load_image_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="path_or_url="):
        images.load_image_file(tmp_path / "nope.png")


def test_load_image_file_wrong_type():
    with pytest.raises(TypeError, match="path_or_url"):
        images.load_image_file(123)


def test_megapixel_guard(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (1000, 600)).save(path)  # 0.6 megapixels
    monkeypatch.setattr(images, "MAX_MEGAPIXELS", 0.5)
    with pytest.raises(ValueError, match="1000x600.*megapixel limit"):
        images.load_image_file(path)
    monkeypatch.setattr(images, "MAX_MEGAPIXELS", 1)
    assert images.load_image_file(path).size == (1000, 600)


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_load_image_file_converts_to_rgb(mode, tmp_path, capsys):
    path = tmp_path / "in.png"
    Image.new("RGB", (8, 8), (50, 50, 50)).convert(mode).save(path)
    image = images.load_image_file(str(path))
    assert image.mode == "RGB"
    assert f"converted mode {mode} -> RGB" in capsys.readouterr().out


def test_load_image_file_16_bit_depth_is_scaled(tmp_path):
    path = tmp_path / "depth.png"
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(path)
    assert images.load_image_file(path).getpixel((0, 0)) == (255, 255, 255)


def test_load_image_file_rgb_is_quiet(tmp_path, capsys):
    path = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(path)
    images.load_image_file(path)
    assert capsys.readouterr().out == ""


def test_make_mask_box_coverage():
    mask = images.make_mask((100, 50), box=(0, 0, 50, 50))
    assert mask.mode == "L"
    assert mask.size == (100, 50)
    assert images.mask_coverage(mask) == pytest.approx(0.5)
    assert mask.getpixel((10, 10)) == 255
    assert mask.getpixel((60, 10)) == 0


def test_make_mask_ellipse_coverage():
    mask = images.make_mask((200, 200), ellipse=(0, 0, 200, 200))
    assert images.mask_coverage(mask) == pytest.approx(np.pi / 4, abs=0.02)


def test_make_mask_union():
    mask = images.make_mask((100, 100), box=(0, 0, 50, 100), ellipse=(50, 0, 100, 100))
    assert 0.5 < images.mask_coverage(mask) < 1.0


def test_make_mask_feather_softens_edge():
    hard = images.make_mask((64, 64), box=(16, 16, 48, 48))
    soft = images.make_mask((64, 64), box=(16, 16, 48, 48), feather=4)
    assert set(np.unique(np.asarray(hard))) == {0, 255}
    assert len(np.unique(np.asarray(soft))) > 2
    assert images.mask_coverage(soft) == pytest.approx(images.mask_coverage(hard), abs=0.05)


def test_make_mask_needs_a_shape():
    with pytest.raises(ValueError, match="box=.*ellipse="):
        images.make_mask((64, 64))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"box": (0, 0, 65, 10)}, "box="),
        ({"box": (10, 0, 5, 10)}, "box="),
        ({"ellipse": (-1, 0, 10, 10)}, "ellipse="),
        ({"ellipse": (0, 0, 10)}, "ellipse="),
        ({"box": (0, 0, 10, 10), "feather": -2}, "feather="),
    ],
)
def test_make_mask_validation(kwargs, word):
    with pytest.raises(ValueError, match=word):
        images.make_mask((64, 64), **kwargs)


def test_mask_coverage_rejects_arrays():
    with pytest.raises(TypeError, match="mask"):
        images.mask_coverage(np.zeros((4, 4)))


def test_a_path_from_the_home_folder_is_read_as_a_shell_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "me.png")
    assert images.load_image_file("~/me.png").getpixel((0, 0)) == (1, 2, 3)
