"""Dataset augmentation applied on the fly, per minibatch (book §7.4).

Every transform here is a callable ``transform(xb, yb) -> (xb, yb)`` on
NumPy arrays, the form ``DataLoader(..., transform=...)`` and
``training.fit(..., transform=...)`` take; :class:`Compose` chains them.
Labels pass through unchanged (the transformations are meant to keep the
class).  Randomness comes from ``cr.random.generator()`` (the generator in
scope, e.g. ``fit(..., generator=...)``'s, else the default one), so a seed
makes the augmented stream reproducible.

Image transforms are vectorised over the batch: one inverse affine map
per image, one coordinate grid for the whole batch, and one gather
(nearest or bilinear) — no Python loop over images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import random as _random

__all__ = ["Compose", "InputNoise", "RandomAffine", "affine_transform"]


def _per_image(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"Expected {name} as a scalar or shape ({n},). Received: {arr.shape}")
    return arr


def _as_nchw(images: np.ndarray) -> tuple[np.ndarray, tuple]:
    images = np.asarray(images)
    if images.ndim == 3:
        return images[:, None], images.shape
    if images.ndim == 4:
        return images, images.shape
    raise ValueError(
        f"Expected images of shape (N, H, W) or (N, C, H, W). Received: {images.shape}"
    )


def affine_transform(images: np.ndarray, angle=0.0, translate=(0.0, 0.0), scale=1.0,
                     mode: str = "bilinear", fill: float = 0.0) -> np.ndarray:
    """Rotate, scale and translate a batch of images about their centres.

    The content of image n is rotated by ``angle[n]`` degrees
    counter-clockwise (as displayed, row 0 at the top; 90° equals
    ``np.rot90``), scaled by ``scale[n]`` and shifted by ``translate[n] =
    (dx, dy)`` pixels (right, down).  Each output pixel p' samples the input
    at the inverse map p = A⁻¹(p' − t), relative to the centre
    ((H−1)/2, (W−1)/2); samples falling outside read ``fill``.

    Args:
        images: (N, H, W) or (N, C, H, W).
        angle: degrees, scalar or (N,).
        translate: (dx, dy) or an (N, 2) array, in pixels.
        scale: zoom factor (> 1 enlarges), scalar or (N,).
        mode: ``"bilinear"`` or ``"nearest"``.
        fill: value outside the input.

    Returns:
        Array of the input's shape and dtype.
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"Expected mode 'bilinear' or 'nearest'. Received: mode={mode!r}")
    x, shape = _as_nchw(images)
    n, c, h, w = x.shape
    theta = np.deg2rad(_per_image(angle, n, "angle"))
    s = _per_image(scale, n, "scale")
    if np.any(s <= 0):
        raise ValueError(f"Expected scale > 0. Received: min scale {s.min()}")
    t = np.asarray(translate, dtype=np.float64)
    if t.shape not in ((2,), (n, 2)):
        raise ValueError(
            f"Expected translate as (dx, dy) or shape ({n}, 2). Received: "
            f"{np.shape(translate)}"
        )
    t = np.broadcast_to(t, (n, 2))
    # output grid relative to the centre, shared by the batch: (H*W,)
    rows, cols = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2,
                             indexing="ij")
    xo = cols.reshape(1, -1) - t[:, :1]  # (N, HW)
    yo = rows.reshape(1, -1) - t[:, 1:]
    cos = (np.cos(theta) / s)[:, None]
    sin = (np.sin(theta) / s)[:, None]
    # inverse of [[cos, sin], [-sin, cos]] * s (the forward map for y pointing down)
    src_c = cos * xo - sin * yo + (w - 1) / 2
    src_r = sin * xo + cos * yo + (h - 1) / 2
    flat = x.reshape(n, c, h * w)
    fill = x.dtype.type(fill) if x.dtype.kind == "f" else fill

    def gather(r, q):
        inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
        idx = np.where(inside, r * w + q, 0)
        vals = np.take_along_axis(flat, idx[:, None, :], axis=2)
        return vals, inside[:, None, :]

    if mode == "nearest":
        r = np.rint(src_r).astype(np.int64)
        q = np.rint(src_c).astype(np.int64)
        vals, inside = gather(r, q)
        out = np.where(inside, vals, fill)
    else:
        r0 = np.floor(src_r)
        q0 = np.floor(src_c)
        fr = (src_r - r0)[:, None, :].astype(x.dtype)
        fq = (src_c - q0)[:, None, :].astype(x.dtype)
        r0 = r0.astype(np.int64)
        q0 = q0.astype(np.int64)
        out = np.zeros(flat.shape, dtype=x.dtype)
        corners = ((0, 0, (1 - fr) * (1 - fq)), (0, 1, (1 - fr) * fq),
                   (1, 0, fr * (1 - fq)), (1, 1, fr * fq))
        for dr, dq, weight in corners:
            vals, inside = gather(r0 + dr, q0 + dq)
            out += np.where(inside, vals, fill) * weight
    return out.astype(x.dtype, copy=False).reshape(shape)


