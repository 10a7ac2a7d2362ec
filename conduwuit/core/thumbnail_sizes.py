"""Which thumbnail serves a request, and the geometry that makes it: pure arithmetic.

Spec: client-server-api "Thumbnails". Servers SHOULD produce 32x32 and 96x96 crops and
320x240, 640x480 and 800x600 scales; the requested size is the *minimum* the client
wants; servers MUST NOT upscale and MUST NOT return less than requested unless the
original makes that impossible.

A request is served from the smallest recommended box that covers it in both
dimensions (a larger request gets the largest box, 800x600), with the method the
client asked for. So each original has at most 5 boxes x 2 methods x (animated or
not) = 20 thumbnails, whatever sizes clients ask for: arbitrary sizes cannot fill the
disk. Synapse and conduwuit serve from the same recommended list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Method = Literal["crop", "scale"]
METHODS: tuple[Method, ...] = ("crop", "scale")

#: The spec's recommended thumbnail sizes, smallest first.
RECOMMENDED_BOXES: tuple[tuple[int, int], ...] = (
    (32, 32),
    (96, 96),
    (320, 240),
    (640, 480),
    (800, 600),
)


@dataclass(frozen=True, slots=True)
class Box:
    """The thumbnail a request is served from: a recommended size and a method."""

    width: int
    height: int
    method: Method


def select_box(width: int, height: int, method: Method) -> Box:
    """The smallest recommended box at least ``width`` x ``height``; the largest
    when none is."""
    if width < 1 or height < 1:
        raise ValueError("thumbnail width and height must be positive")
    for box_w, box_h in RECOMMENDED_BOXES:
        if box_w >= width and box_h >= height:
            return Box(box_w, box_h, method)
    box_w, box_h = RECOMMENDED_BOXES[-1]
    return Box(box_w, box_h, method)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Resize the original to ``scaled``, then cut ``crop`` (left, top, right, bottom)
    out of it; the result is ``size``. ``unchanged`` when that is the original."""

    scaled: tuple[int, int]
    crop: tuple[int, int, int, int]

    @property
    def size(self) -> tuple[int, int]:
        left, top, right, bottom = self.crop
        return right - left, bottom - top

    def unchanged(self, width: int, height: int) -> bool:
        return self.scaled == (width, height) and self.size == (width, height)


def geometry(width: int, height: int, box: Box) -> Geometry:
    """How an original of ``width`` x ``height`` becomes the thumbnail for ``box``.

    ``scale`` fits the image inside the box, keeping its aspect ratio. ``crop`` scales
    it to cover the box, then cuts the centre to the box's size. Neither ever
    enlarges: an original smaller than the box is kept at its size (a crop then
    cuts only the dimension that is larger than the box)."""
    if width < 1 or height < 1:
        raise ValueError("image width and height must be positive")
    if box.method == "scale":
        factor = min(box.width / width, box.height / height, 1.0)
    else:
        factor = min(max(box.width / width, box.height / height), 1.0)
    scaled_w = max(1, round(width * factor))
    scaled_h = max(1, round(height * factor))
    if box.method == "scale":
        return Geometry((scaled_w, scaled_h), (0, 0, scaled_w, scaled_h))
    out_w = min(box.width, scaled_w)
    out_h = min(box.height, scaled_h)
    left = (scaled_w - out_w) // 2
    top = (scaled_h - out_h) // 2
    return Geometry((scaled_w, scaled_h), (left, top, left + out_w, top + out_h))
