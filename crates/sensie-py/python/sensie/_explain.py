"""``sensie.explain``: attribution maps as NumPy arrays, and
``sensie.show_attribution`` to draw one (Captum's ``visualize_image_attr``)."""

import json
import os
import pathlib
import warnings

import numpy as np

from . import _arrays, _sensie
from ._model import Model
from ._progress import step_bar

CAM_METHODS = ("gradcam", "gradcam-negative")


def explain(
    model,
    x,
    method="integrated-gradients",
    target=None,
    labels=None,
    score="logit",
    layer=None,
    steps=50,
    rule="gauss-legendre",
    baseline="zeros",
    samples=50,
    noise=0.15,
    window=4,
    stride=2,
    fill=0.0,
    seed=0,
    batch_size=_sensie.DEFAULT_BATCH_SIZE,
    threads=0,
    lrp_composite="epsilon",
    epsilon=1e-6,
    gamma=0.25,
    box=None,
    blur_sigma=3.0,
    mask_sigma=5.0,
    sanity=False,
    faithfulness=False,
    curve_steps=20,
    out=None,
    force=False,
    stretch="percentile:1,99.5",
    shared_scale=False,
    quiet=False,
    indices=None,
):
    """Attributes each example's target score to its input pixels: the
    library's ``sensie explain`` on a batch in memory.

    ``x`` is a batch in the model's own input layout and scaling, of which
    the examples at ``indices`` are explained (default: all; explain.json
    names them by these positions, and ``labels`` and a per-example
    ``baseline`` hold one for each example of ``x``; labels are class
    indices or one-hot rows). ``method``
    is any of the CLI's (``saliency``, ``integrated-gradients``,
    ``smoothgrad``, ``gradcam``, ``occlusion``, ...) or a list of them;
    ``target`` is ``"predicted"``, ``"label"`` (with ``labels``) or a class
    index; by default the label when ``labels`` are given, else the
    predicted class, as ``sensie explain`` does; the options are the CLI's
    flags. ``baseline`` is ``"zeros"``,
    ``"noise"``, ``"blur"``, ``"blur:SIGMA"``, a ``.npy`` file or an array.
    ``method="lrp"`` takes ``lrp_composite`` (``epsilon``,
    ``epsilon-plus-flat``, ``epsilon-gamma-box``, ``alpha1-beta0``),
    ``epsilon``, ``gamma`` and ``box=(low, high)``;
    ``method="blur-saliency"`` takes ``blur_sigma``, ``mask_sigma``,
    ``stride`` and ``score="all"`` or ``"target"`` and returns N x
    ceil(H/stride) x ceil(W/stride).

    With one method and no check, returns the map (the shape of ``x``; N x H
    x W for CAM methods), and for ``gradcam`` and ``gradcam-negative`` a pair
    (map, layer map at the layer's own resolution). With a list of methods,
    ``sanity=True`` (model randomisation, Adebayo et al. 2018),
    ``faithfulness=True`` (deletion and insertion curves of ``curve_steps``
    points, Petsiuk et al. 2018) or ``out=DIR``, returns an
    :class:`Explanation`; ``out`` writes the CLI's files there (explain.json,
    the maps, the checks, the pictures drawn with ``stretch`` and
    ``shared_scale``, explain.html). With several steps, a progress bar names
    each as it starts (``quiet=True`` silences it).
    """
    if not isinstance(model, Model):
        raise TypeError(f"sensie.explain takes a sensie.Model (gradients need an ONNX graph), not {type(model).__name__}")
    onnx = model._with_gradients("sensie.explain")
    steps, samples, window, stride, batch_size, threads, curve_steps = (
        _arrays.whole("sensie.explain", name, value)
        for name, value in (
            ("steps", steps), ("samples", samples), ("window", window), ("stride", stride),
            ("batch_size", batch_size), ("threads", threads), ("curve_steps", curve_steps),
        )
    )
    seed = _arrays.whole("sensie.explain", "seed", seed, high=2**64 - 1)
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise ValueError("sensie.explain: method is an empty list; name at least one method (e.g. \"saliency\")")
    if target is None:
        target = "predicted" if labels is None else "label"
    if indices is not None:
        # Whole numbers only: int(1.7) would explain example 1 unasked.
        indices = [_arrays.whole("sensie.explain", "indices", i, low=-(2**63)) for i in indices]
        negative = [i for i in indices if i < 0]
        if negative:
            raise ValueError(f"sensie.explain: indices {negative} are negative; give positions 0 to len(x) - 1")
    baseline_array = None
    if not isinstance(baseline, str):
        baseline_array, baseline = _arrays.float32(baseline, "baseline"), "array"
    elif baseline not in ("zeros", "noise", "blur") and not baseline.startswith("blur:"):
        baseline = os.fspath(os.path.abspath(baseline))
    if labels is not None:
        labels = _arrays.labels(labels)
    with step_bar(quiet, len(methods) + bool(sanity) + bool(faithfulness)) as progress:
        run = _sensie.explain(
            onnx, _arrays.float32(x, "x"), indices, methods, str(target), labels, score, layer, steps, rule, baseline,
            baseline_array, samples, noise, window, stride, fill, seed, batch_size, threads,
            lrp_composite, epsilon, gamma, None if box is None else (float(box[0]), float(box[1])), blur_sigma, mask_sigma,
            sanity, faithfulness, curve_steps, progress,
        )
    explanation = Explanation(run)
    if out is not None:
        explanation.save(out, force=force, stretch=stretch, shared_scale=shared_scale)
    if isinstance(method, str) and not (sanity or faithfulness or out is not None):
        if method in CAM_METHODS and explanation.layer_maps.get(method) is not None:
            return explanation.maps[method], explanation.layer_maps[method]
        return explanation.maps[method]
    return explanation


