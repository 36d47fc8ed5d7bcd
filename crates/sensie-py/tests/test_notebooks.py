"""The example notebooks run from top to bottom (they are committed with
their outputs; this runs fresh copies and keeps the committed ones)."""

import pytest

from conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


@pytest.mark.parametrize("name", ["mnist.ipynb", "lens.ipynb"])
def test_the_notebook_runs(name):
    folder = ROOT / "examples" / "notebooks"
    notebook = nbformat.read(folder / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
