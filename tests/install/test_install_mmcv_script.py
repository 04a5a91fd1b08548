"""tools/install_mmcv.sh's choices, with a stand-in interpreter.

The stand-in answers the script's questions (torch version, torch's CUDA,
the visible GPUs' architectures), refuses to download mmcv's source (so any
compile attempt fails at once) and records what pip is asked to install.
That is enough to check which cached wheel the script takes in each case:
a CPU wheel never stands in for a CUDA one, a CUDA wheel is keyed by CUDA
release and architectures, and a failed CUDA build ends with the CPU build
and a paragraph that says so.
"""
import os
import subprocess
import textwrap

import pytest

from tests.conftest import repo_path

TORCH = '2.14.1+cu130'


@pytest.fixture
def fake(tmp_path):
    site = tmp_path / 'site'
    site.mkdir()
    py = tmp_path / 'python'
    py.write_text(textwrap.dedent(f'''\
        #!/usr/bin/env bash
        # stand-in interpreter for tools/install_mmcv.sh
        case "$*" in
          *sysconfig*) echo {site} ;;
          "-") cat >/dev/null; echo "{TORCH} 13.0 $FAKE_GPU_ARCHS" ;;
          *"import mmcv"*) [ -n "$FAKE_MMCV_OK" ] ;;
          *torch.__file__*) echo /nonexistent ;;
          *"pip download"*) exit 1 ;;
          *"pip install"*) echo "$*" >> {tmp_path}/pip.log ;;
          *) echo "unexpected: $*" >&2; exit 3 ;;
        esac
        '''))
    py.chmod(0o755)
    cache = tmp_path / 'cache'

    def cache_wheel(variant):
        folder = cache / 'wheels' / f'torch-{TORCH}' / variant
        folder.mkdir(parents=True)
        wheel = folder / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'
        wheel.write_text('')
        return str(wheel)

    def run(gpu_archs='-', mode=None, arch_list=None, mmcv_ok=False):
        env = {k: v for k, v in os.environ.items()
               if k not in ('FX_MMCV_CUDA', 'TORCH_CUDA_ARCH_LIST',
                            'CUDA_HOME')}
        env.update(FAKE_GPU_ARCHS=gpu_archs, PATH='/usr/bin:/bin')
        if mode is not None:
            env['FX_MMCV_CUDA'] = mode
        if arch_list is not None:
            env['TORCH_CUDA_ARCH_LIST'] = arch_list
        if mmcv_ok:
            env['FAKE_MMCV_OK'] = '1'
        proc = subprocess.run(
            ['bash', repo_path('tools', 'install_mmcv.sh'), str(py), '2.1.0',
             str(cache)], env=env, capture_output=True, text=True, timeout=60)
        log = tmp_path / 'pip.log'
        installed = log.read_text() if log.exists() else ''
        marker = site / 'fx_mm_mmcv_built_for_torch.txt'
        return proc, installed, marker.read_text().strip() if \
            marker.exists() else None

    return cache_wheel, run


def test_cpu_machine_takes_the_cpu_wheel_even_beside_a_cuda_one(fake):
    cache_wheel, run = fake
    cpu = cache_wheel('cpu')
    cache_wheel('cuda13.0-sm90')
    proc, installed, marker = run(gpu_archs='-')
    assert proc.returncode == 0, proc.stderr
    assert cpu in installed and 'cuda13.0' not in installed
    assert marker == f'{TORCH} cpu'


def test_gpu_machine_takes_the_cuda_wheel_of_its_architecture(fake):
    cache_wheel, run = fake
    cache_wheel('cpu')
    cache_wheel('cuda13.0-sm80')
    h100 = cache_wheel('cuda13.0-sm90')
    proc, installed, marker = run(gpu_archs='9.0')
    assert proc.returncode == 0, proc.stderr
    assert h100 in installed and '/cpu/' not in installed
    assert marker == f'{TORCH} cuda13.0-sm90'


def test_forced_cuda_without_gpu_uses_the_default_architectures(fake):
    cache_wheel, run = fake
    wheel = cache_wheel('cuda13.0-sm80_90')
    proc, installed, marker = run(gpu_archs='-', mode='1')
    assert proc.returncode == 0, proc.stderr
    assert 'TORCH_CUDA_ARCH_LIST=8.0;9.0' in proc.stdout
    assert wheel in installed and marker == f'{TORCH} cuda13.0-sm80_90'
    # An explicit list names its own wheel folder.
    ptx = cache_wheel('cuda13.0-sm86ptx')
    proc, installed, marker = run(gpu_archs='-', mode='1',
                                  arch_list='8.6+PTX')
    assert proc.returncode == 0, proc.stderr
    assert ptx in installed and marker == f'{TORCH} cuda13.0-sm86ptx'


def test_failed_cuda_build_falls_back_to_cpu_and_says_so(fake):
    cache_wheel, run = fake
    cpu = cache_wheel('cpu')  # no CUDA wheel: the script must compile
    proc, installed, marker = run(gpu_archs='8.0')
    assert proc.returncode == 0, proc.stderr
    assert 'The CUDA build of mmcv 2.1.0 failed' in proc.stderr
    assert 'logs/mmcv-2.1.0-torch-2.14.1+cu130-cuda13.0-sm80-' in proc.stderr
    assert 'pure-PyTorch path' in proc.stderr
    assert cpu in installed
    assert marker == f'{TORCH} cpu'


def test_nothing_builds_when_neither_build_can_be_made(fake):
    _, run = fake
    proc, installed, marker = run(gpu_archs='-')
    assert proc.returncode != 0
    assert 'failed to compile' in proc.stderr
    assert installed == '' and marker is None  # environment untouched


def test_up_to_date_install_is_left_alone(fake):
    cache_wheel, run = fake
    cache_wheel('cpu')
    run(gpu_archs='-')
    proc, installed_again, _ = run(gpu_archs='-', mmcv_ok=True)
    assert 'nothing to do' in proc.stdout
    # on a GPU machine the same CPU install is not "up to date"
    proc, _, _ = run(gpu_archs='9.0', mmcv_ok=True)
    assert 'nothing to do' not in proc.stdout


def test_cuda_asked_of_a_torch_without_cuda_is_refused(fake, tmp_path):
    _, run = fake
    py = tmp_path / 'python'
    py.write_text(py.read_text().replace('13.0 $FAKE', 'none $FAKE'))
    proc, installed, _ = run(mode='1')
    assert proc.returncode == 2 and 'has no CUDA' in proc.stderr
    assert installed == ''