class Explanation:
    """A ``sensie explain`` run on arrays: ``maps`` (method -> map),
    ``layer_maps`` (CAM methods: method -> the map at its layer's
    resolution), ``completeness_gaps`` (Integrated Gradients), ``summary``
    (explain.json as a dict), ``sanity`` and ``faithfulness`` (sanity.json
    and faithfulness.json as dicts, or None when not asked for)."""

    def __init__(self, run):
        self._run = run
        if run is None:  # unpickled: __setstate__ fills in the numbers
            return
        self.maps, self.layer_maps, self.completeness_gaps = {}, {}, {}
        for name, attribution, layer, gap in run.maps():
            self.maps[name] = attribution
            if layer is not None:
                self.layer_maps[name] = layer[1]
            if gap is not None:
                self.completeness_gaps[name] = np.asarray(gap)
        summary, sanity, faithfulness = run.json()
        self.summary = json.loads(summary)
        self.sanity = None if sanity is None else json.loads(sanity)
        self.faithfulness = None if faithfulness is None else json.loads(faithfulness)

    @property
    def targets(self):
        """The class explained for each example."""
        return list(self.summary["targets"])

    def __reduce__(self):
        # The Rust run, which draws the pictures, does not pickle; the
        # numbers do, so an Explanation can come back from a worker.
        state = {k: v for k, v in self.__dict__.items() if k != "_run"}
        return (Explanation, (None,), state)

    def save(self, out, force=False, stretch="percentile:1,99.5", shared_scale=False):
        """Writes what ``sensie explain --out`` writes into ``out``;
        ``force`` replaces an earlier run there. Returns explain.html's path."""
        if self._run is None:
            raise ValueError(
                "this Explanation was unpickled: it holds the maps and the checks' numbers but not the run that draws "
                "the pictures; save it (sensie.explain(..., out=DIR) or .save(DIR)) before pickling"
            )
        for note in self._run.save(os.fspath(out), force, stretch, shared_scale):
            warnings.warn(note)
        return pathlib.Path(out) / "explain.html"

    def __repr__(self):
        checks = [c for c in ("sanity", "faithfulness") if getattr(self, c) is not None]
        return f"sensie.Explanation({', '.join(self.maps)} on {len(self.summary['examples'])} example(s){'; ' if checks else ''}{', '.join(checks)})"


def show_attribution(x, attribution, ax=None, cmap="RdBu_r", title=None, alpha=0.5, channel_axis=None):
    """Draws one example: the image, the attribution map, and the map over
    the image. ``x`` is H x W, C x H x W or H x W x C; ``attribution`` the
    same shape or H x W (channels are summed). Returns the three axes."""
    import matplotlib.pyplot as plt

    image = _plane(np.asarray(x, dtype=np.float64), channel_axis, keep_colour=True)
    heat = _plane(np.asarray(attribution, dtype=np.float64), channel_axis, keep_colour=False)
    if ax is None:
        _, ax = plt.subplots(1, 3, figsize=(9, 3.2))
    limit = float(np.abs(heat).max()) or 1.0
    grey = image if image.ndim == 2 else image.mean(axis=-1)
    shown = (image - image.min()) / (np.ptp(image) or 1.0)
    ax[0].imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    ax[0].set_title("image")
    im = ax[1].imshow(heat, cmap=cmap, vmin=-limit, vmax=limit)
    ax[1].set_title(title or "attribution")
    ax[2].imshow(grey, cmap="gray")
    ax[2].imshow(heat, cmap=cmap, vmin=-limit, vmax=limit, alpha=alpha)
    ax[2].set_title("overlay")
    for a in ax:
        a.axis("off")
    ax[1].figure.colorbar(im, ax=ax[1], fraction=0.046)
    return ax


def _plane(array, channel_axis, keep_colour):
    """H x W (or H x W x 3 for a colour image) from H x W, C x H x W or H x W x C."""
    if array.ndim == 2:
        return array
    if array.ndim != 3:
        raise ValueError(f"expected one example (H x W, C x H x W or H x W x C), got shape {array.shape}")
    axis = channel_axis if channel_axis is not None else (0 if array.shape[0] in (1, 3, 4) and array.shape[0] < array.shape[2] else 2)
    array = np.moveaxis(array, axis, -1)
    if keep_colour and array.shape[-1] == 3:
        return array
    return array.sum(axis=-1)
