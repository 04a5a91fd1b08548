"""fx_mm: Foundation X (WACV 2025) on the OpenMMLab toolboxes."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    """Read a requirements file, skipping comments and blank lines."""
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [line.split('#')[0].strip() for line in f
                if line.split('#')[0].strip()]


setup(
    name='fx_mm',
    version='0.1.0',
    description=('Foundation X: cyclic Lock-Release multitask pretraining for '
                 'chest X-ray classification, localization and segmentation, '
                 'on mmengine / mmdet / mmseg / mmpretrain'),
    packages=find_packages(include=['fx_mm', 'fx_mm.*', 'data_prep', 'data_prep.*']),
    python_requires='>=3.10',
    # mmcv is not listed: it must be compiled against the installed torch
    # (tools/install_mmcv.sh, run by `make install`).
    install_requires=read_requirements('torch.txt') + read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    zip_safe=False,
)
