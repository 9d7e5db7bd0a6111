import os
import subprocess
import sys
import textwrap

import pytest

from helpers.modes import HubUnavailableError, decide, is_cached

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def test_twins_mode_never_probes_the_network():
    assert decide("twins", [SD], reachable=None, cached=None) == "twins"


@pytest.mark.parametrize(("reachable", "cached", "expected"), [
    (True, False, "hub"), (False, True, "hub"), (False, False, "twins"), (True, True, "hub"),
])
def test_auto_prefers_real_weights(reachable, cached, expected):
    assert decide("auto", [SD], reachable=reachable, cached=cached) == expected


def test_hub_mode_offline_explains_how_to_use_twins():
    with pytest.raises(HubUnavailableError, match="TUTORIAL_MODELS=twins"):
        decide("hub", [SD], reachable=False, cached=False)


def test_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODELS", "real")
    with pytest.raises(ValueError, match="auto .default., twins, hub"):
        decide(None, [SD], reachable=False, cached=False)


def test_is_cached_reads_the_hub_layout(tmp_path):
    assert not is_cached(SD, tmp_path)
    snap = tmp_path / "models--stable-diffusion-v1-5--stable-diffusion-v1-5" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    assert is_cached(SD, tmp_path)


def _run(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "TUTORIAL_MODE_ACTIVE")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_use_models_twins_points_unmodified_calls_at_twins_and_says_so(tmp_path):
    done = _run("""
        from helpers import use_models
        use_models("twins")
        import huggingface_hub.constants as c, os
        print("CACHE", c.HF_HUB_CACHE, c.HF_HUB_OFFLINE)
    """, HF_HOME=str(tmp_path / "user-hf"))
    assert done.returncode == 0, done.stderr
    assert "Models: TWINS" in done.stdout
    line = [x for x in done.stdout.splitlines() if x.startswith("CACHE")][0]
    assert line.endswith("twins/hub True")
    assert not (tmp_path / "user-hf").exists()  # nothing written to the user's own cache


def test_use_models_refuses_to_switch_after_huggingface_hub_was_imported():
    done = _run("""
        import huggingface_hub.constants  # reads HF_HUB_CACHE now, before use_models could set it
        from helpers import use_models
        use_models("twins")
    """)
    assert done.returncode != 0
    assert "restart the kernel" in done.stderr


def test_use_models_rejects_dead_ids_in_needs():
    done = _run("""
        from helpers import use_models
        use_models("twins", needs=["runwayml/stable-diffusion-v1-5"])
    """)
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in done.stderr


def test_snapshot_path_follows_refs_main(tmp_path):
    from helpers.modes import snapshot_path

    root = tmp_path / "models--a--b"
    assert snapshot_path("a/b", tmp_path) is None
    (root / "snapshots" / "abc123").mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("abc123\n")
    assert snapshot_path("a/b", tmp_path) == root / "snapshots" / "abc123"
    (root / "refs" / "main").write_text("gone")
    assert snapshot_path("a/b", tmp_path) is None
