"""The main job runs every notebook, names a failing cell, keeps going, and never loses a good result."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers.paths import PROJECT_ROOT
from tools import chapters
from tools.run import chapter_notebooks, run_all


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _temp_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _gone(pid, wait=5.0):
    """True once process `pid` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_failing_notebook_is_named_and_others_still_run(tmp_path, capsys):
    bad = _notebook(tmp_path / "01_bad.ipynb", "x = 1", "raise ValueError('strength=3 is outside [0, 1]')")
    good = _notebook(tmp_path / "02_good.ipynb",
                     "from PIL import Image\nImage.new('RGB', (8, 8), 'red')")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "index.html").write_text("<p>my own page</p>")  # TUTORIAL_BUILD aimed at a folder of mine
    failed = run_all([bad, good], out=tmp_path / "build", timeout=60)
    assert failed == 1
    out, err = capsys.readouterr()
    aside = list((tmp_path / "build").glob("index.edited-*.html"))
    assert len(aside) == 1 and aside[0].read_text() == "<p>my own page</p>"  # moved aside, not overwritten
    assert f"index.html had changes the job did not make: moved to {aside[0].resolve()}" in out
    assert "01_bad.ipynb: FAILED (code cell 2 failed: ValueError: strength=3 is outside [0, 1])" in err
    assert "02_good.ipynb: ok" in err
    page = (tmp_path / "build" / "index.html").read_text()
    assert "FAILED: code cell 2 failed: ValueError: strength=3" in page and "there is no earlier good run" in page
    assert "<a href='01_bad.failed.html'>the failed run</a>" in page and "<a href='02_good.html'>02_good</a>" in page
    good_page = (tmp_path / "build" / "02_good.html").read_text()  # the chapter itself: code, text and figure
    assert "class=\"highlight" in good_page and "RGB" in good_page and good_page.count("data:image/") == 1
    assert "FAILED: code cell 2" in (tmp_path / "build" / "01_bad.failed.html").read_text()
    assert (tmp_path / "build" / "02_good.ipynb").exists()


