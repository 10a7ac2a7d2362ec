"""The choice of thumbnail box and the geometry of crop and scale."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.thumbnail_sizes import RECOMMENDED_BOXES, Box, geometry, select_box


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1, 1, (32, 32)),
        (32, 32, (32, 32)),
        (33, 10, (96, 96)),
        (96, 96, (96, 96)),
        (97, 20, (320, 240)),
        (320, 240, (320, 240)),
        (300, 241, (640, 480)),
        (640, 480, (640, 480)),
        (641, 1, (800, 600)),
        (800, 600, (800, 600)),
        (801, 601, (800, 600)),
        (5000, 5000, (800, 600)),
    ],
)
def test_smallest_covering_box_else_the_largest(
    width: int, height: int, expected: tuple[int, int]
) -> None:
    for method in ("crop", "scale"):
        box = select_box(width, height, method)
        assert (box.width, box.height) == expected
        assert box.method == method


def test_nonpositive_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        select_box(0, 10, "crop")
    with pytest.raises(ValueError):
        geometry(0, 10, Box(32, 32, "crop"))


def test_scale_fits_inside_the_box_keeping_the_aspect() -> None:
    geo = geometry(4000, 3000, Box(320, 240, "scale"))
    assert geo.scaled == (320, 240) and geo.size == (320, 240)
    geo = geometry(1000, 3000, Box(320, 240, "scale"))
    assert geo.size == (80, 240)


def test_crop_covers_the_box_and_cuts_the_centre() -> None:
    geo = geometry(400, 200, Box(96, 96, "crop"))
    assert geo.scaled == (192, 96)
    assert geo.crop == (48, 0, 144, 96)
    assert geo.size == (96, 96)


def test_never_upscales() -> None:
    small = geometry(20, 10, Box(96, 96, "crop"))
    assert small.size == (20, 10) and small.unchanged(20, 10)
    assert geometry(20, 10, Box(320, 240, "scale")).unchanged(20, 10)
    # Wider than the box, shorter than it: only the width is cut.
    mixed = geometry(200, 50, Box(96, 96, "crop"))
    assert mixed.scaled == (200, 50) and mixed.size == (96, 50)


@given(
    st.integers(1, 10_000),
    st.integers(1, 10_000),
    st.sampled_from(RECOMMENDED_BOXES),
    st.sampled_from(["crop", "scale"]),
)
def test_geometry_properties(
    width: int, height: int, box_size: tuple[int, int], method: str
) -> None:
    box = Box(box_size[0], box_size[1], method)  # type: ignore[arg-type]
    geo = geometry(width, height, box)
    out_w, out_h = geo.size
    assert 1 <= out_w <= min(width, box.width) and 1 <= out_h <= min(height, box.height)
    assert geo.scaled[0] <= width and geo.scaled[1] <= height
    left, top, right, bottom = geo.crop
    assert 0 <= left <= right <= geo.scaled[0] and 0 <= top <= bottom <= geo.scaled[1]
    if method == "crop" and width >= box.width and height >= box.height:
        assert geo.size == (box.width, box.height)
    if method == "scale":
        assert out_w == min(box.width, width) or out_h == min(box.height, height)
