"""Results of probe runs: numbers from results.json, tables (pandas) and
plots (matplotlib) when those are installed."""

import html
import json
import os
import pathlib
import tempfile


class Results:
    """One probe run: its tests (``.tests``, or ``results[name]``),
    ``.summary()``, ``.plot()``, ``.to_json()`` (the CLI's results.json) and
    ``.save(dir)`` (the CLI's results and report.html)."""

    def __init__(self, run, command):
        self._run = run
        self._command = command
        self.result = json.loads(run.json())
        self.tests = [TestResult(t, self) for t in self.result["tests"]]

    def __reduce__(self):
        # The Rust run does not pickle; what it gives (results.json, the
        # files save writes) does. Dask returns results from its workers so.
        return (Results, (_SavedRun.of(self._run, self._command), self._command))

    def __getitem__(self, name):
        for test in self.tests:
            if test.name == name:
                return test
        raise KeyError(f"no test named {name!r}; tests: {', '.join(t.name for t in self.tests)}")

    def to_json(self):
        """results.json, exactly as ``sensie probe`` writes it for the same inputs and seed."""
        return self._run.json()

    def save(self, directory, force=False):
        """Writes results.json, results.csv, plots/, examples/ and report.html
        into ``directory``; returns the report's path."""
        directory = os.fspath(directory)
        for note in self._run.save(directory, force, self._command):
            print(f"note: {note}")
        return pathlib.Path(directory) / "report.html"

    def summary(self):
        """One row per test and level (a pandas DataFrame; a list of dicts without pandas)."""
        rows = [row for test in self.tests for row in test._rows()]
        return _table(rows)

    def plot(self, ax=None):
        """Every test's chart, side by side."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(1, len(self.tests), figsize=(4.5 * len(self.tests), 3.5), squeeze=False)
            ax = ax[0]
        for test, a in zip(self.tests, ax):
            test.plot(ax=a)
        return ax

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td>{html.escape(t.name)}</td><td>{t.kind}</td><td>{t.verdict}</td><td>{t.effect:.3f}</td><td>{len(t.levels)}</td></tr>"
            for t in self.tests
        )
        return f"<table><tr><th>test</th><th>kind</th><th>verdict</th><th>effect</th><th>levels</th></tr>{rows}</table>"

    def __repr__(self):
        return "\n".join(repr(t) for t in self.tests)


class TestResult:
    """One test of a run: ``.verdict`` ("low"/"medium"/"high"), ``.effect``
    (the effect size in score units), ``.threshold`` (the parameter value at
    which the score crosses the threshold score, or None), ``.summary()``,
    ``.plot(ax=None)``; ``.result`` holds the test's entry of results.json."""

    def __init__(self, result, run):
        self.result = result
        self.run = run
        self.label = None

    name = property(lambda self: self.result["name"])
    kind = property(lambda self: self.result["kind"])
    levels = property(lambda self: self.result["levels"])
    verdict = property(lambda self: self.result["verdict"])
    effect = property(lambda self: self.result["effect"]["size"])

    @property
    def threshold(self):
        threshold = self.result.get("threshold")
        return None if threshold is None else threshold.get("value")

    def to_json(self):
        """The run's results.json (for the single-test methods of
        :class:`sensie.Probe`, exactly the CLI's for that one test)."""
        return self.run.to_json()

    def save(self, directory, force=False):
        """Writes the run's results and report.html into ``directory``."""
        return self.run.save(directory, force)

    def _rows(self):
        for level in self.levels:
            lo, hi = level["score_ci95"]
            value = level["value"]
            if value is None and self.kind == "perturbation":
                # results.json writes inf, the one non-finite level a sweep
                # takes (Poisson noise's identity gain), as null.
                value = float("inf")
            if level.get("label") is not None:
                value = level["label"]
            elif level.get("values") is not None:
                # A grid's cell: its value is the cell's index.
                value = " x ".join(f"{v:g}" for v in level["values"])
            yield {
                "test": self.name,
                "level": value,
                "n": level["n"],
                "mean_score": level["mean_score"],
                "ci95_lo": lo,
                "ci95_hi": hi,
                "accuracy": level.get("accuracy"),
                "verdict": self.verdict,
            }

    def summary(self):
        """One row per level: level, n, mean score, 95% interval, accuracy
        and the verdict (a pandas DataFrame; a list of dicts without pandas)."""
        return _table(list(self._rows()))

    def plot(self, ax=None):
        """The CLI's chart: mean score per level with its 95% interval, the
        unperturbed mean, and the threshold crossing."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        rows = list(self._rows())
        numeric = self.kind != "class" and all(isinstance(r["level"], (int, float)) for r in rows)
        xs = [r["level"] for r in rows] if numeric else list(range(len(rows)))
        means = [r["mean_score"] for r in rows]
        ax.fill_between(xs, [r["ci95_lo"] for r in rows], [r["ci95_hi"] for r in rows], alpha=0.25, label="95% interval")
        ax.plot(xs, means, "o-", label=self.label or self.result["metric"])
        reference = self.result["effect"].get("reference_mean")
        if reference is not None:
            ax.axhline(reference, color="grey", ls=":", lw=1, label="unperturbed")
        threshold = self.result.get("threshold")
        if threshold is not None and threshold.get("value") is not None:
            ax.axvline(threshold["value"], color="crimson", ls="--", lw=1, label=f"threshold {threshold['score']:.2f}")
        if not numeric:
            ax.set_xticks(xs, [str(r["level"]) for r in rows])
        unit = self.result["unit"]
        ax.set_xlabel(f"{self.result['parameter']} ({unit})" if unit else self.result["parameter"])
        ax.set_ylabel(self.result["metric"])
        ax.set_title(f"{self.label or self.name}: {self.verdict}")
        ax.legend(fontsize="small")
        return ax

    def _repr_html_(self):
        table = self.summary()
        body = table.to_html(index=False) if hasattr(table, "to_html") else html.escape(repr(table))
        return f"<p><b>{html.escape(self.name)}</b> ({self.kind}): verdict <b>{self.verdict}</b>, effect {self.effect:.3f}</p>{body}"

    def __repr__(self):
        return f"<sensie test {self.name} ({self.kind}): verdict {self.verdict}, effect {self.effect:.3f}, {len(self.levels)} levels>"


class _SavedRun:
    """A run as pickling carries it: results.json's text and every file
    :meth:`Results.save` writes (report.html and its pictures included), in
    memory, so that an unpickled result still saves what the run would."""

    def __init__(self, text, files, notes):
        self._text, self._files, self._notes = text, files, notes

    @classmethod
    def of(cls, run, command):
        if isinstance(run, cls):
            return run
        with tempfile.TemporaryDirectory() as directory:
            notes = run.save(directory, False, command)
            root = pathlib.Path(directory)
            files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        return cls(run.json(), files, notes)

    def json(self):
        return self._text

    def save(self, directory, force, command):
        """Writes the files as the run wrote them (``command`` is already in
        report.html), refusing a directory with results, as the run does."""
        root = pathlib.Path(directory)
        existing = next((root / f for f in ("results.json", "results.csv") if (root / f).exists()), None)
        if existing is not None and not force:
            raise ValueError(
                f"output directory {directory}: it already holds {existing}; choose another directory or pass --force to overwrite"
            )
        for name, data in self._files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return list(self._notes)


def _table(rows):
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)
