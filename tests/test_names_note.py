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
    assert "run the cell that makes `pipeline` (In[1]) again" in text and "from the top" not in text


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


def test_outside_a_notebook_no_note_is_guessed():
    from helpers.notes import note_for

    try:
        exec("missing_name")  # noqa: S102
    except NameError as err:
        assert note_for(err) is None
