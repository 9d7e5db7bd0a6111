"""The main job: execute every chapter notebook headless and collect their figures into build/.

    python -m tools.run [1 | 01_guidance_scale.ipynb | notebooks/NN_name.ipynb ...] [--timeout SECONDS]
    python -m tools.run --list      (the chapters, by number and file name)

Every file is written beside its old copy and moved over it only when complete, so a crash, a kill or a
Ctrl-C never leaves half a file. A chapter that fails is written as <name>.failed.ipynb and keeps the last
good <name>.ipynb. Ctrl-C stops the whole job (exit code 130) and keeps the interrupted chapter's old file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:  # `python tools/run.py`: Python cannot import tools.* that way
    print("python -m tools.run: error: run the main job as a module from the project folder: cd "
          f"{shlex.quote(str(Path(__file__).resolve().parent.parent))} && "
          f"{shlex.join(['python', '-m', 'tools.run', *sys.argv[1:]])}", file=sys.stderr)
    raise SystemExit(2)

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from tqdm import tqdm

from helpers.paths import build_dir
from tools.chapters import (
    chapter_notebooks,
    check_build_folder,
    check_readable,
    copies_note,
    resolve_notebooks,
)
from tools.gallery import EDITIONS, write_edition
from tools.run_words import bare_options
from tools.written import ours, write_ours

INTERRUPTED = 130  # the exit code shells give a command stopped by Ctrl-C (128 + SIGINT)
# Ctrl-C, `kill` (or a CI cancel, or `timeout`) and a closed terminal all stop the whole job the same way
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
DEFAULT_TIMEOUT = 600  # seconds per cell: the slowest chapter cell on a CPU takes a few minutes
MIN_TIMEOUT = 30  # below this even loading a twin can time out: a smaller number is minutes typed as seconds


def _cell_seconds(text: str) -> int:
    """--timeout's value: whole seconds per cell, refused below MIN_TIMEOUT with the unit and the default."""
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds per cell (default "
                                         f"{DEFAULT_TIMEOUT})") from None
    if seconds < MIN_TIMEOUT:
        minutes = f"; for {seconds} minutes: --timeout {seconds * 60}" if seconds > 0 else ""
        raise argparse.ArgumentTypeError(
            f"{seconds} is in seconds per cell, and a cell that loads a model takes longer; give at least "
            f"{MIN_TIMEOUT} (the default is {DEFAULT_TIMEOUT}, 10 minutes{minutes})")
    return seconds

def _failed_cell(nb) -> tuple[int, str]:
    """Index and error line of the first cell whose outputs hold an error."""
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return code_index, f"{out.get('ename')}: {out.get('evalue')}"
    return -1, "unknown error"


class _Stopped(Exception):
    """Ctrl-C came while no cell was running: run no further cell."""


class _Client(NotebookClient):
    """nbclient's own Ctrl-C handler shuts the kernel down and lets the job go on with the next chapter
    (the kernel runs in its own session, so the terminal's Ctrl-C never reaches it). This one records the
    Ctrl-C in `stop` and interrupts the running cell; a second Ctrl-C shuts the kernel down at once."""

    def __init__(self, nb, stop: threading.Event, **kwargs):
        super().__init__(nb, **kwargs)
        self.stop = stop

    async def async_start_new_kernel(self, **kwargs) -> None:
        # async_setup_kernel has just installed nbclient's handler and awaits nothing before this call,
        # so no Ctrl-C can reach the old handler in between
        with contextlib.suppress(RuntimeError):  # not the main thread: there are no signal handlers to swap
            for signum in STOP_SIGNALS:
                asyncio.get_running_loop().add_signal_handler(signum, self._on_sigint)
        await super().async_start_new_kernel(**kwargs)

    def _on_sigint(self) -> None:
        again = self.stop.is_set()
        self.stop.set()
        if self.km is None or self.kc is None:
            return  # kernel still starting: async_execute_cell stops before the first cell
        if again:  # the cell ignores the interrupt (busy in C code): kill the kernel; nbclient then tidies up
            asyncio.ensure_future(ensure_async(self.km.shutdown_kernel(now=True)))
        else:  # the running cell raises KeyboardInterrupt; nbclient then shuts the kernel down cleanly
            print("\nStopping (Ctrl-C or kill): interrupting the running cell; a second one kills its kernel now",
                  file=sys.stderr, flush=True)
            asyncio.ensure_future(ensure_async(self.km.interrupt_kernel()))

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        if self.stop.is_set():
            raise _Stopped("stopped by Ctrl-C before this cell")
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)


