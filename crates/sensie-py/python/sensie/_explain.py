"""``sensie.explain``: attribution maps as NumPy arrays, and
``sensie.show_attribution`` to draw one (Captum's ``visualize_image_attr``)."""

import numpy as np

from . import _arrays, _sensie
from ._model import Model

CAM_METHODS = ("gradcam", "gradcam-negative")


def explain(
    model,
    x,
    method="integrated-gradients",
    target="predicted",
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
    batch_size=32,
    threads=0,
    lrp_composite="epsilon",
    epsilon=1e-6,
    gamma=0.25,
    box=None,
    blur_sigma=3.0,
    mask_sigma=5.0,
):
    """Attributes each example's target score to its input pixels.

    ``x`` is a batch in the model's own input layout and scaling. ``method``
    is any of the CLI's (``saliency``, ``integrated-gradients``,
    ``smoothgrad``, ``gradcam``, ``occlusion``, ...); ``target`` is
    ``"predicted"``, ``"label"`` (with ``labels``) or a class index; the
    options are the CLI's flags. ``baseline`` is ``"zeros"``, ``"noise"``,
    ``"blur"``, ``"blur:SIGMA"`` or an array. ``method="lrp"`` takes
    ``lrp_composite`` (``epsilon``, ``epsilon-plus-flat``,
    ``epsilon-gamma-box``, ``alpha1-beta0``), ``epsilon``, ``gamma`` and
    ``box=(low, high)``; ``method="blur-saliency"`` takes ``blur_sigma``,
    ``mask_sigma``, ``stride`` and ``score="all"`` or ``"target"`` and
    returns N x ceil(H/stride) x ceil(W/stride).

    Returns the map (the shape of ``x``; N x H x W for CAM methods), and for
    ``gradcam`` and ``gradcam-negative`` a pair (map, layer map at the
    layer's own resolution).
    """
    if not isinstance(model, Model):
        raise TypeError(f"sensie.explain takes a sensie.Model (gradients need an ONNX graph), not {type(model).__name__}")
    baseline_array = None
    if not isinstance(baseline, str):
        baseline_array, baseline = _arrays.float32(baseline, "baseline"), "array"
    if labels is not None:
        labels = [int(v) for v in np.asarray(labels).reshape(-1)]
    attribution, layer_map, _, _ = _sensie.explain(
        model._with_gradients("sensie.explain"), _arrays.float32(x, "x"), method, str(target), labels, score, layer, steps, rule, baseline,
        baseline_array, samples, noise, window, stride, fill, seed, batch_size, threads,
        lrp_composite, epsilon, gamma, None if box is None else (float(box[0]), float(box[1])), blur_sigma, mask_sigma,
    )
    if method in CAM_METHODS and layer_map is not None:
        return attribution, layer_map[1]
    return attribution


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