class RandomAffine:
    """Random rotation, scaling and translation of each image in a minibatch (book §7.4).

    Parameters are drawn independently per image: angle ~ U(−degrees,
    degrees), scale ~ U(scale[0], scale[1]), dx, dy ~ U(−translate,
    translate) pixels.  Then :func:`affine_transform` warps the whole batch
    at once.

    Args:
        degrees: maximum rotation in degrees.
        translate: maximum shift in pixels, one number or (max_dx, max_dy).
        scale: (low, high) range of the zoom factor.
        mode: ``"bilinear"`` or ``"nearest"``.
        fill: value for pixels that come from outside the image.
        image_shape: (H, W) or (C, H, W) when the batch comes flat, as
            (N, H*W) or (N, C*H*W) rows (e.g. scikit-learn's digits); the
            output is flattened back.

    Example:
        >>> aug = RandomAffine(degrees=10, translate=1, image_shape=(8, 8))
        >>> loader = DataLoader(TensorDataset(X, y), transform=aug)
    """

    def __init__(self, degrees: float = 0.0, translate: float | Sequence[float] = 0.0,
                 scale: Sequence[float] = (1.0, 1.0), mode: str = "bilinear",
                 fill: float = 0.0, image_shape: Sequence[int] | None = None):
        if degrees < 0:
            raise ValueError(f"Expected degrees >= 0. Received: degrees={degrees}")
        tr = np.broadcast_to(np.asarray(translate, dtype=np.float64), (2,))
        if np.any(tr < 0):
            raise ValueError(f"Expected translate >= 0. Received: translate={translate}")
        lo, hi = scale
        if not 0 < lo <= hi:
            raise ValueError(f"Expected 0 < scale[0] <= scale[1]. Received: scale={scale}")
        if mode not in ("bilinear", "nearest"):
            raise ValueError(f"Expected mode 'bilinear' or 'nearest'. Received: mode={mode!r}")
        self.degrees = float(degrees)
        self.translate = tr.copy()
        self.scale = (float(lo), float(hi))
        self.mode = mode
        self.fill = fill
        self.image_shape = None if image_shape is None else tuple(image_shape)

    def __call__(self, xb: np.ndarray, yb=None):
        xb = np.asarray(xb)
        n = xb.shape[0]
        images = xb
        if self.image_shape is not None:
            images = xb.reshape((n,) + self.image_shape)
        rng = _random.generator()
        angle = rng.uniform(-self.degrees, self.degrees, n)
        scale = rng.uniform(self.scale[0], self.scale[1], n)
        shift = rng.uniform(-1.0, 1.0, (n, 2)) * self.translate
        out = affine_transform(images, angle, shift, scale, self.mode, self.fill)
        return out.reshape(xb.shape), yb

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={tuple(self.translate)}, "
                f"scale={self.scale}, mode={self.mode!r})")


class InputNoise:
    """Add N(0, std²) noise to every input of a minibatch (book §7.4, §7.5).

    Args:
        std: noise standard deviation ≥ 0.
    """

    def __init__(self, std: float):
        if not np.isfinite(std) or std < 0:
            raise ValueError(f"Expected std >= 0. Received: std={std}")
        self.std = float(std)

    def __call__(self, xb: np.ndarray, yb=None):
        xb = np.asarray(xb)
        dtype = xb.dtype if xb.dtype.kind == "f" else np.float32
        noise = _random.generator().standard_normal(xb.shape, dtype=np.float32)
        return (xb + noise * np.float32(self.std)).astype(dtype, copy=False), yb

    def __repr__(self):
        return f"InputNoise(std={self.std})"


class Compose:
    """Apply transforms one after the other: ``Compose(RandomAffine(...), InputNoise(0.1))``."""

    def __init__(self, *transforms: Callable):
        self.transforms = transforms

    def __call__(self, xb, yb=None):
        for transform in self.transforms:
            xb, yb = transform(xb, yb)
        return xb, yb