def execute(path: Path, timeout: int = DEFAULT_TIMEOUT, kernel: str = "python3", stop: threading.Event | None = None):
    """Run one notebook top to bottom in a fresh kernel; return (notebook, error or None, seconds) (main job).

    Ctrl-C interrupts the running cell and sets `stop` (run_all then stops the whole job)."""
    nb = nbformat.read(path, as_version=4)
    client = _Client(nb, stop if stop is not None else threading.Event(), timeout=timeout, kernel_name=kernel,
                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError:
        index, line = _failed_cell(nb)
        error = f"code cell {index} failed: {line}"
    except Exception as exc:  # a kernel that dies or times out must not stop the other chapters
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, CellTimeoutError):  # nbclient's words do not say which option set the limit
            error += (f" (--timeout {timeout} allows {timeout} seconds per cell; give a cell more, e.g. "
                      f"--timeout {max(2 * timeout, DEFAULT_TIMEOUT)})")
    return nb, error, time.perf_counter() - start


def _failed_name(name: str) -> str:
    return f"{name}.failed.ipynb"


def save_chapter(nb, name: str, error, out: Path, seconds: float | None = None) -> str:
    """Write one chapter's result, moving aside a copy the learner edited; return the status note (main job).

    The notebook carries its run's facts (seconds, when, the error) for the gallery (tools.gallery)."""
    good, failed = out / f"{name}.ipynb", out / _failed_name(name)
    nb.metadata["tutorial_run"] = {"seconds": None if seconds is None else round(seconds, 1), "ran_at": time.time(),
                                   **({"error": error} if error else {})}
    if not error:
        note = write_ours(good, nb)
        if failed.exists() and ours(failed):
            failed.unlink()  # a failure from an earlier run no longer describes this chapter
        return note
    note = write_ours(failed, nb)
    kept = f", kept the earlier good {good.name}" if good.exists() else ""
    return f"; wrote {failed.resolve()}{kept}{note}"


def _stopped_summary(done, current: Path | None, todo, out: Path) -> str:
    """Lines that say what a Ctrl-C'd job finished, what it did not run, and what it left in build/."""
    finished = ", ".join(f"{p.name} ({status})" for p, status in done) or "none"
    lines = [f"Stopped by Ctrl-C (or a kill signal){f' during {current.name}' if current else ''}."]
    if current:
        old = out / current.name
        lines.append(f"{current.name}: its kernel was shut down; "
                     + (f"{old.resolve()} from the earlier run is kept." if old.exists()
                        else "nothing was written."))
    lines += [f"finished: {finished}",
              f"not run: {', '.join(p.name + (' (interrupted)' if p == current else '') for p in todo) or 'none'}",
              "index.html was left as it was; run `python -m tools.run` again for a full report."]
    return "\n".join(lines)


def run_all(notebooks=None, out: Path | None = None, timeout: int = 600, lang: str = "en",
            since: float | None = None) -> int:
    """Execute the chapters, write out/<name>.ipynb and their pages (tools.gallery), return how many failed (main job).

    A failing chapter is written as <name>.failed.ipynb and leaves the last good <name>.ipynb in place.
    Ctrl-C stops the job: the running chapter's old file is kept, and SystemExit(130) is raised.
    `lang` is the edition, for the pages' words; `since` the job's start (pages say which chapters it ran).
    """
    since = time.time() if since is None else since
    out = out or build_dir()
    out.mkdir(parents=True, exist_ok=True)
    notebooks = [Path(p) for p in (notebooks or chapter_notebooks())]
    if not notebooks:
        raise FileNotFoundError("No chapter notebooks (NN_name.ipynb) found to run.")
    stop = threading.Event()
    main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def catch_ctrl_c():  # (again:) nbclient resets SIGINT to Python's default when its kernel stops
        if main_thread:
            for signum in STOP_SIGNALS:
                signal.signal(signum, lambda *_: stop.set())

    done, failed, current = [], 0, None
    bar = tqdm(notebooks, desc="chapters", unit="nb", file=sys.stderr)
    try:
        for path in bar:
            catch_ctrl_c()
            if stop.is_set():
                break
            current = path
            bar.set_postfix_str(path.name)
            nb, error, seconds = execute(path, timeout=timeout, stop=stop)
            catch_ctrl_c()
            if error and stop.is_set():
                break  # interrupted: this half-run notebook must not replace anything
            note = save_chapter(nb, path.stem, error, out, seconds)
            done.append((path, "FAILED" if error else "ok"))
            current = None
            tqdm.write(f"{path.name}: {f'FAILED ({error})' if error else 'ok'} in {seconds:.1f} s{note}",
                       file=sys.stderr)
            failed += bool(error)
    except KeyboardInterrupt:  # Ctrl-C in the moment Python's default handler was back
        stop.set()
    finally:
        bar.close()
        if main_thread:
            for signum, handler in previous.items():
                if handler is not None:
                    signal.signal(signum, handler)
    if stop.is_set():
        todo = notebooks[len(done):]
        print(_stopped_summary(done, current, todo, out), flush=True)
        raise SystemExit(INTERRUPTED)  # python -m tools.run passes this on as its exit code
    page, notes = write_edition(out, lang, since)  # chapters not run this time keep their last good page
    for note in notes:
        print(note, flush=True)
    print(f"{len(notebooks) - failed} of {len(notebooks)} chapters ran ({EDITIONS[lang][0]}); the chapters, as "
          f"pages: {page.resolve()}")
    return failed


