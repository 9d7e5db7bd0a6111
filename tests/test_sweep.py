"""Sweeps split across processes and gather one grid; two CPU processes give the same tiles as one."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from tools.sweep import caption, run_sweep, sweep_jobs

ROOT = Path(__file__).resolve().parent.parent  # `python -m tools.sweep` runs from the checkout


def test_jobs_are_rows_of_seed_and_strength_and_columns_of_guidance():
    jobs = sweep_jobs([1, 5], [0, 7], strengths=[0.3, 0.6])
    assert len(jobs) == 8
    assert jobs[:2] == [{"guidance_scale": 1.0, "seed": 0, "strength": 0.3},
                        {"guidance_scale": 5.0, "seed": 0, "strength": 0.3}]
    assert caption(jobs[-1]) == "seed 7 · guidance 5.0 · strength 0.6"
    with pytest.raises(ValueError, match="at least one value"):
        sweep_jobs([], [0])


def test_single_process_sweep_builds_the_captioned_grid():
    colours = {}

    def render(guidance_scale, seed):
        colours[(guidance_scale, seed)] = (int(guidance_scale * 20), seed * 40, 0)
        return Image.new("RGB", (32, 32), colours[(guidance_scale, seed)])

    grid, results = run_sweep(render, [1.0, 5.0, 10.0], [0, 1])
    assert [r[0] for r in results] == list(range(6)) and len(colours) == 6
    assert grid.width == 3 * 32 and grid.height > 2 * 32  # two rows plus caption strips
    assert results[4][2].getpixel((0, 0)) == colours[(5.0, 1)]


def _tiles(output: str) -> dict[str, str]:
    return dict(re.findall(r"^tile \d+: (.+?)\s+process \d+\s+(.+)$", output, flags=re.M))


def test_two_cpu_processes_split_the_work_and_match_one(tmp_path, capsys):
    args = ["-m", "tools.sweep", "--steps", "2", "--size", "64", "--guidance", "1", "7", "--seeds", "0", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # the one-process run happens here, in this worker (a process start less); the two-process run is the real launch
    from accelerate import PartialState

    from tools import sweep

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process has (OMP_NUM_THREADS=1): the same sums, the same bytes
    try:
        assert sweep.main([*args[2:], "--out", str(tmp_path / "one.png")]) == 0
    finally:
        torch.set_num_threads(threads)
        PartialState._reset_state()  # leave no process state behind for other tests in this worker
    one = capsys.readouterr()  # .out: what the command printed
    two = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                          *args, "--out", str(tmp_path / "two.png")], capture_output=True, text=True, env=env,
                         timeout=300, cwd=ROOT)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "process 0/2: rendered 2 tiles" in two.stdout and "process 1/2: rendered 2 tiles" in two.stdout
    assert "grid 128x" in two.stdout and "from 2 process(es)" in two.stdout
    assert _tiles(one.out) == _tiles(two.stdout) and len(_tiles(one.out)) == 4
    assert Image.open(tmp_path / "one.png").tobytes() == Image.open(tmp_path / "two.png").tobytes()


def test_out_is_checked_before_anything_renders(tmp_path, capsys):
    import argparse

    from tools import sweep

    with pytest.raises(SystemExit) as stopped:
        sweep.main(["--out", str(tmp_path / "grid")])  # no extension: refused at once, nothing loaded
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and "not a picture format" in err and f"{tmp_path / 'grid'}.png" in err
    parser = argparse.ArgumentParser()
    assert sweep._output_file(parser, tmp_path) == tmp_path / "sweep.png"  # a folder: the grid goes inside it
    assert sweep._output_file(parser, tmp_path / "a.jpg") == tmp_path / "a.jpg"


def test_an_existing_file_is_never_replaced_without_overwrite(tmp_path, capsys):
    import argparse

    from tools import sweep

    mine = tmp_path / "my_grid.png"
    mine.write_bytes(b"the learner's own picture")
    with pytest.raises(SystemExit):
        sweep.main(["--out", str(mine)])  # refused before anything loads
    err = capsys.readouterr().err
    assert "exists and is kept" in err and "my_grid-2.png" in err and "--overwrite" in err  # a name that is free
    assert mine.read_bytes() == b"the learner's own picture"
    assert sweep._output_file(argparse.ArgumentParser(), mine, overwrite=True) == mine
    (tmp_path / "sweep.png").write_bytes(b"an earlier grid")
    assert sweep._free_name(tmp_path / "sweep.png") == tmp_path / "sweep-2.png"  # the default name moves on