def test_a_failing_run_keeps_the_last_good_notebook(tmp_path, capsys):
    build = tmp_path / "build"
    chapter = _notebook(tmp_path / "01_x.ipynb", "print('good run')")
    assert run_all([chapter], out=build, timeout=60) == 0
    good = (build / "01_x.ipynb").read_bytes()

    _notebook(chapter, "raise RuntimeError('model download failed')")
    assert run_all([chapter], out=build, timeout=60) == 1
    assert (build / "01_x.ipynb").read_bytes() == good  # the earlier good result survives
    failed = nbformat.read(build / "01_x.failed.ipynb", as_version=4)
    assert "model download failed" in failed.cells[0].outputs[0]["evalue"]
    err = capsys.readouterr().err
    assert "01_x.ipynb: FAILED" in err
    assert f"wrote {(build / '01_x.failed.ipynb').resolve()}, kept the earlier good 01_x.ipynb" in err
    page = (build / "index.html").read_text()
    assert "01_x.failed.html" in page and "the last good run is kept: <a href='01_x.html'>" in page
    assert "good run" in (build / "01_x.html").read_text()  # the last good page is kept too

    _notebook(chapter, "print('fixed')")
    assert run_all([chapter], out=build, timeout=60) == 0
    assert not (build / "01_x.failed.ipynb").exists()  # a stale failure would mislead
    assert "fixed" in (build / "01_x.ipynb").read_text()
    assert _temp_files(build) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_stops_the_job_and_keeps_the_old_files(tmp_path, signum):
    build = tmp_path / "build"
    build.mkdir()
    old = build / "01_slow.ipynb"
    old.write_text('{"earlier": "good run"}')
    marker, ran = tmp_path / "kernel.pid", tmp_path / "second_ran"
    _notebook(tmp_path / "01_slow.ipynb", f"import os; open({str(marker)!r}, 'w').write(str(os.getpid()))",
              "import time; time.sleep(30)", "print('never reached')")
    _notebook(tmp_path / "02_next.ipynb", f"open({str(ran)!r}, 'w').close()")
    env = {**os.environ, "TUTORIAL_BUILD": str(build),
           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    # the real command, in its own process group, so that os.killpg reaches it as a terminal's Ctrl-C would
    job = subprocess.Popen([sys.executable, "-m", "tools.run", "01_slow.ipynb", "02_next.ipynb"],
                           cwd=tmp_path, env=env, start_new_session=True, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline and job.poll() is None, job.stdout.read() if job.poll() else "slow"
            time.sleep(0.1)
        time.sleep(0.3)  # the kernel is now in the sleep(30) cell
        os.killpg(job.pid, signum)
        output, _ = job.communicate(timeout=15)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == 130, output
    assert "Stopped by Ctrl-C (or a kill signal) during 01_slow.ipynb" in output
    assert "finished: none" in output and "not run: 01_slow.ipynb (interrupted), 02_next.ipynb" in output
    assert "from the earlier run is kept" in output and "never reached" not in output
    assert old.read_text() == '{"earlier": "good run"}'
    assert not ran.exists() and not (build / "02_next.ipynb").exists() and not (build / "index.html").exists()
    assert _temp_files(build) == []
    assert _gone(int(marker.read_text())), "the interrupted chapter's kernel is still running"


WRITER = """
import sys, time
from pathlib import Path
from tools.written import write_atomic

def write(f):
    f.write("new, half written")
    f.flush()
    Path(sys.argv[2]).touch()  # tell the test the temp file holds part of the new text
    time.sleep(30)
    f.write(" ... rest")

write_atomic(Path(sys.argv[1]), write)
"""


def test_a_kill_during_a_write_leaves_the_old_file_whole(tmp_path):
    target, busy = tmp_path / "01_x.ipynb", tmp_path / "busy"
    target.write_text("old and complete")
    job = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(busy)], cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 15
        while not busy.exists():
            assert time.monotonic() < deadline and job.poll() is None
            time.sleep(0.05)
    finally:
        job.kill()  # SIGKILL: no handler, no cleanup
        job.wait()
    assert target.read_text() == "old and complete"
    [tmp] = _temp_files(tmp_path)  # the partial text only ever lived under the temporary name
    assert (tmp_path / tmp).read_text() == "new, half written"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    from tools.written import write_atomic

    target = tmp_path / "index.html"
    target.write_text("old")

    def broken(f):
        f.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomic(target, broken)
    assert target.read_text() == "old" and _temp_files(tmp_path) == []
    write_atomic(target, lambda f: f.write("new"))
    assert target.read_text() == "new" and _temp_files(tmp_path) == []


def test_chapter_notebooks_are_numbered_and_sorted():
    names = [p.name for p in chapter_notebooks()]
    assert names and names == sorted(names)
    assert names[0] == "01_guidance_scale.ipynb"


def test_running_one_chapter_keeps_the_others_in_the_report(tmp_path):
    build = tmp_path / "build"
    first = _notebook(tmp_path / "01_a.ipynb", "from PIL import Image\nImage.new('RGB', (8, 8), 'red')")
    second = _notebook(tmp_path / "02_b.ipynb", "print('b')")
    assert run_all([first, second], out=build, timeout=60) == 0
    assert run_all([second], out=build, timeout=60) == 0  # only chapter 2 again
    page = (build / "index.html").read_text()
    assert "<a href='01_a.html'>01_a</a>" in page and "<a href='02_b.html'>02_b</a>" in page
    assert page.count("not run this time") == 1 and "data:image/" in (build / "01_a.html").read_text()


def test_chapters_are_found_by_path_name_number_or_folder(tmp_path, monkeypatch):
    from tools.run import resolve_notebooks

    monkeypatch.chdir(PROJECT_ROOT)
    chapters = [p.resolve() for p in chapter_notebooks()]
    first = chapters[0]
    assert resolve_notebooks([first.name]) == [first]  # `python -m tools.run 01_guidance_scale.ipynb`, no folder
    assert resolve_notebooks([first.stem]) == resolve_notebooks(["1"]) == [first]
    assert resolve_notebooks(["notebooks"]) == chapters  # `python -m tools.run notebooks`
    assert resolve_notebooks([str(first)]) == [first]


@pytest.mark.parametrize(("typed", "says"), [("07_nope.ipynb", "is not a chapter notebook here; name one of: 01_"),
                                             ("README.md", "is not a notebook (.ipynb)")])
def test_a_name_that_is_no_chapter_is_refused_with_the_list(typed, says, capsys, monkeypatch):
    from tools.run import main

    monkeypatch.chdir(PROJECT_ROOT)
    with pytest.raises(SystemExit) as info:
        main([typed])
    assert info.value.code == 2 and says in capsys.readouterr().err


def test_a_damaged_notebook_is_named_before_anything_runs_and_y_is_short_for_yes(tmp_path, capsys, monkeypatch):
    from tools.run import main

    monkeypatch.setenv("TUTORIAL_MODELS", "auto")
    broken = tmp_path / "09_mine.ipynb"
    broken.write_text('{"cells": [')  # an editor that stopped half-way through saving
    with pytest.raises(SystemExit) as info:
        main(["-y", "--twins", str(broken)])
    assert os.environ["TUTORIAL_MODELS"] == "twins"  # --twins: what the chapters' kernels will read
    err = capsys.readouterr().err
    assert info.value.code == 2 and "09_mine.ipynb cannot be read as a notebook" in err and "Nothing ran" in err
    assert broken.read_text() == '{"cells": ['  # left as it was


@pytest.mark.parametrize("value", ["soon", "-5", "nan"])
def test_a_bad_progress_threshold_is_refused_before_any_chapter_runs(value, capsys, monkeypatch):
    from tools.run import main

    monkeypatch.setenv("TUTORIAL_PROGRESS_AFTER", value)
    with pytest.raises(SystemExit) as info:
        main(["1"])
    assert info.value.code == 2
    assert f"TUTORIAL_PROGRESS_AFTER={value!r} is not a number of seconds" in capsys.readouterr().err


def test_the_chapters_needs_are_read_from_their_use_models_cells():
    from tools.run import chapter_needs

    needs = chapter_needs(chapter_notebooks())
    assert needs[0] == "stable-diffusion-v1-5/stable-diffusion-v1-5" and len(needs) == len(set(needs)) >= 10
    assert "diffusers/stable-diffusion-xl-1.0-inpainting-0.1" in needs


def test_before_a_download_the_size_time_and_the_twins_preview_are_said(monkeypatch, capsys):
    import helpers.modes
    from tools import run

    assert run.before_download(chapter_notebooks()) is True  # on the twins (as here): nothing to say
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(helpers.modes, "decide", lambda mode, needs=(), **kw: "hub")  # a laptop with internet
    monkeypatch.setattr(run, "_all_cached", lambda repo: False)
    monkeypatch.setattr(run, "picture_seconds", lambda device: 1100.0)
    asked = []
    assert run.before_download(chapter_notebooks(), ask=lambda q: asked.append(q) or "n") is False
    out = capsys.readouterr().out
    assert asked == ["Download and run them? [y/N] "]
    assert "REAL checkpoints" in out and "GB for" in out and "about 18 minutes on this machine's" in out
    assert "TUTORIAL_MODELS=twins python -m tools.run" in out
    assert run.before_download(chapter_notebooks(), ask=lambda q: "y") is True
    assert run.before_download(chapter_notebooks(), ask=lambda q: "n", editions=2) is False
    assert "in both editions, English and 中文, so each picture twice (--lang en or --lang zh runs one)" in \
        capsys.readouterr().out


def test_a_declined_download_runs_nothing(tmp_path, monkeypatch, capsys):
    from tools import run

    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path / "build"))  # the write check leaves the real build/ alone
    monkeypatch.setattr(run, "before_download", lambda notebooks, ask=None, editions=1: False)
    monkeypatch.setattr(run, "run_all", lambda *a, **k: pytest.fail("no chapter may run"))
    assert run.main(["1"]) == 1
    assert "Nothing was downloaded" in capsys.readouterr().out