SD15_512_TFLOP = 84.6  # one SD 1.5 picture, 512², 50 steps with guidance (docs/performance.md counts it)


def chapter_needs(notebooks) -> list[str]:
    """The checkpoints the chapters' `use_models(needs=[...])` cells name, in order, each once (main job)."""
    found = []
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            call = re.search(r"use_models\(\s*needs\s*=\s*\[(.*?)\]", cell.source, re.S) if cell.cell_type == "code" \
                else None
            if call:
                found += [r for r in re.findall(r"[\"']([^\"']+/[^\"']+)[\"']", call.group(1)) if r not in found]
    return found


def picture_seconds(device: str) -> float:
    """Rough seconds for one SD 1.5 512², 50-step picture here, from the measured matmul rate (main job)."""
    from helpers.device import pick_dtype
    from tools.bench import measured_matmul_tflops

    rate = measured_matmul_tflops(device, pick_dtype(device), n=1024, seconds=0.3)
    return SD15_512_TFLOP / (rate * 0.5)  # a whole UNet reaches about half the rate of one large matmul


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} hours" if seconds >= 5400 else f"{seconds / 60:.0f} minutes" if seconds >= 90 \
        else f"{seconds:.0f} seconds"


def before_download(notebooks, ask=None, editions: int = 1) -> bool:
    """On the real checkpoints, say first what will be downloaded and how long a picture takes here (main job).

    Returns False when the learner, asked at a terminal, does not want to go on. Twins, or real weights already
    in the cache, need no word.
    """
    from helpers.device import pick_device
    from helpers.loading import decide as files_for
    from helpers.modes import decide as mode_for
    from helpers.modes import user_hub_cache

    needs = chapter_needs(notebooks)
    if mode_for(None, needs) != "hub":
        return True
    choices = [files_for(repo, allow_pickle=repo) for repo in needs]
    listed = sum(c.download_bytes or 0 for c in choices)
    cached = [repo for repo in needs if _all_cached(repo)]
    if len(cached) == len(needs):
        return True
    device = pick_device()
    seconds = picture_seconds(device)
    why = ("TUTORIAL_MODELS=hub asks for them" if os.environ.get("TUTORIAL_MODELS", "").strip().lower() == "hub"
           else "the Hugging Face Hub answers, so TUTORIAL_MODELS=auto (the default) chose them")
    both = (" in both editions, English and 中文, so each picture twice (--lang en or --lang zh runs one)"
            if editions > 1 else "")
    print(f"python -m tools.run will run {len(notebooks)} chapter(s){both} on the REAL checkpoints: {why}.\n"
          f"  download: about {listed / 1e9:.0f} GB for {len(needs)} checkpoints ({len(needs) - len(cached)} not in "
          f"{user_hub_cache()} yet), from the sizes the Hub lists\n"
          f"  time: one 512x512, 50-step SD 1.5 picture takes about {_duration(seconds)} on this machine's {device} "
          f"(its measured speed); the chapters make dozens of pictures, some at 1024x1024\n"
          "  to see every chapter first on the offline twins (a few minutes, nothing downloaded):\n"
          "    TUTORIAL_MODELS=twins python -m tools.run", flush=True)
    if ask is None:
        if not sys.stdin.isatty():
            return True  # a job without a terminal (CI, a scheduler) goes on: it has been told above
        ask = input
    return ask("Download and run them? [y/N] ").strip().lower() in ("y", "yes")


