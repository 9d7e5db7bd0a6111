"""A damaged twin cache is noticed and repaired; a killed build leaves nothing behind for long (helpers/twins).

Every test works on a copy of the shared cache under tmp_path (TUTORIAL_CACHE), so the shared one is never damaged.
A "rebuild" here copies the sound cache back: the real builder is tested in tests/test_twins.py, and a copy keeps
this file fast.
"""

import json
import shutil
import time

import pytest
from filelock import FileLock

from helpers.loading import decide
from helpers.modes import snapshot_path
from helpers.paths import repo_folder
from helpers.twins import MARKER, REPAIR, TwinBuildError, ensure_built, twin_cache, verify
from helpers.twins import build as builder
from helpers.twins.__main__ import main

REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
UNET = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def sound_hub():
    return ensure_built(log=lambda m: None)  # the shared cache, verified (rebuilt once if it predates the check)


@pytest.fixture
def hub(sound_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))
    copy = twin_cache()
    shutil.copytree(sound_hub, copy)

    def rebuild(dest, src, log=print, repos=None):
        shutil.copytree(sound_hub, dest, ignore=shutil.ignore_patterns("BUILD_INFO.json"))

    monkeypatch.setattr(builder, "build_cache", rebuild)
    return copy


def logged():
    lines = []
    return lines, lines.append


def loads(hub):
    from diffusers import DiffusionPipeline

    return DiffusionPipeline.from_pretrained(REPO, cache_dir=hub, local_files_only=True, **decide(REPO).kwargs)


def test_verify_time_on_the_real_cache(sound_hub, capsys):
    files = json.loads((sound_hub / "BUILD_INFO.json").read_text())["files"]
    start = time.perf_counter()
    problems = verify(sound_hub)
    seconds = time.perf_counter() - start
    with capsys.disabled():  # a measurement to read, not a timing to assert
        print(f"\nverify() on the real twin cache: {len(files)} files, {seconds * 1000:.0f} ms")
    assert problems == []


def test_truncated_weights_are_detected_and_repaired(hub):
    unet = snapshot_path(REPO, hub) / UNET
    size = unet.stat().st_size
    with open(unet, "r+b") as f:
        f.truncate(1234)
    assert verify(hub) == [f"{REPO}: {UNET}: 1234 bytes, expected {size}"]
    lines, log = logged()
    assert ensure_built(log=log) == hub
    assert any("fails its check (1 problem:" in line and "1234 bytes" in line for line in lines), lines
    assert verify(hub) == [] and unet.stat().st_size == size
    assert type(loads(hub)).__name__ == "StableDiffusionPipeline"


def test_deleted_model_index_is_detected_and_repaired_by_the_path_command(hub, capsys):
    snap = snapshot_path(REPO, hub)
    (snap / "model_index.json").unlink()
    size = (snap / UNET).stat().st_size
    with open(snap / UNET, "r+b") as f:
        f.truncate(10)
    assert verify(hub) == [f"{REPO}: model_index.json: missing", f"{REPO}: {UNET}: 10 bytes, expected {size}"]
    assert main(["path"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == str(hub)
    assert "fails its check (2 problems:" in err
    assert verify(hub) == []
    assert type(loads(hub)).__name__ == "StableDiffusionPipeline"


def test_a_flipped_byte_of_the_same_size_is_detected(hub):
    unet = snapshot_path(REPO, hub) / UNET
    data = bytearray(unet.read_bytes())
    data[len(data) // 2] ^= 0x01
    unet.write_bytes(bytes(data))
    assert verify(hub) == [f"{REPO}: {UNET}: contents changed (same size, different sha256)"]


def test_an_old_build_record_without_a_file_table_counts_as_incomplete(hub):
    info = json.loads((hub / "BUILD_INFO.json").read_text())
    del info["files"]
    (hub / "BUILD_INFO.json").write_text(json.dumps(info))
    assert "no file table" in verify(hub)[0]
    ensure_built(log=lambda m: None)
    assert verify(hub) == []


def test_leftovers_of_a_killed_build_are_removed_by_the_next_start(hub):
    root = hub.parent
    dead = [root / "hub.partial-99999999", root / "hub.old-99999999"]
    for folder in dead:
        folder.mkdir()
        (folder / "half.safetensors").write_bytes(b"x" * 100)
    with FileLock(str(root / ".build.lock")):  # another process is building: its folders are not leftovers
        assert ensure_built(log=lambda m: None) == hub
        assert all(folder.exists() for folder in dead)
    lines, log = logged()
    assert ensure_built(log=log) == hub  # the fast path: the cache is sound, only the leftovers go
    assert not any(folder.exists() for folder in dead)
    assert lines == [f"Removed what an interrupted twin build left behind in {root}: hub.old-99999999, "
                     "hub.partial-99999999"]


def test_leftovers_of_a_killed_full_size_build_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))
    repo = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    from tools import full_size

    marker = (tmp_path / "twins" / "full" / "hub" / repo_folder(repo) / "snapshots" / full_size.revision(repo)
              / MARKER)
    marker.parent.mkdir(parents=True)  # a finished full-size twin, so nothing needs building
    marker.write_text(json.dumps({"builder_version": full_size.VERSION, "size": "full"}))
    dead = tmp_path / "twins" / "full" / "build.partial-99999999"
    (dead / "models--x--y").mkdir(parents=True)
    full_size.ensure_full_built([repo], log=lambda m: None)
    assert not dead.exists() and marker.is_file()


def test_check_exit_codes(hub, capsys):
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("OK")
    (snapshot_path(REPO, hub) / "model_index.json").unlink()
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"{REPO}: model_index.json: missing" in out and out.strip().endswith(f"repair: {REPAIR}")
    assert main(["check"]) == 1  # check only looks: it repaired nothing
    capsys.readouterr()
    shutil.rmtree(hub)
    assert main(["check"]) == 1 and "not built" in capsys.readouterr().out


def test_a_failed_repair_names_the_command_that_rebuilds(hub, monkeypatch):
    from helpers.twins import TwinBuildError

    def broken(dest, src, log=print, repos=None):
        dest.mkdir(parents=True)
        raise RuntimeError("the builder broke")

    (snapshot_path(REPO, hub) / "model_index.json").unlink()
    monkeypatch.setattr(builder, "build_cache", broken)
    with pytest.raises(TwinBuildError, match=f"the builder broke. .*{REPAIR}"):
        ensure_built(log=lambda m: None)
    assert not list(hub.parent.glob("hub.partial-*"))


def test_a_held_lock_is_waited_for_out_loud_and_given_up(hub):
    import subprocess
    import sys

    from helpers import twins

    lock = hub.parent / twins.LOCK_NAME
    # another process's build, stopped with Ctrl-Z: it holds the lock and never lets go
    script = (f"from filelock import FileLock; import time; held = FileLock({str(lock)!r}); held.acquire(); "
              "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lines, log = logged()
        with pytest.raises(TwinBuildError, match=r"held .* for 0 s.*delete that lock file"):
            with twins._waiting_lock(lock, log, patience=0.3, every=0.1):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert any("Waiting for another twin build" in line for line in lines)


def test_a_cache_setting_that_names_a_file(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("oops")
    monkeypatch.setenv("TUTORIAL_CACHE", str(not_a_folder))
    with pytest.raises(TwinBuildError, match="TUTORIAL_CACHE must name a folder"):
        ensure_built(log=lambda m: None)
