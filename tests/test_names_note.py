"""A name that is not defined gets the note its cause needs, read from the kernel's input history."""

import pytest


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    from helpers import explain

    was_on = explain._STATE["enabled"]
    made = InteractiveShell.instance()
    explain.enable(made)
    yield made
    explain.disable(made)
    InteractiveShell.clear_instance()
    if was_on:  # leave the worker's checks as they were
        explain.enable()


def _note(shell, *cells) -> str:
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        for cell in cells:
            shell.run_cell(cell, store_history=True)
    return cap.stdout + cap.stderr


def test_a_name_freed_by_del_names_the_del_and_the_cell_that_made_it(shell):
    text = _note(shell, "pipeline = object()", "x = 1", "del pipeline  # free it before the next model", "pipeline")
    assert "`pipeline` was deleted by `del pipeline` in In[3]" in text
    assert "run In[1] again, the cell that makes `pipeline`" in text and "from the top" not in text


def test_a_cell_that_frees_then_loads_and_fails_is_not_sent_round_in_a_loop(shell):
    # chapter 4's pattern: `del pipeline` then a new from_pretrained in one cell, and the load fails
    text = _note(shell, "pipeline = object()", "del pipeline\nraise OSError('download failed')\npipeline = 1",
                 "pipeline")
    assert "In[2] makes `pipeline`, but it is not defined now" in text and "run In[2] again" in text
    # running In[2] again stops at its own del: the note says to skip that line, not to run the cell again
    text = _note(shell, "del pipeline\npipeline = 2")
    assert "`pipeline` is already gone" in text and "skip this line" in text


def test_a_cell_that_makes_and_frees_a_name_is_not_the_one_to_run_again(shell):
    text = _note(shell, "tmp = object()\nx = 1\ndel tmp", "tmp")
    assert "the cells that made it also delete it" in text and "run In[1] again" not in text


def test_a_cell_that_stopped_before_its_assignment_is_named(shell):
    text = _note(shell, "raise RuntimeError('download failed')\nrefiner = object()", "refiner")
    assert "In[1] makes `refiner`, but it is not defined now" in text and "run In[1] again" in text


def test_a_typo_of_a_defined_name_is_said_without_claiming_a_restart(shell):
    text = _note(shell, "pipeline = object()", "pipline")
    assert "`pipeline` exists" in text and "correct the spelling" in text and "restarted" not in text


def test_a_name_no_cell_made_sends_the_learner_to_the_cells_above(shell):
    text = _note(shell, "never_made_here")
    assert "has not run yet" in text and "from the top" in text


def test_made_again_after_the_del_is_not_blamed_on_the_del(shell):
    text = _note(shell, "p = 1", "del p", "p = undefined_thing", "p")
    assert "deleted by" not in text and "In[3] makes `p`" in text


def test_a_name_error_inside_a_library_function_gets_no_history_note(shell):
    import types

    module = types.ModuleType("somelib")
    exec(compile("def f():\n    return undefined_in_lib\n", "/tmp/somelib.py", "exec"), module.__dict__)
    shell.user_ns["somelib"] = module
    text = _note(shell, "somelib.f()")
    assert "NameError" in text and "What this means" not in text


def test_outside_a_notebook_no_note_is_guessed():
    from helpers.notes import note_for

    try:
        exec("missing_name")  # noqa: S102
    except NameError as err:
        assert note_for(err) is None
