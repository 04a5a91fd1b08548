"""`make install` keeps the mmcv build the machine asks for.

The real Makefile and tools/install_mmcv.sh run in a copy of the checkout, on
the stand-in machine (conftest.py), starting from a fresh clone (no .venv).
A venv first installed where no GPU is visible (a login node, a container
build) must get its CUDA build when `make install` or `make test-gpu` runs
on the GPU node; on an unchanged machine a second `make install` must run
nothing (its stamp is up to date), and none of it may need a GPU.
"""
from tests.install.conftest import TORCH


def installs(run):
    """The mmcv wheels pip was asked to install, in order."""
    return [c.split()[-1] for c in run.calls.splitlines()
            if c.startswith('pip install') and c.endswith('.whl')]


def test_login_node_install_is_redone_on_the_gpu_node(machine):
    cpu = machine.cache_wheel('cpu')
    cuda = machine.cache_wheel('cuda13.0-sm90ptx')
    repo = machine.checkout()

    first = machine.make(repo, 'install', gpu_archs='-')
    assert first.proc.returncode == 0, first.proc.stderr
    assert installs(first) == [cpu] and first.marker == f'{TORCH} cpu'
    # Same machine again: up to date, nothing re-run.
    assert machine.make(repo, '-q', 'install', gpu_archs='-'
                        ).proc.returncode == 0

    # The GPU node: the CPU install no longer answers what it asks for.
    assert machine.make(repo, '-q', 'install', gpu_archs='9.0'
                        ).proc.returncode == 1
    gpu = machine.make(repo, 'install', gpu_archs='9.0')
    assert gpu.proc.returncode == 0, gpu.proc.stderr
    assert installs(gpu) == [cpu, cuda]
    assert gpu.marker == f'{TORCH} cuda13.0-sm90ptx'
    assert machine.make(repo, '-q', 'install', gpu_archs='9.0'
                        ).proc.returncode == 0


def test_test_gpu_installs_the_cuda_build_before_the_tests(machine):
    machine.cache_wheel('cpu')
    cuda = machine.cache_wheel('cuda13.0-sm80_90ptx')
    repo = machine.checkout()
    assert machine.make(repo, 'install', gpu_archs='-').proc.returncode == 0

    run = machine.make(repo, 'test-gpu', gpu_archs='8.0;9.0')
    assert run.proc.returncode == 0, run.proc.stderr
    calls = run.calls.splitlines()
    pytest_at = next(i for i, c in enumerate(calls) if c.startswith('pytest'))
    assert f'pip install -q --no-deps --force-reinstall {cuda}' in \
        calls[:pytest_at]
    assert calls[pytest_at] == 'pytest -q -m gpu -rs tests'


def test_a_build_hosts_cuda_wheel_is_kept_on_the_gpu_node(machine):
    """Built where no GPU is visible for 8.0;9.0+PTX (FX_MMCV_CUDA=1), then
    `make install` on an H100 node: that build has sm_90 kernels, so it is
    what the node asks for; nothing is compiled or swapped, the stamp is
    renewed once and then stands."""
    both = machine.cache_wheel('cuda13.0-sm80_90ptx')
    home = machine.cuda_home('cuda-13.0', '13.0')
    repo = machine.checkout()
    host = machine.make(repo, 'install', gpu_archs='-', mode='1')
    assert host.proc.returncode == 0, host.proc.stderr
    assert installs(host) == [both]
    node = machine.make(repo, 'install', gpu_archs='9.0', mmcv_ok=True,
                        sdist=True, cuda_home=home)
    assert node.proc.returncode == 0, node.proc.stderr
    assert 'build FORCE_CUDA' not in node.calls and installs(node) == [both]
    assert node.marker == f'{TORCH} cuda13.0-sm80_90ptx'
    assert machine.make(repo, '-q', 'install', gpu_archs='9.0'
                        ).proc.returncode == 0


def test_the_stamp_follows_the_arch_list_and_the_mode(machine):
    """Asking for other architectures (or another mode) re-runs the mmcv
    step; asking for the same again does not."""
    machine.cache_wheel('cuda13.0-sm80_90ptx')
    sm86 = machine.cache_wheel('cuda13.0-sm86ptx')
    cpu = machine.cache_wheel('cpu')
    repo = machine.checkout()
    assert machine.make(repo, 'install', gpu_archs='-', mode='1'
                        ).proc.returncode == 0
    assert machine.make(repo, '-q', 'install', gpu_archs='-', mode='1'
                        ).proc.returncode == 0
    run = machine.make(repo, 'install', gpu_archs='-', mode='1',
                       arch_list='8.6+PTX')
    assert run.proc.returncode == 0, run.proc.stderr
    assert installs(run)[-1] == sm86
    run = machine.make(repo, 'install', gpu_archs='9.0', mode='0')
    assert run.proc.returncode == 0, run.proc.stderr
    assert installs(run)[-1] == cpu and run.marker == f'{TORCH} cpu'


def cuda_compiles(run):
    return run.calls.count('build FORCE_CUDA=1')


def test_a_failed_cuda_build_is_not_retried_by_every_make(machine):
    """The CUDA compile failed and the CPU build went in: a plain
    `make install` does not recompile (that can take an hour); the retry
    the failure paragraph names does."""
    machine.cache_wheel('cpu')
    home = machine.cuda_home('cuda-13.0', '13.0')
    repo = machine.checkout()
    failed = machine.make(repo, 'install', gpu_archs='9.0', sdist=True,
                          cuda_home=home, cuda_build_fails=True)
    assert failed.proc.returncode == 0, failed.proc.stderr
    assert 'FX_MMCV_CUDA=1 make -B install' in failed.proc.stderr
    assert failed.marker == f'{TORCH} cpu' and cuda_compiles(failed) == 1
    assert machine.make(repo, '-q', 'install', gpu_archs='9.0'
                        ).proc.returncode == 0
    retry = machine.make(repo, '-B', 'install', gpu_archs='9.0', mode='1',
                         sdist=True, cuda_home=home)
    assert retry.proc.returncode == 0, retry.proc.stderr
    assert cuda_compiles(retry) == 2
    assert retry.marker == f'{TORCH} cuda13.0-sm90ptx'


def test_the_fallback_warnings_command_builds_the_kernels(machine):
    """After an auto install fell back to the CPU build, the command that
    fx_mm/ops/deform_attn_fallback.py prints on the GPU,
    `FX_MMCV_CUDA=1 make install`, retries the CUDA build (the mode is part
    of the stamp), without -B."""
    machine.cache_wheel('cpu')
    home = machine.cuda_home('cuda-13.0', '13.0')
    repo = machine.checkout()
    machine.make(repo, 'install', gpu_archs='9.0', sdist=True,
                 cuda_home=home, cuda_build_fails=True)
    retry = machine.make(repo, 'install', gpu_archs='9.0', mode='1',
                         sdist=True, cuda_home=home)
    assert retry.proc.returncode == 0, retry.proc.stderr
    assert cuda_compiles(retry) == 2
    assert retry.marker == f'{TORCH} cuda13.0-sm90ptx'
