"""One held-out case of one head: the truth beside what the head made of it.

Colours (Okabe-Ito, colour-blind friendly), the same on every case:

- masks: the prediction tinted blue with a blue outline, the truth as a
  white outline;
- boxes: a true box found in green, a true box missed in yellow (thick), a
  prediction that found one in blue, a false prediction in vermillion (thick;
  the caption gives the classes and scores);
- classification: the radiograph alone (the caption gives the calls).
"""
from typing import Optional

import cv2
import numpy as np

from fx_mm.evaluation.held_out_cases import HeldOutCase

# BGR.
PRED = (178, 114, 0)        # blue
TRUTH = (255, 255, 255)     # white
FOUND = (115, 158, 0)       # bluish green
MISSED = (66, 228, 240)     # yellow
FALSE = (0, 94, 213)        # vermillion


def _fit(gray: np.ndarray, max_side: int) -> tuple:
    """The radiograph at most ``max_side`` on its longest side, as BGR, and
    the scale applied (drawings follow it)."""
    scale = min(1.0, max_side / max(gray.shape))
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), scale


def _outline(img: np.ndarray, mask: np.ndarray, colour, thickness: int):
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(img, contours, -1, colour, thickness)


def draw_case(gray: np.ndarray, case: HeldOutCase,
              pred_masks: Optional[np.ndarray] = None,
              gt_masks: Optional[np.ndarray] = None,
              max_side: int = 384,
              alpha: float = 0.35) -> np.ndarray:
    """Draw one case.

    Args:
        gray (np.ndarray): (H, W) uint8 radiograph at its original size.
        case (HeldOutCase): The case (loc cases draw from its record).
        pred_masks (np.ndarray, optional): (C, H, W) predicted masks of a
            seg case, at the original size.
        gt_masks (np.ndarray, optional): (C, H, W) true masks, likewise.
        max_side (int): Longest side of the drawing.
        alpha (float): Opacity of the predicted-mask tint.

    Returns:
        np.ndarray: (h, w, 3) BGR drawing, longest side at most
        ``max_side``.
    """
    img, scale = _fit(gray, max_side)
    h, w = img.shape[:2]
    if case.task == 'seg' and pred_masks is not None:
        tint = img.copy()
        for mask in pred_masks:
            m = cv2.resize(mask.astype(np.uint8), (w, h),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
            tint[m] = PRED
            _outline(img, m, PRED, 1)
        img = cv2.addWeighted(tint, alpha, img, 1 - alpha, 0)
        for mask in gt_masks if gt_masks is not None else ():
            m = cv2.resize(mask.astype(np.uint8), (w, h),
                           interpolation=cv2.INTER_NEAREST)
            _outline(img, m, TRUTH, 1)
    elif case.task == 'loc':
        r, d = case.record, case.details
        found = {j for _, j in d['matched']}

        def box(b, colour, thickness):
            x1, y1, x2, y2 = (int(round(v * scale)) for v in b)
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, thickness)

        # No labels on the image: at report size they cover the lungs; the
        # caption names the missed and false boxes with their scores.
        for j, b in enumerate(r['gt_bboxes']):
            box(b, FOUND if j in found else MISSED, 1 if j in found else 2)
        for i, _ in d['matched']:
            box(r['pred_bboxes'][i], PRED, 1)
        for i in d['false']:
            box(r['pred_bboxes'][i], FALSE, 2)
    return img


def encode_jpeg(img: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR drawing (a report embeds them)."""
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError('OpenCV could not encode the drawing as JPEG.')
    return buf.tobytes()
