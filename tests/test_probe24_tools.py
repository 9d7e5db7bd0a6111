"""From a twenty-fourth probe: tools.run's options typed without their dashes (T2), and the sweep's --workers 2 (T9).

`python -m tools.run twins` was told "give no name to run them all", which drops --twins (on a machine with
internet, the real-weights job); --workers 2 got advice about prompts and models. Argument parsing in-process:
nothing runs, loads or is written."""

import pytest

from tools import run, sweep


def refused(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# T2: an option of tools.run typed as a word is said with its dashes, and nothing runs
@pytest.mark.parametrize("argv, meant, command", [
    (["twins"], "did you mean --twins?", "python -m tools.run --twins"),
    (["twins", "1"], "did you mean --twins?", "python -m tools.run --twins 1"),
    (["twin"], "did you mean --twins?", "python -m tools.run --twins"),
    (["lang", "en"], "did you mean --lang en?", "python -m tools.run --lang en"),
    (["list"], "did you mean --list?", "python -m tools.run --list"),
    (["timeout", "900", "2"], "did you mean --timeout 900?", "python -m tools.run --timeout 900 2"),
])
def test_an_option_without_its_dashes_is_said_with_them(argv, meant, command, capsys):
    err = refused(run.main, argv, capsys)
    assert f"is not a chapter: it is tools.run's {meant.split()[3].rstrip('?')} option, which needs its dashes: " \
           f"{meant}" in err, err
    assert f"That is: {command}\n" in err, err
    assert "give no name to run them all" not in err and "not a chapter notebook here" not in err


def test_twins_typed_bare_says_what_the_option_does(capsys):
    err = refused(run.main, ["twins"], capsys)
    assert "'twins' is not a chapter: it is tools.run's --twins option, which needs its dashes: did you mean " \
           "--twins? (preview on the offline twins (the same as TUTORIAL_MODELS=twins): nothing is downloaded)" in err


def test_a_mode_typed_bare_is_said_with_the_variable(capsys):
    err = refused(run.main, ["hub"], capsys)
    assert "'hub' is not a chapter: it is a value of the TUTORIAL_MODELS environment variable" in err, err
    assert "That is: TUTORIAL_MODELS=hub python -m tools.run\n" in err


def test_the_right_forms_still_parse():
    _, args = run._arguments(["--twins", "--lang", "en", "1"])
    assert args.twins and args.lang == "en" and args.notebooks == ["1"]
    _, args = run._arguments(["01_guidance_scale", "3"])
    assert args.notebooks == ["01_guidance_scale", "3"] and not args.twins


def test_an_unknown_word_is_still_told_the_chapters(capsys, monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")  # --twins sets it: restored after the test
    err = refused(run.main, ["--twins", "jungle"], capsys)
    assert "'jungle' is not a chapter notebook here" in err and "did you mean" not in err


# T9: processes are accelerate's, and the sweep says its command
@pytest.mark.parametrize("argv, command", [
    (["--workers", "2"], "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep"),
    (["--steps", "5", "-j", "4"], "accelerate launch --multi_gpu --num_processes 4 -m tools.sweep --steps 5"),
    (["-j2"], "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep"),
    (["--num_workers=3"], "accelerate launch --multi_gpu --num_processes 3 -m tools.sweep"),
    (["--jobs"], "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep"),
    (["--gpus", "0,1", "--seeds", "1", "2"],
     "accelerate launch --multi_gpu --num_processes 2 --gpu_ids 0,1 -m tools.sweep --seeds 1 2"),
])
def test_workers_are_told_accelerate_launch(argv, command, capsys):
    err = refused(sweep.main, argv, capsys)
    assert "the sweep has no option for processes or workers. accelerate starts them, one process per GPU" in err
    assert err.rstrip().endswith(command), err
    assert "--prompt, --model" not in err  # the advice about what the sweep renders is for other names


def test_the_prompt_advice_stays_for_the_names_it_was_written_for(capsys):
    err = refused(sweep.main, ["--workers", "2", "--prompt", "cat"], capsys)
    assert "accelerate launch --multi_gpu --num_processes 2 -m tools.sweep\n" in err
    assert "unrecognized arguments: --prompt cat. The command renders chapter 1's prompt" in err
    err = refused(sweep.main, ["--model", "x"], capsys)
    assert "accelerate" not in err and "it has no --prompt, --model or --strength" in err
