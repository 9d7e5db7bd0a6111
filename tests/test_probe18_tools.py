"""From the eighteenth probe: the sweep's options under diffusers' or other names (T2 --guidance_scale, T8 -o), and
`python -m tools.run` / tools.sweep with a Python that lacks the tutorial's packages (T6). Argument parsing
in-process; one subprocess with the system Python."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tools
from tools import sweep

ROOT = Path(__file__).resolve().parent.parent


def refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        sweep._arguments(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# T2, T8: another name for one of the sweep's own options got the paragraph about prompts and models
@pytest.mark.parametrize("argv, said, command", [
    (["--guidance_scale", "5"], "--guidance_scale is not an option of the sweep: did you mean --guidance? "
     "(diffusers' guidance_scale is the sweep's --guidance)", "python -m tools.sweep --guidance 5"),
    (["-o", "out.png"], "-o is not an option of the sweep: did you mean --out?", "python -m tools.sweep --out out.png"),
    (["--seeds", "3", "--guidance-scale=5", "7", "--num_inference_steps", "20"],
     "--guidance-scale and --num_inference_steps are not options of the sweep: did you mean --guidance and --steps?",
     "python -m tools.sweep --guidance 5 7 --seeds 3 --steps 20"),  # --steps 20 kept although it is the default
    (["--width", "512"], "did you mean --size? (diffusers' width is the sweep's --size) --size sets both height and "
     "width: the sweep's pictures are square.", "python -m tools.sweep --size 512"),
    (["--output=grid.png", "--force"], "--output and --force are not options of the sweep: did you mean --out and "
     "--overwrite?", "python -m tools.sweep --out grid.png --overwrite"),
    (["--guidence", "5", "--Steps", "4"], "did you mean --guidance and --steps?",  # difflib: a slip or a capital
     "python -m tools.sweep --guidance 5 --steps 4"),
])
def test_another_name_for_an_own_option_says_did_you_mean_with_the_command(argv, said, command, capsys):
    err = refused(argv, capsys)
    assert said in err, err
    assert err.rstrip().endswith(f"That is: {command}"), err
    assert "unrecognized arguments" not in err and "chapter 1's prompt" not in err


def test_the_rebuilt_command_parses_and_keeps_what_the_learner_gave():
    _, args = sweep._arguments(["--guidance", "5", "--seeds", "3", "--steps", "20"])
    assert args.guidance == [5.0] and args.seeds == [3] and args.steps == 20
    assert sweep._arguments(["--seed", "3"])[1].seeds == [3]  # argparse takes the prefix: no note needed


def test_a_bad_or_missing_value_and_a_differing_height_are_said_too(capsys):
    err = refused(["--guidance_scale", "-1"], capsys)
    assert "did you mean --guidance?" in err and "Also, -1 is not a guidance scale: use 0 or more" in err
    err = refused(["--seeds", "0", "-o"], capsys)
    assert "Also, --out needs a value, e.g. --out sweep.png." in err
    assert err.rstrip().endswith("python -m tools.sweep --seeds 0 --out sweep.png")
    err = refused(["--height", "512", "--width", "768"], capsys)
    assert "--height and --width are not options of the sweep: did you mean --size?" in err
    assert "--height 512 and --width 768 differ: the command keeps 512 (for another shape, call run_sweep" in err
    assert err.rstrip().endswith("python -m tools.sweep --size 512")


def test_accelerate_device_and_truly_unknown_options_keep_their_messages(capsys):
    err = refused(["--guidance_scale", "5", "--num_processes", "2"], capsys)
    assert "did you mean --guidance? (diffusers' guidance_scale is the sweep's --guidance) The command below has " \
           "it." in err
    assert err.rstrip().endswith("accelerate launch --multi_gpu --num_processes 2 -m tools.sweep --guidance 5")
    err = refused(["--cfg", "7", "--device", "cuda:1"], capsys)
    assert "--cfg is not an option of the sweep: did you mean --guidance?" in err
    assert err.rstrip().endswith("CUDA_VISIBLE_DEVICES=1 python -m tools.sweep --guidance 7")
    err = refused(["--guidance_scale", "5", "--prompt", "a castle"], capsys)
    assert "did you mean --guidance?" in err and "That is: python -m tools.sweep --guidance 5\n" in err
    assert "unrecognized arguments: --prompt a castle. The command renders chapter 1's prompt" in err
    for argv in (["--strength", "0.5"], ["--model", "x"], ["--batch_size", "2"], ["--scheduler", "ddim"]):
        err = refused(argv, capsys)
        assert f"unrecognized arguments: {' '.join(argv)}. The command renders" in err and "did you mean" not in err


# T6: the system python3 (venv not activated) ended in "No module named 'PIL'"
def test_packages_are_checked_only_under_python_dash_m(monkeypatch, capsys):
    looked = []
    monkeypatch.setattr("importlib.util.find_spec", lambda name: looked.append(name))  # everything "missing"
    monkeypatch.setattr(sys, "argv", ["pytest"])  # an import from Python (tests, run_sweep): nothing checked
    tools._check_packages()
    monkeypatch.setattr(sys, "argv", ["-m"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "tools.nbclean"], raising=False)  # not one of the two
    tools._check_packages()
    assert not looked
    monkeypatch.setattr(sys, "orig_argv", ["python", "-X", "dev", "-m", "tools.sweep", "-o", "a b.png"], raising=False)
    with pytest.raises(SystemExit) as stop:
        tools._check_packages()
    assert stop.value.code == 1 and looked == ["torch", "diffusers", "accelerate", "PIL"]
    err = capsys.readouterr().err
    assert f"python -m tools.sweep: error: this Python ({sys.executable})" in err
    assert "python -m tools.sweep -o 'a b.png'" in err  # the learner's own command, quoted for the shell


def test_the_message_fits_the_environment_it_finds(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", str(ROOT / ".venv"))  # the venv itself is active: its install is incomplete
    monkeypatch.chdir(ROOT)
    text = tools._missing_packages_message("tools.run", [], ["nbclient"])
    assert "is the tutorial's environment (.venv), and it lacks nbclient: finish its setup" in text
    assert text.endswith("run the command again: pip install -r requirements-dev.txt -c constraints.txt && "
                         "python -m tools.run") and "activate" not in text
    monkeypatch.setattr(sys, "prefix", "/usr")
    monkeypatch.setattr(tools, "__file__", str(tmp_path / "tools" / "__init__.py"))  # a checkout without .venv
    monkeypatch.chdir(tmp_path)
    text = tools._missing_packages_message("tools.run", ["--twins"], ["torch", "Pillow"])
    assert "lacks torch and Pillow, and the tutorial's environment (.venv) is not set up yet: run README's " \
           "command 1" in text
    assert text.endswith("then: python -m tools.run --twins")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("")
    text = tools._missing_packages_message("tools.run", ["--twins"], ["torch"])
    assert "lacks torch: activate the tutorial's environment first (`. .venv/bin/activate`, as README's" in text
    assert text.endswith("That is: . .venv/bin/activate && python -m tools.run --twins")


@pytest.mark.parametrize("module, lacks", [("tools.run", "lacks torch, diffusers, Pillow, nbformat and nbclient"),
                                           ("tools.sweep", "lacks torch, diffusers, accelerate and Pillow")])
def test_a_python_without_the_packages_is_told_to_set_them_up(module, lacks):
    # -S leaves out site-packages: this Python then lacks the tutorial's packages, as a system Python does
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([sys.executable, "-S", "-E", "-m", module, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and not done.stdout, done
    assert "Traceback" not in done.stderr and "No module named" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"python -m {module}: error: this Python ({sys.executable}) {lacks}"), done.stderr