def test_a_build_notebook_the_learner_edited_is_moved_aside_not_replaced(tmp_path):
    from tools.run import save_chapter

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    assert save_chapter(nb, "01_x", None, tmp_path) == ""  # first run: nothing there yet
    assert save_chapter(nb, "01_x", None, tmp_path) == ""  # the job's own file: replaced without a word
    mine = tmp_path / "01_x.ipynb"
    edited = nbformat.read(mine, as_version=4)
    edited.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(edited, mine)
    note = save_chapter(nb, "01_x", None, tmp_path)
    aside = [p for p in tmp_path.glob("01_x.edited-*.ipynb")]
    assert len(aside) == 1 and "my notes" in aside[0].read_text()  # the learner's notes are kept, and where is said
    assert f"moved to {aside[0].resolve()}" in note and "my notes" not in mine.read_text()


def test_the_chapters_folder_is_refused_as_the_output_and_a_chapter_named_twice_runs_once(capsys, monkeypatch):
    from tools.run import main, resolve_notebooks

    monkeypatch.chdir(PROJECT_ROOT)
    chapters = chapter_notebooks()
    assert resolve_notebooks(["notebooks", "3"]) == chapters  # chapter 3 once, in its place
    assert "Named more than once, run once: 03_" in capsys.readouterr().err
    monkeypatch.setenv("TUTORIAL_BUILD", "notebooks")
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")  # --twins sets it: restored after the test
    with pytest.raises(SystemExit) as info:
        main(["1", "--twins"])
    assert info.value.code == 2 and "is the folder the chapters themselves are in" in capsys.readouterr().err


