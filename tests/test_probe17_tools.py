"""From the seventeenth probe: the sweep's command line (T2 accelerate's options after the module, T3 --device,
T5 a list option given twice). Argument parsing only, in-process: nothing loads or renders."""

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from tools import sweep, sweep_slips


def refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        sweep._arguments(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# T5: argparse's last-one-wins dropped --seeds 0 without a word
def test_a_list_option_given_twice_adds_to_the_list(capsys):
    assert sweep._arguments(["--seeds", "0", "--seeds", "1"])[1].seeds == [0, 1]
    _, args = sweep._arguments(["--guidance", "5", "--guidance", "7", "9", "--seeds", "4"])
    assert args.guidance == [5.0, 7.0, 9.0] and args.seeds == [4]
    _, args = sweep._arguments([])  # the defaults, not added to
    assert args.guidance == [1.0, 5.0, 10.0] and args.seeds == [0, 1] and args.steps == 20
    err = refused(["--seeds", "0", "--seeds", "0"], capsys)  # a repeat across two flags is still caught
    assert "--seeds gives 0 more than once" in err and "--seeds 0 1" in err
    assert "--seeds 0 1" in refused(["--seeds", "0", "0"], capsys)
    assert "--guidance gives 5 more than once" in refused(["--guidance", "5", "--guidance", "5.0"], capsys)


# T2: accelerate launch -m tools.sweep --num_processes 2 ...: the option reached the sweep
@pytest.mark.parametrize("argv, names, command", [
    (["--num_processes", "2", "--guidance", "5", "--steps", "10"], "--num_processes is an option",
     "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep --guidance 5 --steps 10"),
    (["--multi_gpu", "--num-processes=2"], "--multi_gpu and --num_processes are options",
     "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep"),
    (["--mixed_precision", "fp16", "--seeds", "3"], "--mixed_precision is an option",
     "accelerate launch --mixed_precision fp16 -m tools.sweep --seeds 3"),
    (["--gpu_ids", "0,1", "--main_process_port", "29501", "--num_machines", "1"],
     "--gpu_ids, --main_process_port and --num_machines are options",
     "accelerate launch --gpu_ids 0,1 --main_process_port 29501 --num_machines 1 -m tools.sweep"),
])
def test_accelerates_options_after_the_module_are_told_to_go_before_it(argv, names, command, capsys):
    err = refused(argv, capsys)
    assert f"{names} of accelerate launch, not of the sweep" in err, err
    assert "options before -m tools.sweep" in err and err.rstrip().endswith(command), err
    assert "unrecognized arguments" not in err


def test_cpu_and_device_say_the_sweep_picks_the_device_and_how_to_force_the_cpu(capsys):
    err = refused(["--cpu", "--size", "64"], capsys)
    assert "--cpu is an option of accelerate launch" in err
    assert "accelerate launch --cpu -m tools.sweep --size 64" in err
    assert "CUDA_VISIBLE_DEVICES= python -m tools.sweep --size 64" in err
    err = refused(["--device", "cpu", "--seeds", "3"], capsys)
    assert "The sweep has no --device: it picks the device itself, CUDA when torch sees a GPU" in err
    assert err.rstrip().endswith("CUDA_VISIBLE_DEVICES= python -m tools.sweep --seeds 3")
    assert "unrecognized arguments" not in err and "accelerate launch" not in err
    assert refused(["--device=cuda:1"], capsys).rstrip().endswith("CUDA_VISIBLE_DEVICES=1 python -m tools.sweep")
    assert refused(["--device", "cuda"], capsys).rstrip().endswith("leave --device out: python -m tools.sweep")


def test_unknown_options_keep_the_prompt_model_strength_message(capsys):
    err = refused(["--prompt", "a castle", "--num_processes", "2"], capsys)
    assert "unrecognized arguments: --prompt a castle. The command renders chapter 1's prompt" in err
    assert "run_sweep" in err and "--num_processes is an option of accelerate launch" in err
    assert "unrecognized arguments: --prompt" not in refused(["--device", "cpu"], capsys)


def test_main_refuses_before_anything_loads(monkeypatch, capsys):
    monkeypatch.setattr("helpers.use_models", lambda **kw: pytest.fail("it loaded before refusing"))
    with pytest.raises(SystemExit):
        sweep.main(["--guidance", "5", "--num_processes", "2"])
    assert "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep --guidance 5" in capsys.readouterr().err
    assert "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep" in sweep.__doc__  # the same form


def test_the_options_named_as_accelerates_are_its_own():
    launch = Path(importlib.util.find_spec("accelerate").origin).parent / "commands" / "launch.py"  # no import
    flags, values = set(), set()
    for node in ast.walk(ast.parse(launch.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args:
            name = getattr(node.args[0], "value", None)
            action = next((k.value.value for k in node.keywords if k.arg == "action"), None)
            (flags if action == "store_true" else values).add(name)
    assert sweep_slips.ACCELERATE_FLAGS <= flags and sweep_slips.ACCELERATE_VALUES <= values


def test_the_device_is_cuda_when_torch_sees_it_and_the_cpu_under_accelerate_launch_cpu(monkeypatch):
    made = []
    accelerate = types.SimpleNamespace(PartialState=lambda cpu: made.append(cpu))
    monkeypatch.setitem(sys.modules, "accelerate", accelerate)
    for cuda, env, cpu in [(True, None, False), (False, None, True), (True, "True", True), (True, "False", False)]:
        monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=types.SimpleNamespace(
            is_available=lambda cuda=cuda: cuda)))
        if env is None:
            monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
        else:
            monkeypatch.setenv("ACCELERATE_USE_CPU", env)
        sweep._state()
        assert made[-1] is cpu, (cuda, env)