def _all_cached(repo: str) -> bool:
    from helpers.modes import is_cached

    return is_cached(repo)


_SWITCH_WORDS = {"yes": True, "y": True, "true": True, "on": True, "no": False, "n": False, "false": False,
                 "off": False}  # what a learner gives a switch as a value: --twins yes, --yes true
_CHAPTER_OPTIONS = ("chapter", "chapters", "notebook", "notebooks", "nb", "c")  # compared without dashes and case
_EDITIONS = ("both", "en", "zh")


def _action(parser, token: str):
    """The option a typed name stands for (argparse also takes a unique prefix, --tw for --twins), else None."""
    name = token.split("=", 1)[0]
    actions = parser._option_string_actions
    if name in actions:
        return actions[name]
    found = {actions[s] for s in actions if name.startswith("--") and len(name) > 2 and s.startswith(name)}
    return found.pop() if len(found) == 1 else None


def _switches(parser, given: list[str]) -> tuple[list[str], list[tuple[str, str, object]]]:
    """Take the values typed after switches out of the command line: --twins yes, --yes=true (argparse would read
    `yes` as a chapter, or stop at `=true`). Returns (the command line without them, [(switch, value, action)])."""
    kept, taken, i = [], [], 0
    while i < len(given):
        token = given[i]
        action = _action(parser, token) if token.startswith("-") else None
        if not isinstance(action, argparse._StoreTrueAction):
            kept.append(token)
            i += 1
            continue
        name, _, inline = token.partition("=")
        kept.append(name)
        name = name if name in action.option_strings else action.option_strings[-1]  # --tw: say --twins
        if inline:
            taken.append((name, inline, action))
        elif i + 1 < len(given) and given[i + 1].lower() in _SWITCH_WORDS and not Path(given[i + 1]).exists():
            taken.append((name, given[i + 1], action))
            i += 1
        i += 1
    return kept, taken


def _command(args, notebooks, lang) -> str:
    """`python -m tools.run` with the learner's own options and the chapters given, for a corrected command."""
    words = ["python", "-m", "tools.run"] + (["--list"] if args.list else []) + (["--twins"] if args.twins else [])
    words += ["--yes"] if args.yes else []
    words += ["--timeout", str(args.timeout)] if args.timeout != DEFAULT_TIMEOUT else []
    words += ["--lang", lang] if lang else []
    models = f"TUTORIAL_MODELS={args.models} " if getattr(args, "models", None) else ""  # `hub` typed bare
    return models + shlex.join(words + list(notebooks))


def _other_form(typed: str) -> str | None:
    """A chapter as the other way of naming it: 1 as 01_guidance_scale.ipynb and back; None if it names none."""
    stem = Path(typed).name.removesuffix(".ipynb")
    for path in chapter_notebooks():
        number = path.stem.split("_", 1)[0]
        if stem.isdigit() and number == stem.zfill(2):
            return path.name
        if stem == path.stem:
            return str(int(number))
    return None


