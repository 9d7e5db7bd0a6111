"""From the nineteenth probe: the main job's --chapter (T1), --list (T8) and --lang en zh (T10), and the sweep's
--overwrite yes (T6). Argument parsing in-process: nothing runs, loads or is written."""

import pytest

from tools import run, sweep


def refused(parse, argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        parse(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# T1: chapters are named without an option; the message rebuilds the learner's command
@pytest.mark.parametrize("argv, command", [
    (["--twins", "--lang", "en", "--chapter", "1"],
     "python -m tools.run --twins --lang en 1 (or 01_guidance_scale.ipynb)"),
    (["--chapter=01_guidance_scale.ipynb"], "python -m tools.run 01_guidance_scale.ipynb (or 1)"),
    (["--chapter"], "python -m tools.run 1 (or 01_guidance_scale.ipynb)"),  # no value: chapter 1 as the example
])
def test_chapter_is_no_option_and_the_command_names_the_chapters_themselves(argv, command, capsys):
    err = refused(run._arguments, argv, capsys)
    assert f"tools.run has no --chapter: name the chapters themselves, e.g. {command}; python -m tools.run --list " \
           "lists them." in err, err
    assert "unrecognized arguments" not in err


def test_the_rebuilt_run_command_parses_to_what_the_learner_meant(capsys):
    err = refused(run._arguments, ["--chapters", "1", "3", "--timeout", "60"], capsys)
    assert "tools.run has no --chapters: name the chapters themselves, e.g. python -m tools.run --timeout 60 1 3 " \
           "(or 01_guidance_scale.ipynb 03_chaining_pipelines.ipynb)" in err, err
    _, args = run._arguments(["--timeout", "60", "1", "3"])
    assert args.notebooks == ["1", "3"] and args.timeout == 60 and args.lang == "both"
    assert run._arguments(["1", "--twins", "2"])[1].notebooks == ["1", "2"]  # chapters after an option too


# T8: --list prints the chapters, by number and file name, and runs nothing
def test_list_prints_the_chapters_and_runs_nothing(capsys, monkeypatch):
    monkeypatch.setattr(run, "run_all", lambda *a, **k: pytest.fail("--list ran a chapter"))
    assert run.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The chapters (name them by number or file name, e.g. python -m tools.run 1 3; no name "
                          "runs them all):")
    assert "   1  01_guidance_scale.ipynb" in out and "guidance_scale\n" in out and "5  05_inpainting.ipynb" in out
    assert "runs in English and in Chinese (notebooks/zh/) unless --lang en or --lang zh picks one edition" in out


# T10: --lang takes one value; both (the default) is English and Chinese
@pytest.mark.parametrize("argv, said, command", [
    (["--lang", "en", "zh", "1"], "--lang takes one value: en, zh or both (the default: the English and the Chinese "
     "edition), so 'zh' was read as a chapter.", "python -m tools.run --lang both 1"),
    (["--twins", "--lang", "zh", "en"], "so 'en' was read as a chapter", "python -m tools.run --twins --lang both"),
    (["zh", "2"], "'zh' is an edition, not a chapter: choose the edition with --lang en, zh or both (the default).",
     "python -m tools.run --lang zh 2"),
])
def test_lang_takes_one_value_and_the_command_says_both(argv, said, command, capsys):
    err = refused(run._arguments, argv, capsys)
    assert said in err and err.rstrip().endswith(f"That is: {command}"), err
    assert "is not a chapter notebook" not in err


def test_a_value_after_a_switch_of_the_main_job_is_said(capsys):
    err = refused(run._arguments, ["--twins", "yes", "1"], capsys)
    assert "--twins is a switch that takes no value ('yes' is not read): write --twins alone to switch it on." in err
    assert err.rstrip().endswith("That is: python -m tools.run --twins 1")
    err = refused(run._arguments, ["--foo", "1"], capsys)  # an unknown option keeps argparse's words
    assert "unrecognized arguments: --foo (python -m tools.run --help lists the options)" in err


# T6: --overwrite is a switch; its value got the paragraph about prompts and models
@pytest.mark.parametrize("argv, said, command", [
    (["--overwrite", "yes"], "--overwrite is a switch that takes no value ('yes' is not read): write --overwrite "
     "alone to replace an existing grid file (leave it out to keep that file).", "python -m tools.sweep --overwrite"),
    (["--seeds", "3", "--overwrite=true"], "('true' is not read)", "python -m tools.sweep --seeds 3 --overwrite"),
    (["--overwrite", "no", "--steps", "4"], "('no' is not read): leave --overwrite out to keep an existing grid file.",
     "python -m tools.sweep --steps 4"),
])
def test_overwrite_is_a_switch_that_takes_no_value(argv, said, command, capsys):
    err = refused(sweep._arguments, argv, capsys)
    assert said in err and err.rstrip().endswith(f"That is: {command}"), err
    assert "unrecognized arguments" not in err and "chapter 1's prompt" not in err
    assert sweep._arguments(["--seeds", "3", "--overwrite"])[1].overwrite  # the command it gives parses


def test_overwrite_under_another_name_with_a_value_and_a_real_unknown_option(capsys):
    err = refused(sweep._arguments, ["--force", "yes"], capsys)
    assert "did you mean --overwrite? Also, --overwrite is a switch that takes no value ('yes' is not read)." in err
    assert err.rstrip().endswith("That is: python -m tools.sweep --overwrite") and "chapter 1's prompt" not in err
    err = refused(sweep._arguments, ["--overwrite", "yes", "--prompt", "a cat"], capsys)
    assert "--overwrite is a switch" in err and "unrecognized arguments: --prompt a cat. The command renders" in err
