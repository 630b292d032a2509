"""Augmentation: affine warps against closed forms and scipy, reproducibility."""

import numpy as np
import pytest
from scipy import ndimage

import chainrule as cr
from chainrule.regularization import (
    Compose,
    InputNoise,
    RandomAffine,
    affine_transform,
)


def _images(shape=(3, 2, 9, 9), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _shift_zero_fill(img, dy, dx):
    out = np.roll(img, (dy, dx), axis=(-2, -1))
    if dy > 0:
        out[..., :dy, :] = 0
    elif dy < 0:
        out[..., dy:, :] = 0
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, dx:] = 0
    return out


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_zero_transform_is_identity(mode):
    x = _images()
    np.testing.assert_array_equal(affine_transform(x, mode=mode), x)
    aug = RandomAffine(degrees=0, translate=0, scale=(1, 1), mode=mode)
    out, y = aug(x, np.arange(3))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(y, np.arange(3))


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_integer_translation_is_roll_with_zero_fill(mode):
    x = _images((4, 7, 8))  # (N, H, W), non-square
    shifts = np.array([[2, 0], [-1, 3], [0, -2], [3, 1]])  # (dx, dy)
    out = affine_transform(x, translate=shifts, mode=mode)
    for i, (dx, dy) in enumerate(shifts):
        np.testing.assert_allclose(out[i], _shift_zero_fill(x[i], dy, dx), atol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_multiples_of_90_is_rot90(k):
    x = _images((2, 3, 6, 6))
    out = affine_transform(x, angle=90 * k, mode="nearest")
    np.testing.assert_array_equal(out, np.rot90(x, k, axes=(-2, -1)))


def test_bilinear_rotation_and_scale_match_scipy():
    x = _images((3, 11, 11))
    angles = np.array([17.0, -40.0, 5.0])
    scales = np.array([1.0, 1.3, 0.8])
    shifts = np.array([[0.5, -1.25], [0.0, 0.0], [2.0, 1.0]])
    out = affine_transform(x, angles, shifts, scales, mode="bilinear")
    c = np.array([5.0, 5.0])
    for i in range(3):
        th = np.deg2rad(angles[i])
        # inverse map in (row, col) coordinates: p = M p' + offset
        m = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]]) / scales[i]
        t = np.array([shifts[i, 1], shifts[i, 0]])  # (dy, dx)
        offset = c - m @ (c + t)
        ref = ndimage.affine_transform(x[i].astype(np.float64), m, offset, order=1,
                                       mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(out[i], ref, atol=1e-5)


def test_random_affine_reproducible_varied_and_flat_input():
    x = _images((16, 64), seed=1)  # flat 8x8 rows, as scikit-learn's digits
    aug = RandomAffine(degrees=15, translate=1.0, scale=(0.9, 1.1), image_shape=(8, 8))
    cr.manual_seed(5)
    a, _ = aug(x)
    cr.manual_seed(5)
    b, _ = aug(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    c, _ = aug(x)
    assert not np.array_equal(a, c)  # new parameters on every call
    # each image gets its own parameters: equal inputs give different outputs
    same = np.repeat(x[:1], 8, axis=0)
    out, _ = aug(same)
    assert len({o.tobytes() for o in out}) == 8


def test_input_noise_and_compose():
    x = np.zeros((200, 50), np.float32)
    cr.manual_seed(2)
    noisy, y = InputNoise(0.3)(x, "labels")
    assert y == "labels"
    assert abs(noisy.std() - 0.3) < 5 * 0.3 / np.sqrt(2 * x.size)
    warp = RandomAffine(degrees=20, image_shape=(5, 10))
    both = Compose(warp, InputNoise(0.3))
    x = np.random.default_rng(0).standard_normal((6, 50)).astype(np.float32)
    cr.manual_seed(2)
    out, _ = both(x, None)
    cr.manual_seed(2)
    ref, _ = InputNoise(0.3)(*warp(x, None))
    np.testing.assert_array_equal(out, ref)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\)"):
        affine_transform(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="mode"):
        RandomAffine(mode="cubic")
    with pytest.raises(ValueError, match="scale"):
        RandomAffine(scale=(0, 1))