def _arguments(argv=None):
    """The command line read and checked, before anything runs: (parser, args), or a usage error (exit 2)."""
    parser = argparse.ArgumentParser(prog="python -m tools.run", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*",
                        help="chapters to run: paths, names (01_guidance_scale) or numbers (1); default: all of them")
    parser.add_argument("--list", action="store_true", help="list the chapters and how to name them, run nothing")
    parser.add_argument("--timeout", type=_cell_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"seconds (not minutes) one cell may run before the chapter fails; at least "
                             f"{MIN_TIMEOUT} (default {DEFAULT_TIMEOUT} = 10 minutes)")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="on the real checkpoints, download and run without asking (the sizes are still said)")
    parser.add_argument("--lang", choices=_EDITIONS, default=None,  # None: not given, which is both
                        help="which edition to run: both (default; the gallery links them), en, or zh (notebooks/zh/)")
    parser.add_argument("--twins", action="store_true",
                        help="preview on the offline twins (the same as TUTORIAL_MODELS=twins): nothing is downloaded")
    given = sys.argv[1:] if argv is None else list(argv)
    if any(a.split("=")[0] in ("--out", "--output", "-o", "--build") for a in given):
        parser.error("the output folder is not an option: it is set by the TUTORIAL_BUILD environment variable, "
                     "e.g. TUTORIAL_BUILD=/path/to/folder python -m tools.run (default: the project's build/).")
    given, switched = _switches(parser, given)
    # intermixed: chapters may come after options too (1 --twins 2), as in the README's commands
    args, unknown = parser.parse_known_intermixed_args(given)
    bare, args.notebooks = bare_options(parser, args, args.notebooks)  # `twins`: --twins, not a chapter
    lang_given = args.lang is not None
    args.lang = args.lang or "both"
    notes, rest, chapter_option = bare, [], None
    for token in unknown:
        name, has_value, value = token.partition("=")
        if token.startswith("-") and name.lstrip("-").lower().replace("_", "") in _CHAPTER_OPTIONS:
            chapter_option = chapter_option or name
            args.notebooks += [value] if has_value and value else []
        else:
            rest.append(token)
    for name, value, action in switched:
        off = not _SWITCH_WORDS.get(value.lower(), True)
        if off:
            setattr(args, action.dest, False)
        notes.append(f"{name} is a switch that takes no value ({value!r} is not read): "
                     + (f"leave {name} out to go without it." if off else f"write {name} alone to switch it on."))
    words = [t for t in args.notebooks if t.lower() in _EDITIONS and not Path(t).exists()]
    lang = args.lang if lang_given else None  # shown in a corrected command only when the learner gave it
    if words:
        asked = ([args.lang] if lang_given else []) + [w.lower() for w in words]
        lang = "both" if "both" in asked or {"en", "zh"} <= set(asked) else asked[0]
        args.notebooks = [t for t in args.notebooks if t not in words]
        said = " and ".join(repr(w) for w in words)
        notes.append("--lang takes one value: en, zh or both (the default: the English and the Chinese edition), "
                      f"so {said} {'were' if len(words) > 1 else 'was'} read as a chapter."
                      if lang_given else
                      f"{said} {'are editions' if len(words) > 1 else 'is an edition'}, not a chapter: choose the "
                      "edition with --lang en, zh or both (the default).")
    if chapter_option:
        example = args.notebooks or ["1"]
        others = [_other_form(t) for t in example]
        alt = f" (or {shlex.join(others)})" if all(others) else ""
        notes.append(f"tools.run has no {chapter_option}: name the chapters themselves, e.g. "
                     f"{_command(args, example, lang)}{alt}; python -m tools.run --list lists them.")
    elif notes:
        notes.append(f"That is: {_command(args, args.notebooks, lang)}")
    if rest:
        notes.insert(0, f"unrecognized arguments: {' '.join(rest)} (python -m tools.run --help lists the options)")
    if notes:
        parser.error("\n".join(notes))  # one line each, so that a command ends its line and copies cleanly
    return parser, args


