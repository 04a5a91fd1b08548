"""tools/install_mmcv.sh takes a CUDA toolkit only if its release is torch's.

torch.utils.cpp_extension refuses to build with an nvcc whose major release
differs from torch.version.cuda, so a cluster's CUDA 12.x CUDA_HOME beside a
cu130 torch used to end in the CPU fallback. The script must check the
release (nvcc --version, else version.json) against torch's major.minor, say
so on the terminal, and fetch the registry toolkit of torch's release.
"""
import pytest

from tests.install.conftest import TORCH


def cuda_build(run):
    """The one CUDA compile the stand-in recorded."""
    builds = [c for c in run.calls.splitlines()
              if c.startswith('build FORCE_CUDA=1')]
    assert len(builds) == 1, run.calls
    return builds[0]


def test_a_cuda_home_of_another_release_is_not_used(machine):
    old = machine.cuda_home('cuda-12.4', '12.4')
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True, cuda_home=old)
    assert run.proc.returncode == 0, run.proc.stderr
    assert f'CUDA_HOME={machine.site}/nvidia/cu13' in cuda_build(run)
    assert 'nvidia-cuda-nvcc==13.0.*' in run.calls
    said = run.proc.stdout
    assert f'CUDA_HOME={old} is CUDA 12.4' in said
    assert 'torch 2.14.1+cu130 was built with CUDA 13.0' in said
    assert 'from the package registry' in said
    assert run.marker == f'{TORCH} cuda13.0-sm90ptx'


def test_a_minor_release_mismatch_is_refused_too(machine):
    """The registry packages and the PATH check pin major.minor; so does
    CUDA_HOME (13.1's nvcc emits PTX that 13.0's driver stack may reject)."""
    newer = machine.cuda_home('cuda-13.1', '13.1')
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True, cuda_home=newer)
    assert run.proc.returncode == 0, run.proc.stderr
    assert f'CUDA_HOME={machine.site}/nvidia/cu13' in cuda_build(run)
    assert f'CUDA_HOME={newer} is CUDA 13.1' in run.proc.stdout


def test_a_cuda_home_of_torchs_release_is_used(machine):
    home = machine.cuda_home('cuda-13.0', '13.0')
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True, cuda_home=home)
    assert run.proc.returncode == 0, run.proc.stderr
    assert f'CUDA_HOME={home} ' in cuda_build(run) + ' '
    assert 'nvidia-cuda-nvcc' not in run.calls
    assert f'CUDA_HOME={home} (CUDA 13.0)' in run.proc.stdout


@pytest.mark.parametrize('json_release, used', [('13.0.88', True),
                                                ('12.8.1', False)])
def test_version_json_answers_when_nvcc_does_not(machine, json_release,
                                                 used):
    home = machine.cuda_home('cuda', None, version_json=json_release)
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True, cuda_home=home)
    assert run.proc.returncode == 0, run.proc.stderr
    build = cuda_build(run)
    if used:
        assert f'CUDA_HOME={home} ' in build + ' '
    else:
        assert f'CUDA_HOME={machine.site}/nvidia/cu13' in build
        assert f'CUDA_HOME={home} is CUDA 12.8' in run.proc.stdout


def test_a_cuda_home_without_nvcc_says_so(machine, tmp_path):
    empty = tmp_path / 'no-toolkit'
    empty.mkdir()
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True,
                               cuda_home=str(empty))
    assert run.proc.returncode == 0, run.proc.stderr
    assert f'CUDA_HOME={machine.site}/nvidia/cu13' in cuda_build(run)
    assert f'CUDA_HOME={empty} has no bin/nvcc' in run.proc.stdout


def test_a_mismatched_nvcc_on_path_is_passed_over_as_before(machine):
    old = machine.cuda_home('cuda-12.4', '12.4')
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True,
                               path=f'{old}/bin:/usr/bin:/bin')
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'nvcc on PATH is CUDA 12.4' in run.proc.stdout
    assert f'CUDA_HOME={machine.site}/nvidia/cu13' in cuda_build(run)
