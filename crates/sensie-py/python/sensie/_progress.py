"""Progress bars over a run's batches, an optimisation's steps or an
explanation's methods: tqdm (notebook or terminal) when it is installed,
else a line on stderr; nothing with quiet=True."""

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(quiet, unit="batch"):
    """Yields ``update(done, total, name=None)``, or None when quiet."""
    if quiet:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    state = {}

    def update(done, total, name=None):
        if tqdm is not None:
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = tqdm(total=total, unit=unit, leave=False)
            if name is not None:
                bar.set_description(name)
            bar.update(done - bar.n)
        elif done == total or done % 10 == 0 or name is not None:
            named = f" {name}" if name is not None else ""
            print(f"\r{done}/{total} {unit}(s){named}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].close()


@contextlib.contextmanager
def step_bar(quiet, total):
    """Yields ``start(name)`` for ``total`` named steps (an explanation's
    methods and checks), called as each starts; None when quiet or when
    there is one step (nothing to show progress between)."""
    with progress_bar(quiet or total <= 1, unit="step") as update:
        if update is None:
            yield None
            return
        started = []

        def start(name):
            update(len(started), total, name)
            started.append(name)

        yield start
        update(total, total)
