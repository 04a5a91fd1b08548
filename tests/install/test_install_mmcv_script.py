"""tools/install_mmcv.sh's choices, on the stand-in machine (conftest.py).

Which cached wheel the script takes in each case (a CPU wheel never stands
in for a CUDA one; a CUDA wheel is keyed by CUDA release and architectures,
PTX included), what a build is given, and that a failed CUDA build ends
with the CPU build and a paragraph that says so.
"""
from tests.install.conftest import TORCH, WHEEL


def test_cpu_machine_takes_the_cpu_wheel_even_beside_a_cuda_one(machine):
    cpu = machine.cache_wheel('cpu')
    machine.cache_wheel('cuda13.0-sm90ptx')
    run = machine.install_mmcv(gpu_archs='-')
    assert run.proc.returncode == 0, run.proc.stderr
    assert cpu in run.calls and 'cuda13.0' not in run.calls
    assert run.marker == f'{TORCH} cpu'


def test_gpu_machine_takes_the_cuda_wheel_of_its_architecture(machine):
    machine.cache_wheel('cpu')
    machine.cache_wheel('cuda13.0-sm80ptx')
    machine.cache_wheel('cuda13.0-sm90')  # built without PTX: not this one
    h100 = machine.cache_wheel('cuda13.0-sm90ptx')
    run = machine.install_mmcv(gpu_archs='9.0')
    assert run.proc.returncode == 0, run.proc.stderr
    assert h100 in run.calls
    assert '/cpu/' not in run.calls and 'sm90/' not in run.calls
    assert run.marker == f'{TORCH} cuda13.0-sm90ptx'


def test_forced_cuda_without_gpu_uses_the_default_architectures(machine):
    wheel = machine.cache_wheel('cuda13.0-sm80_90ptx')
    run = machine.install_mmcv(gpu_archs='-', mode='1')
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'TORCH_CUDA_ARCH_LIST=8.0;9.0+PTX' in run.proc.stdout
    assert wheel in run.calls
    assert run.marker == f'{TORCH} cuda13.0-sm80_90ptx'
    # An explicit list names its own wheel folder.
    ptx = machine.cache_wheel('cuda13.0-sm86ptx')
    run = machine.install_mmcv(gpu_archs='-', mode='1', arch_list='8.6+PTX')
    assert run.proc.returncode == 0, run.proc.stderr
    assert ptx in run.calls and run.marker == f'{TORCH} cuda13.0-sm86ptx'


def test_several_visible_gpu_kinds_get_ptx_for_the_newest_only(machine):
    """An A100 and an H100 in one machine: SASS for both, PTX for 9.0."""
    machine.cache_wheel('cuda13.0-sm80_90ptx')
    run = machine.install_mmcv(gpu_archs='9.0;8.0;9.0')
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'TORCH_CUDA_ARCH_LIST=8.0;9.0+PTX' in run.proc.stdout
    assert run.marker == f'{TORCH} cuda13.0-sm80_90ptx'


def test_a_users_arch_list_is_built_as_given_and_said(machine):
    """No +PTX is added to the user's own list, and the script says what
    that means; the wheel's variant names exactly that list."""
    machine.cache_wheel('cuda13.0-sm80_86')
    run = machine.install_mmcv(gpu_archs='9.0', arch_list='8.0;8.6')
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'TORCH_CUDA_ARCH_LIST=8.0;8.6 is yours' in run.proc.stdout
    assert 'no PTX added' in run.proc.stdout
    assert run.marker == f'{TORCH} cuda13.0-sm80_86'


def test_the_build_gets_the_ptx_arch_list(machine):
    """Nothing cached: the CUDA compile is handed TORCH_CUDA_ARCH_LIST with
    +PTX, and its wheel lands in the ptx-named cache folder."""
    home = machine.cuda_home('cuda-13.0', '13.0')
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True, cuda_home=home)
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'build FORCE_CUDA=1' in run.calls
    assert 'TORCH_CUDA_ARCH_LIST=9.0+PTX ' in run.calls
    built = machine.cache / 'wheels' / f'torch-{TORCH}' / 'cuda13.0-sm90ptx'
    assert (built / WHEEL).exists()
    info = (built / 'build_info.txt').read_text()
    assert 'arch_list 9.0+PTX' in info
    assert run.marker == f'{TORCH} cuda13.0-sm90ptx'


