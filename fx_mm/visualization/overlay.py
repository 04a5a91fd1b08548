"""Overlays a radiologist can read at a glance: masks, boxes, findings."""
from typing import List

import cv2
import numpy as np

# Distinct, colour-blind-friendly BGR tints (Okabe-Ito).
PALETTE = [(0, 159, 230), (233, 180, 86), (115, 158, 0), (66, 228, 240),
           (178, 114, 0), (0, 94, 213), (167, 121, 204), (0, 0, 0)]


def draw_overlay(gray: np.ndarray, result: dict, score_thr: float = 0.3,
                 alpha: float = 0.35, top_findings: int = 6,
                 min_side: int = 512) -> np.ndarray:
    """Draw one image's predictions.

    Args:
        gray (np.ndarray): (H, W) uint8 radiograph at its original size.
        result (dict): From :class:`fx_mm.apis.FXInferencer` (``cls``: dataset
            -> {class: prob}; ``loc``: dataset -> list of box dicts; ``seg``:
            dataset -> {class: (H, W) uint8 mask}).
        score_thr (float): Boxes below this score are not drawn.
        alpha (float): Mask tint opacity.
        top_findings (int): How many classification findings to list.
        min_side (int): Images whose longest side is smaller are enlarged
            to it (masks and boxes with them).

    Returns:
        np.ndarray: (H, W + panel, 3) BGR image: the radiograph with tinted
        masks (and their outlines) and labelled boxes, and a side panel listing
        the top findings, box counts and mask areas.
    """
    # Small images are enlarged so that labels stay legible.
    zoom = max(1.0, min_side / max(gray.shape))
    if zoom > 1:
        gray = cv2.resize(gray, None, fx=zoom, fy=zoom,
                          interpolation=cv2.INTER_LINEAR)
    img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    h, w = gray.shape
    colour_index = 0
    legend: List[tuple] = []
    tint = img.copy()
    for dataset, masks in result.get('seg', {}).items():
        for name, mask in masks.items():
            colour = PALETTE[colour_index % len(PALETTE)]
            colour_index += 1
            m = cv2.resize(mask.astype(np.uint8), (w, h),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
            tint[m] = colour
            contours, _ = cv2.findContours(m.astype(np.uint8),
                                           cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(img, contours, -1, colour, 1)
            legend.append((f'{dataset}: {name} {100 * m.mean():.1f}% of image',
                           colour))
    img = cv2.addWeighted(tint, alpha, img, 1 - alpha, 0)
    scale = max(max(h, w) / 512, 1.0)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale))
    for dataset, boxes in result.get('loc', {}).items():
        shown = [b for b in boxes if b['score'] >= score_thr]
        colour = PALETTE[colour_index % len(PALETTE)]
        colour_index += 1
        for box in shown:
            x1, y1, x2, y2 = (int(round(v * zoom)) for v in box['bbox'])
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, thick + 1)
            label = f"{box['class']} {box['score']:.2f}"
            # Above the box, or inside it at the top edge of the image.
            y_text = y1 - 5 if y1 > 20 * scale else y1 + int(16 * scale)
            cv2.putText(img, label, (x1 + 3, y_text), font, 0.5 * scale,
                        colour, thick, cv2.LINE_AA)
        legend.append((f'{dataset}: {len(shown)} box(es) >= {score_thr}',
                       colour))
    # Heads the checkpoint's validation found at chance are marked as such
    # (the probability of a head at chance must not read as a finding).
    at_chance = (result.get('validation') or {}).get('at_chance', {})
    findings = sorted(((p, f'{d}: {c}', d in at_chance) for d, probs in
                       result.get('cls', {}).items()
                       for c, p in probs.items()), reverse=True)
    grey, red = (150, 150, 150), (80, 80, 255)
    lines = [('Top findings', (255, 255, 255))] + [
        (f'{p:5.1%}  {name}' + (' (at chance)' if chance else ''),
         grey if chance else (255, 255, 255))
        for p, name, chance in findings[:top_findings]] + [('', None)] + [
        (f'! {d}: at chance (val AUC {auc:.2f})', red)
        for d, auc in sorted(at_chance.items())] + legend
    panel_w = max(260, int(w * 0.6))
    panel = np.full((h, panel_w, 3), 32, np.uint8)
    line_h = max(16, int(22 * scale))
    for i, (text, colour) in enumerate(lines):
        if colour is not None:
            cv2.putText(panel, text[:48], (8, line_h * (i + 1)), font,
                        0.5 * scale, colour, 1, cv2.LINE_AA)
    return np.concatenate([img, panel], axis=1)
