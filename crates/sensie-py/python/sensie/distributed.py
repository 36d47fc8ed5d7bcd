"""Probe runs spread over a Dask cluster.

``probe_on_dask(config, client, shards=N)`` cuts a probe config's examples
into N contiguous shards, scores each on a worker of ``client`` (what
``sensie probe --shard K/N`` does) and merges the parts on the client (what
``sensie merge`` does): the merged results equal one process's in every
number. Workers read the model and data from the paths in the config and
write their parts to a folder every worker and the client can read (a
shared file system on a real cluster)::

    from dask.distributed import Client
    from sensie.distributed import probe_on_dask
    client = Client("scheduler:8786")
    config = tomllib.load(open("probe.toml", "rb"))   # or a dict of the same keys
    results = probe_on_dask(config, client, shards=16, out="results/")

A task whose worker dies is run again by Dask; it continues from the
partial scores its earlier attempt saved in its part.
"""

import copy
import json
import os

from . import _arrays, _sensie
from ._results import Results

__all__ = ["probe_on_dask"]


def probe_on_dask(config, client, shards, out=None, parts=None, force=False):
    """Runs the probe ``config`` (a dict of the CLI's probe.toml keys) as
    ``shards`` shards on ``client``'s workers and merges them into ``out``
    (default: the config's ``out``). Parts go to ``parts`` (default:
    ``<out>.parts``), one folder per shard. Relative paths in the config are
    taken from the client's working directory. Returns
    :class:`sensie.Results`, already saved in ``out`` with its report."""
    if not isinstance(config, dict):
        raise TypeError(f"probe_on_dask takes a dict of the probe config's keys, not {type(config).__name__}")
    shards = _arrays.whole("probe_on_dask", "shards", shards, low=1)
    config = _absolute(config)
    out = os.path.abspath(out if out is not None else config.get("out", ""))
    if not config.get("out") and out == os.path.abspath(""):
        raise ValueError("no output folder: give out=, or out in the config")
    parts = os.path.abspath(parts if parts is not None else out.rstrip(os.sep) + ".parts")
    folders = [os.path.join(parts, f"part-{k}") for k in range(shards)]
    texts = []
    for folder in folders:
        shard = dict(config, out=folder)
        texts.append(json.dumps(shard))
    futures = client.map(_probe_shard, texts, range(shards), [shards] * shards, pure=False)
    client.gather(futures)
    run = _sensie.probe_merge(folders, out, bool(force or config.get("force")))
    return Results(run, "sensie.distributed.probe_on_dask")


def _probe_shard(config, index, count):
    """One worker's task: shard ``index`` of ``count`` into the config's ``out``."""
    return _sensie.probe_shard(config, index, count)


def _absolute(config):
    """The config with its file paths made absolute, so workers with another
    working directory read the same files."""
    config = copy.deepcopy(config)
    for key in ("model", "out"):
        if config.get(key):
            config[key] = os.path.abspath(config[key])
    data = config.get("data")
    if isinstance(data, dict):
        for key in ("path", "labels", "metadata"):
            if data.get(key):
                data[key] = os.path.abspath(data[key])
    return config