def test_cpu_build_on_a_gpu_machine_hides_the_gpus(machine):
    """mmcv 2.1.0's setup.py compiles its CUDA kernels whenever
    torch.cuda.is_available() (setup.py: `if ... torch.cuda.is_available()
    or os.getenv('FORCE_CUDA', '0') == '1'`), FORCE_CUDA=0 or not: a CPU
    build on a GPU machine (FX_MMCV_CUDA=0, or the fallback after a failed
    CUDA build) must not let torch see the GPUs."""
    run = machine.install_mmcv(gpu_archs='9.0', mode='0', sdist=True)
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'build FORCE_CUDA=0 CUDA_VISIBLE_DEVICES= ' in run.calls
    assert run.marker == f'{TORCH} cpu'


def test_failed_cuda_build_falls_back_to_cpu_and_says_so(machine):
    cpu = machine.cache_wheel('cpu')  # no CUDA wheel: the script must compile
    run = machine.install_mmcv(gpu_archs='8.0')
    assert run.proc.returncode == 0, run.proc.stderr
    assert 'The CUDA build of mmcv 2.1.0 failed' in run.proc.stderr
    assert ('logs/mmcv-2.1.0-torch-2.14.1+cu130-cuda13.0-sm80ptx-'
            in run.proc.stderr)
    assert 'pure-PyTorch path' in run.proc.stderr
    # both compiled ops fx_mm reaches on a GPU are named
    assert 'the sigmoid focal loss' in run.proc.stderr
    assert cpu in run.calls
    assert run.marker == f'{TORCH} cpu'


def test_fallback_compiles_the_cpu_build_with_the_gpus_hidden(machine):
    """The CUDA compile fails, nothing is cached: the CPU build that
    follows sees no GPU (see the test above for why)."""
    home = machine.cuda_home('cuda-13.0', '13.0')
    run = machine.install_mmcv(gpu_archs='9.0', sdist=True, cuda_home=home,
                               cuda_build_fails=True)
    assert run.proc.returncode == 0, run.proc.stderr
    builds = [c for c in run.calls.splitlines() if c.startswith('build')]
    assert [b.split()[1] for b in builds] == ['FORCE_CUDA=1', 'FORCE_CUDA=0']
    assert 'CUDA_VISIBLE_DEVICES= ' in builds[1]
    assert run.marker == f'{TORCH} cpu'


def test_nothing_builds_when_neither_build_can_be_made(machine):
    run = machine.install_mmcv(gpu_archs='-')
    assert run.proc.returncode != 0
    assert 'failed to compile' in run.proc.stderr
    assert 'pip install' not in run.calls and run.marker is None


def test_up_to_date_install_is_left_alone(machine):
    machine.cache_wheel('cpu')
    machine.install_mmcv(gpu_archs='-')
    run = machine.install_mmcv(gpu_archs='-', mmcv_ok=True)
    assert 'nothing to do' in run.proc.stdout
    # on a GPU machine the same CPU install is not "up to date"
    run = machine.install_mmcv(gpu_archs='9.0', mmcv_ok=True)
    assert 'nothing to do' not in run.proc.stdout


def test_cuda_asked_of_a_torch_without_cuda_is_refused(machine):
    run = machine.install_mmcv(mode='1', torch_cuda='none')
    assert run.proc.returncode == 2 and 'has no CUDA' in run.proc.stderr
    assert run.calls == ''


def test_an_unreadable_arch_list_is_refused_before_compiling(machine):
    run = machine.install_mmcv(mode='1', arch_list='8.0,9.0', sdist=True)
    assert run.proc.returncode == 2
    assert "TORCH_CUDA_ARCH_LIST='8.0,9.0'" in run.proc.stderr
    assert run.calls == ''
