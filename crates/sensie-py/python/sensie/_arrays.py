"""Turning what a user hands over into the arrays the Rust core takes."""

import numpy as np


def float32(x, what):
    """``x`` as a C-contiguous float32 array (float64, integer, Fortran-order
    and strided arrays are converted); anything non-numeric is a TypeError."""
    try:
        array = np.asarray(x)
    except Exception as e:  # an object NumPy cannot read at all
        raise TypeError(f"{what}: expected a NumPy array, got {type(x).__name__} ({e})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected numbers, got an array of dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float32)


def guess_layout(shape):
    """The library's rule for a 4-D image array N x a x b x c: channels first
    when a is 1, 3 or 4 and smaller than b and c; channels last when c is."""
    _, a, b, c = shape
    first = a in (1, 3, 4) and a < b and a < c
    last = c in (1, 3, 4) and c < a and c < b
    if first != last:
        return "nchw" if first else "nhwc"
    return None


def images(x, layout=None):
    """Raw images as N x C x H x W float32, and how to give a batch back in
    the user's own layout (for Python perturbers): returns (images, to_user,
    from_user)."""
    array = float32(x, "x")
    if array.ndim == 3:
        return np.ascontiguousarray(array[:, None]), (lambda b: b[:, 0]), (lambda b: b[:, None])
    if array.ndim != 4:
        raise ValueError(f"x: images must be N x H x W, N x C x H x W or N x H x W x C, got shape {array.shape}")
    layout = (layout or guess_layout(array.shape) or "").lower()
    if layout == "nchw":
        return array, (lambda b: b), (lambda b: b)
    if layout == "nhwc":
        return (
            np.ascontiguousarray(array.transpose(0, 3, 1, 2)),
            (lambda b: b.transpose(0, 2, 3, 1)),
            (lambda b: b.transpose(0, 3, 1, 2)),
        )
    raise ValueError(f"x: cannot tell the layout of images of shape {array.shape}; pass layout='nchw' or layout='nhwc'")


def whole(where, name, value, low=0, high=2**63 - 1):
    """``value`` checked to be a whole number from ``low`` to ``high`` in
    Python, where the message can name the argument: the Rust core's
    unsigned parameters turned -1 into an OverflowError naming nothing."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{where}: {name} must be from {low} to {high}, not {value}")
    return int(value)


def labels(y, text=False):
    """Labels as a float64 array for the Rust core, which reads them as it
    reads a labels file: N or N x 1 (whole numbers are classes, as in the
    CLI), or one-hot N x K (Keras's ``to_categorical``). With ``text``,
    strings come back as a list of class names, unless every one is a
    number ("3"), which is read as the number, as a CSV label column's is."""
    array = np.asarray(y)
    if text and array.ndim == 1 and array.dtype.kind in "UO" and all(isinstance(v, str) for v in array):
        try:
            array = array.astype(np.float64)
        except ValueError:
            return [str(v) for v in array]
    if array.dtype.kind not in "biuf":
        raise TypeError(f"y: expected numeric labels, got an array of dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)
