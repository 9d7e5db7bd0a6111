"""One run at a time on a pipeline: two panels, or a cell and a panel, sharing one pipeline wait for each other.

A pipeline keeps its state (timesteps, step index) in its scheduler, so two runs at once on one pipeline, or on two
pipelines sharing a scheduler (from_pipe), mix their steps and make pictures that match neither run's seed. Every
panel run and every checked call holds its scheduler's lock; a call that must wait says so.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

_MAKE = threading.Lock()  # two threads must not make two locks for one pipeline
_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # kept apart: a lock on the pipeline blocks deepcopy


def _lock_of(pipeline) -> threading.RLock:
    # the state that two runs would mix sits in the scheduler, which from_pipe and **components share between
    # pipelines: one lock per scheduler keeps those apart too
    owner = getattr(pipeline, "scheduler", None) or pipeline
    with _MAKE:
        lock = _LOCKS.get(owner)
        if lock is None:
            lock = _LOCKS[owner] = threading.RLock()
        return lock


@contextlib.contextmanager
def pipeline_lock(pipeline, say=None):
    """Hold the pipeline's run lock, waiting for another run on it first, said through `say` (ch. 1–5)."""
    lock = _lock_of(pipeline)
    if not lock.acquire(blocking=False):
        from helpers.i18n import _

        message = _("waiting: another run on this pipeline (a panel or a cell) is going; two at once would mix "
                    "their steps")
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
