"""Tests for the procedural faces: shapes, determinism, and that every label is visible in pixels."""

import pytest
import torch
import torch.nn.functional as F

from dcgan_lib import faces
from dcgan_lib.faces import (ATTRIBUTES, BACKGROUNDS, BOXES, HAIR_COLOURS, NUISANCE, SKIN_TONES, Faces, make_faces,
                             render, sample_attributes)


def changed(a: Faces, b: Faces, tol: int = 8) -> torch.Tensor:
    """Bool (N, H, W): pixels where any channel differs by more than tol."""
    return (a.images.int() - b.images.int()).abs().amax(1) > tol


def box_mask(boxes: torch.Tensor, size: int, pad: float = 0.0) -> torch.Tensor:
    """Bool (N, H, W): pixel centres inside each box grown by pad pixels."""
    c = torch.arange(size) + 0.5
    x0, y0, x1, y1 = (boxes[:, i, None] for i in range(4))
    inx = (c >= x0 - pad) & (c <= x1 + pad)  # (N, W)
    iny = (c >= y0 - pad) & (c <= y1 + pad)  # (N, H)
    return iny[:, :, None] & inx[:, None, :]


def erode(mask: torch.Tensor) -> torch.Tensor:
    """Bool (N, H, W): mask without its one-pixel rim (rim pixels are anti-aliased blends)."""
    return F.max_pool2d((~mask).float()[:, None], 3, 1, 1)[:, 0] == 0


def toggled(attr: str, n: int = 48, seed: int = 5, size: int = 32, **fixed) -> tuple[Faces, Faces]:
    """The same n faces rendered with attr False and with attr True."""
    base = sample_attributes(n, seed=seed, **fixed)
    return render({**base, attr: torch.zeros(n, dtype=torch.bool)}, size), \
        render({**base, attr: torch.ones(n, dtype=torch.bool)}, size)


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_shapes_and_dtypes(size):
    f = make_faces(5, size, seed=1)
    assert len(f) == 5
    assert f.images.shape == (5, 3, size, size) and f.images.dtype == torch.uint8
    assert f.mask.shape == (5, size, size) and f.mask.dtype == torch.bool
    assert set(f.boxes) == set(BOXES)
    assert all(b.shape == (5, 4) and b.dtype == torch.float32 for b in f.boxes.values())
    for name in ATTRIBUTES:
        assert f.attributes[name].dtype == torch.bool and f.attributes[name].shape == (5,)
    for name in ("hair_colour", "skin_tone", "background"):
        assert f.attributes[name].dtype == torch.int64
    assert f.attributes["turn"].dtype == torch.float32
    assert set(NUISANCE) <= set(f.attributes)


@pytest.mark.parametrize("size", [48, 256, 8, 0])
def test_bad_size_raises(size):
    with pytest.raises(ValueError, match=f"power of two between 16 and 128, got {size}"):
        make_faces(2, size)
    with pytest.raises(ValueError):
        render(sample_attributes(2), size)


def test_empty_batch():
    f = make_faces(0, 32)
    assert f.images.shape == (0, 3, 32, 32) and f.mask.shape == (0, 32, 32)
    assert f.boxes["glasses"].shape == (0, 4) and f.attributes["turn"].shape == (0,)
    with pytest.raises(ValueError):
        make_faces(-1)


def test_deterministic_and_seed_dependent():
    a, b, c = make_faces(40, seed=3), make_faces(40, seed=3), make_faces(40, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.mask, b.mask)
    assert all(torch.equal(a.boxes[k], b.boxes[k]) for k in BOXES)
    assert all(torch.equal(a.attributes[k], b.attributes[k]) for k in a.attributes)
    assert not torch.equal(a.images, c.images)
    assert not torch.equal(a.attributes["turn"], c.attributes["turn"])
    # render is a pure function of the dict
    assert torch.equal(render(a.attributes).images, a.images)


def test_prefix_of_larger_batch_is_the_same():
    # 300 crosses a rendering-chunk boundary at 32x32, so chunking must not change pixels either
    big, small = make_faces(300, seed=2), make_faces(270, seed=2)
    assert torch.equal(big.images[:270], small.images)
    assert all(torch.equal(big.attributes[k][:270], small.attributes[k]) for k in small.attributes)


