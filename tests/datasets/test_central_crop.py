"""CentralCrop keeps the centre of the film at any size, and refuses to crop
an image whose boxes or masks it would leave behind."""
import numpy as np
import pytest
from mmengine.registry import TRANSFORMS

import fx_mm  # noqa: F401  (registers the transforms)


def film(h, w):
    """(h, w, 3) uint8 whose pixel (y, x) holds y in channel 0, x in 1."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.arange(h)[:, None]
    img[..., 1] = np.arange(w)[None, :]
    return img


@pytest.mark.parametrize('h,w,fraction,top,left,keep_h,keep_w', [
    (10, 20, 0.8, 1, 2, 8, 16),
    (224, 224, 0.8, 22, 22, 179, 179),
    (7, 9, 1.0, 0, 0, 7, 9),
])
def test_keeps_the_centre(h, w, fraction, top, left, keep_h, keep_w):
    crop = TRANSFORMS.build(dict(type='CentralCrop', fraction=fraction))
    out = crop(dict(img=film(h, w), img_path='x.png', img_shape=(h, w)))
    assert out['img'].shape == (keep_h, keep_w, 3)
    assert out['img_shape'] == (keep_h, keep_w)
    assert out['img'][0, 0, 0] == top and out['img'][0, 0, 1] == left
    # Centred: what is cut on each side differs by at most one pixel.
    assert abs((h - keep_h - top) - top) <= 1
    assert abs((w - keep_w - left) - left) <= 1


def test_refuses_images_with_boxes():
    crop = TRANSFORMS.build(dict(type='CentralCrop', fraction=0.8))
    with pytest.raises(ValueError, match=r'lung\.png.*gt_bboxes'):
        crop(dict(img=film(10, 10), img_path='lung.png',
                  gt_bboxes=np.zeros((1, 4), np.float32)))


@pytest.mark.parametrize('fraction', [0, -0.5, 1.2])
def test_refuses_a_fraction_outside_0_1(fraction):
    with pytest.raises(ValueError, match='fraction'):
        TRANSFORMS.build(dict(type='CentralCrop', fraction=fraction))
