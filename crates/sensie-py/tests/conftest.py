import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
MNIST = ROOT / "examples" / "mnist"


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch):
    """Configs name files relative to the repository root, as the CLI's examples do."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def cli():
    """The sensie command line built by `cargo test --workspace` (scripts/test.sh builds it first)."""
    path = pathlib.Path(os.environ.get("SENSIE_CLI", ROOT / "target" / "debug" / "sensie"))
    if not path.is_file():
        pytest.fail(f"{path} not found: build the CLI first (cargo build -p sensie-cli) or set SENSIE_CLI")
    return path


@pytest.fixture(scope="session")
def digits():
    """The first 300 bundled MNIST test digits (N x 1 x 28 x 28 in [0, 1]) and labels."""
    x = np.load(MNIST / "data" / "test_x.npy")[:300]
    y = np.load(MNIST / "data" / "test_y.npy")[:300]
    return x, y
