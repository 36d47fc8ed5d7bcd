#!/usr/bin/env bash
# Creates python/.venv with the pinned packages that the fixture, training and
# data-generation scripts need. Only those scripts use it: the Rust build and
# the tests never do.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