def chapter_list() -> str:
    """What `python -m tools.run --list` prints: each chapter's number, file and title (maintainer tool)."""
    chapters = chapter_notebooks()
    lines = ["The chapters (name them by number or file name, e.g. python -m tools.run 1 3; no name runs them all):"]
    width = max((len(p.name) for p in chapters), default=0)
    for path in chapters:
        try:
            first = next((c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"), "")
            heading = (first.strip().splitlines() or [""])[0]  # "# Chapter 1 · `guidance_scale`"
            title = re.sub(r"^#+\s*(Chapter \d+\s*·\s*)?", "", heading).replace("`", "")
        except Exception:  # noqa: BLE001 - a damaged chapter is still listed; the run names what is wrong with it
            title = "(cannot be read as a notebook)"
        lines.append(f"  {int(path.name[:2]):>2}  {path.name:<{width}}  {title}")
    zh = [p for p in chapters if (p.parent / "zh" / p.name).exists()]
    if zh:
        which = "Each chapter" if len(zh) == len(chapters) else ", ".join(p.name for p in zh)
        lines.append(f"{which} runs in English and in Chinese (notebooks/zh/) unless --lang en or --lang zh picks "
                     "one edition.")
    return "\n".join(lines + copies_note())


def main(argv=None) -> int:
    """Run the chapter notebooks headless in the current mode and write build/ (main job)."""
    parser, args = _arguments(argv)
    if args.list:
        print(chapter_list())
        return 0
    if args.twins:
        os.environ["TUTORIAL_MODELS"] = "twins"  # read by this job and by every chapter's kernel
    from helpers.longrun import threshold

    try:
        threshold()  # a bad TUTORIAL_PROGRESS_AFTER stops here, not in the middle of a chapter
        notebooks = resolve_notebooks(args.notebooks)
        if not notebooks:  # the whole job: every chapter, never a copy of one (said, and left where it is)
            notebooks = chapter_notebooks()
            for line in copies_note():
                print(line, file=sys.stderr)
        plan = editions(notebooks, args.lang)
        for _lang, chapters, out in plan:
            check_readable(chapters)
            check_build_folder(chapters, out)
    except ValueError as err:
        parser.error(str(err))
    if not before_download(notebooks, ask=(lambda _question: "y") if args.yes else None, editions=len(plan)):
        print("Nothing was downloaded. TUTORIAL_MODELS=twins python -m tools.run previews every chapter offline.")
        return 1
    since, failed, seconds = time.time(), 0, {}
    for lang, chapters, out in plan:
        start = time.perf_counter()
        failed += run_all(chapters, out=out, timeout=args.timeout, lang=lang, since=since)
        seconds[lang] = time.perf_counter() - start
    if len(plan) == 2:
        failed += compare_editions(plan[0][2], plan[1][2], [p.stem for p in plan[1][1]])
        write_edition(plan[0][2], "en", since)  # again: its links to the Chinese pages now have pages to go to
    if len(seconds) > 1:
        print("time: " + ", ".join(f"{EDITIONS[k][0]} {v / 60:.1f} min" for k, v in seconds.items()))
    return 1 if failed else 0


def editions(notebooks, lang: str = "both") -> list[tuple[str, list[Path], Path]]:
    """(language, its chapters, its build folder) for each edition to run: notebooks/zh/ is the Chinese one (main job).

    A chapter named in either language runs in each edition asked for that has it."""
    english = [p for p in notebooks if p.parent.name != "zh"]
    chinese = [p for p in notebooks if p.parent.name == "zh"]
    plan = []
    if lang in ("both", "en"):
        english += [p.parent.parent / p.name for p in chinese if (p.parent.parent / p.name).exists()]
        if english:
            plan.append(("en", list(dict.fromkeys(english)), build_dir()))
    if lang in ("both", "zh"):
        chinese += [p.parent / "zh" / p.name for p in english if (p.parent / "zh" / p.name).exists()]
        if chinese:
            plan.append(("zh", list(dict.fromkeys(chinese)), build_dir() / "zh"))
    if not plan:
        raise ValueError(f"none of the chapters named has a{' Chinese' if lang == 'zh' else 'n English'} edition; "
                         "run them with --lang both.")
    return plan


def chinese_is_built_from_english(name: str) -> bool:
    """True when notebooks/zh/<name> is what the catalogue builds from the English chapter as it is now (main job)."""
    from tools import translate

    chapter, zh = translate.ENGLISH / f"{name}.ipynb", translate.CHINESE / f"{name}.ipynb"
    if not chapter.exists() or not zh.exists():
        return True  # nothing to say it is not: a difference is then the Chinese code's
    try:
        return translate.text(translate.translated(chapter)) == zh.read_text(encoding="utf-8")
    except (translate.StaleTranslation, OSError, ValueError):
        return False


def compare_editions(english: Path, chinese: Path, names) -> int:
    """Check that each Chinese chapter printed what its English one did, cell for cell; count the others (main job).

    Both editions run one code (tests/test_translation.py compares it); this checks the outputs themselves."""
    from tools.samecode import output_differences

    differing, compared = 0, 0
    for name in names:
        pair = [folder / f"{name}.ipynb" for folder in (english, chinese)]
        if not all(p.exists() for p in pair) or any((p.parent / _failed_name(name)).exists() for p in pair):
            continue  # a failed edition is reported already
        found = output_differences(*(nbformat.read(p, as_version=4) for p in pair))
        compared += 1
        if found and not chinese_is_built_from_english(name):
            compared -= 1  # not compared after all: the two ran different code
            print(f"zh/{name}.ipynb and {name}.ipynb ran different code, so their outputs are not compared: "
                  f"notebooks/zh/{name}.ipynb is not what the catalogue builds from the English chapter as it is now "
                  "(one of the two was changed since the Chinese edition was built). To run the English edition "
                  "alone: --lang en. To bring the Chinese one up to date: python -m tools.translate update, "
                  "translate the entries it lists, then python -m tools.translate build.", flush=True)
        elif found:
            differing += 1
            print(f"zh/{name}.ipynb printed other text than {name}.ipynb: " + "; ".join(found[:3]) + ". A Chinese "
                  f"code cell does more than its English one: compare the two, correct translations/zh_CN/{name}.po "
                  "and run python -m tools.translate build.", flush=True)
    if compared and not differing:
        print(f"both editions printed the same text in every compared cell ({compared} chapter(s))", flush=True)
    return differing


if __name__ == "__main__":
    raise SystemExit(main())
