"""One pipeline run at a time: two panels, or a cell and a panel, wait for each other.

A pipeline keeps its state (timesteps, step index) in its scheduler, so two runs at once on one pipeline, or on two
pipelines sharing a scheduler (from_pipe, Kandinsky's prior inside a combined pipeline), mix their steps and make
pictures that match neither run's seed. Every panel run and every checked call, its checks included, holds one
lock for the kernel; a call that must wait says so. Runs are compute-bound, so waiting costs no speed.
"""

from __future__ import annotations

import contextlib
import threading

_RUN = threading.RLock()  # one pipeline run at a time in this kernel; a nested call (the same thread) goes on


def _lock_of(pipeline) -> threading.RLock:
    # one lock for every pipeline: pipelines share schedulers (from_pipe, **components), a scheduler can be
    # replaced during a run, and Kandinsky's combined pipelines hold a prior with a scheduler of its own
    return _RUN


@contextlib.contextmanager
def pipeline_lock(pipeline, say=None):
    """Hold the run lock, waiting for another run first, said through `say` (ch. 1–5)."""
    lock = _lock_of(pipeline)
    if not lock.acquire(blocking=False):
        from helpers.i18n import _

        message = _("waiting: another pipeline run (a panel or a cell) is going; two at once would mix their "
                    "steps")
        if say is not None:
            say(message)
        else:
            import sys

            print(message, file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
