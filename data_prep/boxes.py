"""Boxes derived from masks (CANDID-PTX, SIIM-ACR, CheXmask), as in the paper.

One box per 8-connected component of a mask. Components smaller than
``MIN_BOX_AREA_FRACTION`` of the image (1e-4: 105 pixels of a 1024 x 1024
radiograph) are annotation specks -- single brush dabs, anti-aliasing left by
rasterising -- and give no box; they stay in the mask.
"""
from typing import List, Tuple

import cv2
import numpy as np

MIN_BOX_AREA_FRACTION = 1e-4


def boxes_from_mask(mask: np.ndarray, min_area: int = None
                    ) -> List[Tuple[float, float, float, float]]:
    """Boxes of the connected components of a mask.

    Args:
        mask (np.ndarray): (H, W) mask; nonzero is foreground.
        min_area (int, optional): Smallest component, in pixels, that gets a
            box. Defaults to ``MIN_BOX_AREA_FRACTION`` of H * W.

    Returns:
        list[tuple]: ``(x1, y1, x2, y2)`` per component in pixel-edge
        coordinates (a component covering columns 3..5 has x1=3, x2=6),
        sorted by (y1, x1).
    """
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    if min_area is None:
        min_area = max(1, int(round(MIN_BOX_AREA_FRACTION * mask.size)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for x, y, w, h, area in stats[1:count]:  # label 0 is the background
        if area >= min_area:
            boxes.append((float(x), float(y), float(x + w), float(y + h)))
    return sorted(boxes, key=lambda b: (b[1], b[0]))