def test_attribute_frequencies():
    a = sample_attributes(2000, seed=0)
    for name in ATTRIBUTES:
        assert 0.44 < a[name].float().mean() < 0.56, name
    for name, values in (("hair_colour", HAIR_COLOURS), ("skin_tone", SKIN_TONES), ("background", BACKGROUNDS)):
        counts = torch.bincount(a[name], minlength=len(values))
        assert len(counts) == len(values) and counts.min() > 2000 / len(values) * 0.7, name
    t = a["turn"]
    assert t.min() >= -1 and t.max() <= 1 and abs(t.mean()) < 0.06 and t.min() < -0.95 and t.max() > 0.95
    # attributes are drawn independently
    assert abs(torch.corrcoef(torch.stack([a[k].float() for k in ATTRIBUTES]))[0, 1:]).max() < 0.1


def test_fixed_forces_values_and_leaves_the_rest():
    free = sample_attributes(30, seed=9)
    forced = sample_attributes(30, seed=9, eyeglasses=True, turn=0.5, hair_colour=torch.arange(30) % 5)
    assert forced["eyeglasses"].all() and forced["eyeglasses"].dtype == torch.bool
    assert torch.all(forced["turn"] == 0.5) and forced["turn"].dtype == torch.float32
    assert torch.equal(forced["hair_colour"], torch.arange(30) % 5)
    for k in free:
        if k not in ("eyeglasses", "turn", "hair_colour"):
            assert torch.equal(free[k], forced[k]), k
    assert make_faces(10, smiling=False).attributes["smiling"].sum() == 0
    with pytest.raises(ValueError, match="unknown"):
        sample_attributes(3, glasses=True)
    with pytest.raises(ValueError, match="hair_colour"):
        make_faces(3, hair_colour=len(HAIR_COLOURS))


def test_eyeglasses_visible_inside_their_box_only():
    off, on = toggled("eyeglasses")
    diff = changed(off, on)
    box = on.boxes["glasses"]
    assert torch.equal(box, off.boxes["glasses"])  # the box exists whether or not glasses are worn
    assert ((diff & box_mask(box, 32)).sum((1, 2)) >= 15).all()
    assert not (diff & ~box_mask(box, 32, pad=1.0)).any()


def test_smiling_visible_in_mouth_box():
    neutral, smile = toggled("smiling")
    diff = changed(neutral, smile)
    assert ((diff & box_mask(smile.boxes["mouth"], 32)).sum((1, 2)) >= 8).all()
    both = box_mask(smile.boxes["mouth"], 32, 1.0) | box_mask(neutral.boxes["mouth"], 32, 1.0)
    assert not (diff & ~both).any()
    # the grin is wider and taller than the neutral mouth
    w = lambda b: b[:, 2] - b[:, 0]
    assert (w(smile.boxes["mouth"]) > 1.5 * w(neutral.boxes["mouth"])).all()


def test_long_hair_falls_beside_and_below_the_face():
    short, long = toggled("long_hair")
    diff = changed(short, long)
    assert torch.equal(short.mask, long.mask) and not (diff & erode(short.mask)).any()  # hair is behind the face
    for d, m in zip(diff, short.mask):
        rows, cols = m.any(1).nonzero(), m.any(0).nonzero()
        chin, left, right = rows.max().item(), cols.min().item(), cols.max().item()
        below = d[chin + 1:]
        assert below[:, :left].sum() >= 3 and below[:, right + 1:].sum() >= 3


def test_mask_is_the_face():
    f = make_faces(64, 64, seed=11, eyeglasses=False, smiling=False)
    area = f.mask.float().mean((1, 2))
    assert (area > 0.1).all() and (area < 0.6).all()
    assert not f.mask[:, 0, 0].any() and not f.mask[:, 0, -1].any() and not f.mask[:, -1, 0].any()
    # most of the mask's interior has exactly the face's skin colour (features are small)
    skin = torch.tensor(faces.PALETTES["skin"])[f.attributes["skin_tone"]] * 255
    is_skin = (f.images.float() - skin[:, :, None, None]).abs().amax(1) < 2
    inner = erode(f.mask)
    assert ((is_skin & inner).sum((1, 2)) / inner.sum((1, 2)) > 0.65).all()
    # and hair (drawn over the forehead) is excluded: skin-coloured pixels outside the mask are rare
    assert (is_skin & ~f.mask).sum() < 0.02 * f.mask.sum()


