"""A progress bar over a run's batches: tqdm (notebook or terminal) when it
is installed, else a line on stderr; nothing with quiet=True."""

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(quiet):
    if quiet:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    state = {}

    def update(done, total):
        if tqdm is not None:
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = tqdm(total=total, unit="batch", leave=False)
            bar.update(done - bar.n)
        elif done == total or done % 10 == 0:
            print(f"\r{done}/{total} batches", end="" if done < total else "\n", file=sys.stderr, flush=True)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].close()