def test_the_page_an_earlier_version_of_the_job_wrote_is_replaced_not_moved_aside(tmp_path):
    from tools.gallery import write_edition
    from tools.run import save_chapter

    (tmp_path / "index.html").write_text("<!doctype html><meta charset='utf-8'><title>diffusers img2img chapters"
                                         "</title><p>an earlier run</p>")  # no hash on record: written before them
    save_chapter(nbformat.v4.new_notebook(), "01_x", None, tmp_path, 1.0)
    write_edition(tmp_path, "en", since=0)
    assert list(tmp_path.glob("index.edited-*")) == [] and "01_x" in (tmp_path / "index.html").read_text()


def _chapters_with_a_copy(root):
    """A project folder whose notebooks/ holds two chapters and the copy Jupyter's Duplicate made of the first."""
    folder = root / "notebooks"
    folder.mkdir()
    for name in ("01_guidance_scale", "01_guidance_scale-Copy1", "02_negative_prompt"):
        _notebook(folder / f"{name}.ipynb", f"print({name!r})")
    return folder


def test_a_number_a_chapter_and_its_copy_share_is_refused_naming_both(tmp_path, capsys, monkeypatch):
    from tools import run

    folder = _chapters_with_a_copy(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(chapters, "PROJECT_ROOT", tmp_path)  # where bare names and numbers are looked up
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")  # --twins sets it: restored after the test
    with pytest.raises(SystemExit) as info:
        run.main(["--twins", "--lang", "en", "1"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert ("error: '1' matches 2 notebooks: 01_guidance_scale.ipynb and 01_guidance_scale-Copy1.ipynb (a copy "
            "Jupyter made?). Name one of them in full (python -m tools.run 01_guidance_scale.ipynb), or move the "
            "copy out of notebooks/.") in err
    copy = folder / "01_guidance_scale-Copy1.ipynb"
    assert run.resolve_notebooks(["01_guidance_scale-Copy1.ipynb"]) == [copy.resolve()]  # named in full: it runs
    assert run.resolve_notebooks(["01_guidance_scale"]) == [(folder / "01_guidance_scale.ipynb").resolve()]


def test_a_whole_run_leaves_a_copy_out_says_so_and_leaves_it_where_it_is(tmp_path, capsys, monkeypatch):
    from tools import run

    folder = _chapters_with_a_copy(tmp_path)
    copy = folder / "01_guidance_scale-Copy1.ipynb"
    before = copy.read_bytes()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(chapters, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path / "build"))
    ran = []
    monkeypatch.setattr(run, "before_download", lambda notebooks, ask=None, editions=1: ran.extend(notebooks))
    assert run.main(["--lang", "en"]) == 1  # the whole job; stopped where a declined download stops it
    assert [p.name for p in ran] == ["01_guidance_scale.ipynb", "02_negative_prompt.ipynb"]
    note = ("Not run: 01_guidance_scale-Copy1.ipynb is by its name a copy of 01_guidance_scale.ipynb (Jupyter's "
            "Duplicate names copies so), not a chapter; it is left where it is. To run it, name it: "
            "python -m tools.run notebooks/01_guidance_scale-Copy1.ipynb")
    assert note in capsys.readouterr().err
    assert run.resolve_notebooks(["notebooks"]) == [p.resolve() for p in ran]  # a folder named: the same
    assert note in capsys.readouterr().err
    assert copy.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == [
        "01_guidance_scale-Copy1.ipynb", "01_guidance_scale.ipynb", "02_negative_prompt.ipynb"]
    _notebook(folder / "01_mine.ipynb", "print('mine')")  # a notebook of the learner's own, numbered like one
    assert ("Note: 01_guidance_scale.ipynb and 01_mine.ipynb both start with 01_, so each runs as a chapter. If one "
            "is a notebook of your own, move it out of notebooks/ to leave it out.") in run.copies_note()


def test_run_py_started_as_a_script_says_to_run_it_as_a_module():
    done = subprocess.run([sys.executable, "tools/run.py", "--twins", "1"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("python -m tools.run: error: run the main job as a module from the project folder: "
                           f"cd {PROJECT_ROOT} && python -m tools.run --twins 1\n")


def _unwritable(folder):
    """`folder`, made read-only; /sys where that does not stop this user (root writes anyway)."""
    folder.mkdir()
    (folder / "mine.txt").write_text("the learner's own file")
    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return folder
    folder.chmod(0o755)
    if not Path("/sys/kernel").is_dir():
        pytest.skip("this user writes in read-only folders, and there is no /sys to try instead")
    return Path("/sys")


@pytest.mark.parametrize("case", ["read-only", "cannot be created"])
def test_a_build_folder_that_cannot_be_written_is_refused_before_any_chapter_runs(case, tmp_path, capsys,
                                                                                   monkeypatch):
    from tools import run

    locked = _unwritable(tmp_path / "locked")
    out = locked if case == "read-only" else locked / "build"
    monkeypatch.setenv("TUTORIAL_BUILD", str(out))
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")
    monkeypatch.setattr(run, "run_all", lambda *a, **k: pytest.fail("no chapter may run"))
    try:
        with pytest.raises(SystemExit) as info:
            run.main(["--twins", "--lang", "en", "1"])
        monkeypatch.delenv("TUTORIAL_BUILD")
        with pytest.raises(ValueError) as default:  # TUTORIAL_BUILD unset: the checkout's build/ is the folder
            run.check_build_folder([], out)
    finally:
        if locked != Path("/sys"):
            locked.chmod(0o755)
    err = capsys.readouterr().err
    what = "written in" if case == "read-only" else "created"
    assert info.value.code == 2 and "Traceback" not in err
    assert f"error: TUTORIAL_BUILD={str(out)!r}: the folder {out} cannot be {what} (" in err  # (Permission denied)
    assert ("Nothing ran. Point TUTORIAL_BUILD at a folder you can write to (it is created if missing), or unset it "
            "to write to build/.") in err
    assert str(default.value).startswith(f"build/ ({out}), where the job writes, cannot be {what} (")
    assert ("Nothing ran. Make " in str(default.value)
            and "or set TUTORIAL_BUILD to a folder you can write to, e.g. TUTORIAL_BUILD=~/tutorial-build "
                "python -m tools.run" in str(default.value))
    if locked != Path("/sys"):
        assert sorted(p.name for p in locked.iterdir()) == ["mine.txt"]  # nothing made, nothing left behind


def test_a_missing_build_folder_is_created_and_the_write_check_leaves_nothing(tmp_path):
    from tools.run import check_build_folder

    out = tmp_path / "new" / "build"
    check_build_folder([], out)
    assert out.is_dir() and list(out.iterdir()) == []