@pytest.mark.parametrize("size", [16, 64])
def test_boxes_in_bounds_and_eyes_inside_glasses(size):
    f = make_faces(200, size, seed=7)
    for name, b in f.boxes.items():
        assert (b >= 0).all() and (b <= size).all(), name
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all(), name
    g = f.boxes["glasses"]
    for eye in ("left_eye", "right_eye"):
        e = f.boxes[eye]
        assert (e[:, :2] >= g[:, :2]).all() and (e[:, 2:] <= g[:, 2:]).all()
    assert (f.boxes["left_eye"][:, 2] < f.boxes["right_eye"][:, 0]).all()
    assert (f.boxes["mouth"][:, 1] > f.boxes["glasses"][:, 3]).all()


def test_eye_boxes_hold_eyes():
    f = make_faces(32, 64, seed=4, eyeglasses=False)
    img = f.images.float() / 255
    for eye in ("left_eye", "right_eye"):
        inside = box_mask(f.boxes[eye], 64)
        white = (img.amin(1) > 0.9) & inside
        pupil = (img.amax(1) < 0.2) & inside
        assert (white.sum((1, 2)) >= 2).all() and (pupil.sum((1, 2)) >= 2).all()


def test_turn_moves_features_towards_its_sign():
    base = sample_attributes(20, seed=8)
    centre = {}
    for t in (-0.8, 0.0, 0.8):
        f = render({**base, "turn": torch.full((20,), t)}, 32)
        centre[t] = {k: (f.boxes[k][:, 0] + f.boxes[k][:, 2]) / 2 for k in BOXES}
    for k in BOXES:
        assert (centre[-0.8][k] < centre[0.0][k] - 1).all() and (centre[0.8][k] > centre[0.0][k] + 1).all(), k
    # and the pixels move too: the dark pupils' mean column follows the turn
    left, right = (render({**base, "eyeglasses": torch.zeros(20, dtype=torch.bool),
                           "turn": torch.full((20,), t)}, 64) for t in (-1.0, 1.0))
    cols = torch.arange(64.0)

    def pupil_col(f):
        eyes = box_mask(f.boxes["left_eye"], 64) | box_mask(f.boxes["right_eye"], 64)
        dark = ((f.images.float() / 255).amax(1) < 0.2) & eyes
        return (dark.float().sum(1) * cols).sum(1) / dark.float().sum((1, 2))

    assert (pupil_col(right) > pupil_col(left) + 4).all()


def test_sizes_show_the_same_picture():
    a = sample_attributes(16, seed=6)
    small, big = render(a, 32), render(a, 64)
    assert torch.allclose(big.boxes["mouth"], 2 * small.boxes["mouth"], atol=1e-4)
    down = F.avg_pool2d(big.images.float(), 2)
    assert (down - small.images.float()).abs().mean() < 6


def test_slicing_gives_consistent_subsets():
    f = make_faces(12, seed=1)
    for idx in (slice(2, 7), torch.tensor([0, 5, 11]), f.attributes["smiling"], 3, -1):
        sub = f[idx]
        assert isinstance(sub, Faces)
        assert len(sub) == sub.mask.shape[0] == sub.boxes["mouth"].shape[0] == sub.attributes["turn"].shape[0]
        again = render(sub.attributes)  # a subset's attributes reproduce exactly its images
        assert torch.equal(again.images, sub.images) and torch.equal(again.mask, sub.mask)
        assert torch.equal(again.boxes["glasses"], sub.boxes["glasses"])
    assert len(f[3]) == 1 and torch.equal(f[3].images[0], f.images[3])
    assert len(f[f.attributes["smiling"]]) == int(f.attributes["smiling"].sum())


def test_render_fills_in_defaults():
    f = render({"smiling": torch.tensor([True, False])}, 32)
    assert len(f) == 2 and f.attributes["turn"].abs().max() == 0 and not f.attributes["eyeglasses"].any()
    assert not torch.equal(f.images[0], f.images[1])


def test_bad_counts_indices_and_fixed_values_get_clear_errors():
    faces = make_faces(5, 16)
    with pytest.raises(IndexError, match="face 10 of 5"):
        faces[10]
    assert len(faces[-1]) == 1
    with pytest.raises(ValueError, match="tensor of 4"):
        sample_attributes(4, turn=torch.zeros(3))
    with pytest.raises(ValueError, match="smiling='yes'"):
        make_faces(2, 16, smiling="yes")
    with pytest.raises(ValueError, match="an integer >= 0, got 2.0"):
        make_faces(2.0, 16)
