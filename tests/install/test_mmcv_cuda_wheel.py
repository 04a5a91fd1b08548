"""A CUDA build of mmcv, where one is cached, holds the deformable-attention
kernels for every architecture it was built for.

Runs when ``FX_MMCV_CUDA=1 make install`` (or an install on a GPU machine)
left a CUDA wheel in the cache (~/.cache/fx_mm, or $FX_CACHE); skipped with
the reason otherwise. Needs no GPU: it reads the compiled extension.
"""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sysconfig
import zipfile

import pytest
import torch

CACHE = os.environ.get('FX_CACHE', osp.expanduser('~/.cache/fx_mm'))
KERNELS = ('ms_deformable_im2col_gpu_kernel',
           'ms_deformable_col2im_gpu_kernel')


def cuda_wheels():
    folder = osp.join(CACHE, 'wheels', f'torch-{torch.__version__}')
    return sorted(glob.glob(osp.join(folder, 'cuda*', 'mmcv-*.whl')))


def find_cuobjdump():
    site = sysconfig.get_paths()['purelib']
    candidates = [shutil.which('cuobjdump')] + glob.glob(
        osp.join(site, 'nvidia', 'cu*', 'bin', 'cuobjdump')) + glob.glob(
        '/usr/local/cuda*/bin/cuobjdump') + glob.glob(
        # triton (installed with torch) ships one
        osp.join(site, 'triton', 'backends', 'nvidia', 'bin', 'cuobjdump'))
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope='module', params=cuda_wheels() or [None])
def extension(request, tmp_path_factory):
    wheel = request.param
    if wheel is None:
        pytest.skip(f'no CUDA build of mmcv cached for torch '
                    f'{torch.__version__} under {CACHE}/wheels (build one '
                    'with FX_MMCV_CUDA=1 make install)')
    out = tmp_path_factory.mktemp('wheel')
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist()
                    if re.fullmatch(r'mmcv/_ext\..*\.so', n))
        zf.extract(name, out)
    with open(osp.join(osp.dirname(wheel), 'build_info.txt')) as f:
        info = dict(line.split(' ', 1) for line in f.read().splitlines())
    return str(out / name), info


def test_host_side_registers_the_kernels_and_cuda(extension):
    """The extension was compiled with MMCV_WITH_CUDA: the host code that
    launches the deformable-attention kernels is in it."""
    so, _ = extension
    with open(so, 'rb') as f:
        blob = f.read()
    for kernel in KERNELS:
        assert kernel.encode() in blob, kernel
    assert b'ms_deform_attn_cuda_forward' in blob


def test_device_code_for_every_architecture(extension):
    so, info = extension
    cuobjdump = find_cuobjdump()
    if cuobjdump is None:
        pytest.skip('cuobjdump not found (pip install nvidia-cuda-cuobjdump)')
    elves = subprocess.run([cuobjdump, '--list-elf', so], capture_output=True,
                           text=True, check=True).stdout
    archs = [a.strip().replace('.', '').replace('+PTX', '')
             for a in info['arch_list'].split(';')]
    for arch in archs:
        assert f'sm_{arch}' in elves, (arch, elves[:500])
    symbols = subprocess.run(
        [cuobjdump, '--dump-elf-symbols', so], capture_output=True,
        text=True, check=True).stdout
    for kernel in KERNELS:
        # one device function (float and double instantiations) per arch
        assert symbols.count(kernel) >= 2 * len(archs), kernel


def test_ptx_for_every_architecture_listed_with_it(extension):
    """An architecture listed with +PTX (by default the newest,
    tools/mmcv_variant.py) carries PTX, which a GPU newer than every listed
    architecture JIT-compiles instead of failing with "no kernel image is
    available for execution on the device"."""
    so, info = extension
    wanted = [a.strip().split('+')[0].replace('.', '')
              for a in info['arch_list'].split(';')
              if a.strip().endswith('+PTX')]
    if not wanted:
        pytest.skip(f"this wheel was built without PTX (TORCH_CUDA_ARCH_LIST "
                    f"{info['arch_list']}, the user's own)")
    cuobjdump = find_cuobjdump()
    if cuobjdump is None:
        pytest.skip('cuobjdump not found (pip install nvidia-cuda-cuobjdump)')
    listing = subprocess.run([cuobjdump, '--list-ptx', so],
                             capture_output=True, text=True,
                             check=True).stdout
    # one line per PTX file: "PTX file    1: _ext.1.sm_90.ptx"
    has = set(re.findall(r'\.sm_(\d+a?)\.ptx', listing))
    assert set(wanted) <= has, (wanted, listing[:500])


def test_wheel_is_filed_under_its_torch_cuda_and_architectures(extension):
    _, info = extension
    assert info['torch'] == torch.__version__
    sm = info['arch_list'].replace('.', '').replace('+PTX', 'ptx').replace(
        ';', '_')
    assert info['variant'] == f'cuda{torch.version.cuda}-sm{sm}'
