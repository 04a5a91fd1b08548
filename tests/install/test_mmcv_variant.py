"""tools/mmcv_variant.py: the mmcv build a machine asks for.

`resolve` is driven directly with what torch would report; `main` once
through the stand-in torch of conftest.py, as `make` runs it.
"""
import subprocess

import pytest

from tests.conftest import load_tool, repo_path


tool = load_tool('tools', 'mmcv_variant.py')
resolve = tool.resolve
split_arch_list = tool.split_arch_list
visible_gpu_archs = tool.visible_gpu_archs

TORCH = '2.14.1+cu130'


@pytest.mark.parametrize('mode, gpus, user, name, arch_list', [
    ('auto', (), '', 'cpu', '-'),
    ('auto', ('9.0',), '', 'cuda13.0-sm90ptx', '9.0+PTX'),
    ('auto', ('8.0', '9.0'), '', 'cuda13.0-sm80_90ptx', '8.0;9.0+PTX'),
    ('auto', ('9.0', '10.0', '8.6'), '', 'cuda13.0-sm86_90_100ptx',
     '8.6;9.0;10.0+PTX'),  # newest by number, not by text
    ('1', (), '', 'cuda13.0-sm80_90ptx', '8.0;9.0+PTX'),
    ('1', ('9.0',), '', 'cuda13.0-sm90ptx', '9.0+PTX'),
    ('1', (), 'native', 'cuda13.0-sm80_90ptx', '8.0;9.0+PTX'),
    ('0', ('9.0',), '', 'cpu', '-'),
    ('auto', (), '9.0', 'cpu', '-'),  # a list alone does not ask for CUDA
    ('1', ('9.0',), '8.0 8.6', 'cuda13.0-sm80_86', '8.0;8.6'),
    ('1', (), '7.5;8.0;9.0+PTX', 'cuda13.0-sm75_80_90ptx', '7.5;8.0;9.0+PTX'),
    ('1', (), 'Ampere;Hopper', 'cuda13.0-smampere_hopper', 'Ampere;Hopper'),
])
def test_resolve(mode, gpus, user, name, arch_list):
    variant = resolve(mode, user, TORCH, '13.0', gpus)
    assert (variant.name, variant.arch_list) == (name, arch_list)
    assert variant.kind == ('cpu' if name == 'cpu' else 'cuda')


@pytest.mark.parametrize('gpus, installed, name', [
    (('9.0',), 'cuda13.0-sm80_90ptx', 'cuda13.0-sm80_90ptx'),  # kept
    (('8.9',), 'cuda13.0-sm80_90ptx', 'cuda13.0-sm80_90ptx'),  # 8.0 runs
    #                                                          on 8.9
    (('8.0', '9.0'), 'cuda13.0-sm80_90ptx', 'cuda13.0-sm80_90ptx'),
    (('9.0',), 'cuda13.0-sm80ptx', 'cuda13.0-sm90ptx'),  # PTX only: build
    (('8.0',), 'cuda13.0-sm86ptx', 'cuda13.0-sm80ptx'),  # 8.6 cubin: not 8.0
    (('9.0',), 'cuda13.0-sm86_90a', 'cuda13.0-sm86_90a'),
    (('10.0',), 'cuda13.0-sm90a_100', 'cuda13.0-sm90a_100'),
    (('9.0', '10.0'), 'cuda13.0-sm90ptx', 'cuda13.0-sm90_100ptx'),
    (('9.0',), 'cuda12.8-sm90ptx', 'cuda13.0-sm90ptx'),  # another CUDA
    (('9.0',), 'cpu', 'cuda13.0-sm90ptx'),
    ((), 'cuda13.0-sm90ptx', 'cpu'),  # auto without a GPU: CPU
])
def test_an_installed_build_with_kernels_for_the_gpus_is_kept(gpus, installed,
                                                             name):
    assert resolve('auto', '', TORCH, '13.0', gpus, installed).name == name


def test_an_installed_build_does_not_override_the_users_list():
    assert resolve('auto', '9.0+PTX', TORCH, '13.0', ('9.0',),
                   'cuda13.0-sm80_90ptx').name == 'cuda13.0-sm90ptx'


def test_the_note_says_whose_list_it_is():
    assert 'no GPU visible' in resolve('1', '', TORCH, '13.0', ()).note
    assert 'visible GPUs' in resolve('auto', '', TORCH, '13.0', ('9.0',)).note
    own = resolve('1', '9.0', TORCH, '13.0', ()).note
    assert 'is yours' in own and 'no PTX added' in own
    own_ptx = resolve('1', '9.0+PTX', TORCH, '13.0', ()).note
    assert 'is yours' in own_ptx and 'no PTX added' not in own_ptx


@pytest.mark.parametrize('mode, cuda, user, says', [
    ('yes', '13.0', '', 'FX_MMCV_CUDA must be auto, 1 or 0'),
    ('1', None, '', 'has no CUDA'),
    ('1', '13.0', '8.0,9.0', "TORCH_CUDA_ARCH_LIST='8.0,9.0'"),
    ('1', '13.0', 'sm_90', 'not understood: sm_90'),
])
def test_resolve_refuses(mode, cuda, user, says):
    with pytest.raises(ValueError, match=says):
        resolve(mode, user, TORCH, cuda, ())


def test_split_arch_list_takes_torchs_separators():
    assert split_arch_list(' 8.0; 9.0a  10.0+PTX ') == (
        '8.0', '9.0a', '10.0+PTX')


def test_visible_gpus_are_clamped_to_what_torch_was_built_for():
    """A GPU newer than torch's newest architecture is built for that one
    (its nvcc may not know the GPU), as torch's own default does."""
    class FakeCuda:
        is_available = staticmethod(lambda: True)
        device_count = staticmethod(lambda: 3)
        get_device_capability = staticmethod(
            lambda i: [(9, 0), (13, 0), (9, 0)][i])
        get_arch_list = staticmethod(lambda: ['sm_80', 'sm_90', 'sm_120'])

    class FakeTorch:
        cuda = FakeCuda

        class version:
            cuda = '13.0'
    assert visible_gpu_archs(FakeTorch) == ('9.0', '12.0')
    FakeTorch.version.cuda = None
    assert visible_gpu_archs(FakeTorch) == ()


def test_main_through_the_stand_in_torch(machine):
    def probe(*args, **settings):
        return subprocess.run(
            [str(machine.python), repo_path('tools', 'mmcv_variant.py'),
             *args], env=machine.env(**settings), capture_output=True,
            text=True, timeout=60)
    assert probe(gpu_archs='-').stdout == 'cpu\n'
    assert probe(gpu_archs='9.0;8.0').stdout == 'cuda13.0-sm80_90ptx\n'
    fields = probe('--fields', gpu_archs='9.0').stdout.splitlines()
    assert fields[0] == f'{TORCH} 13.0 cuda cuda13.0-sm90ptx 9.0+PTX'
    assert 'TORCH_CUDA_ARCH_LIST=9.0+PTX' in fields[1]
    # the installed build, recorded in the interpreter's site-packages
    (machine.site / 'fx_mm_mmcv_built_for_torch.txt').write_text(
        f'{TORCH} cuda13.0-sm80_90ptx\n')
    assert probe(gpu_archs='9.0').stdout == 'cuda13.0-sm80_90ptx\n'
    (machine.site / 'fx_mm_mmcv_built_for_torch.txt').write_text(
        '2.13.0+cu130 cuda13.0-sm80_90ptx\n')  # another torch: not kept
    assert probe(gpu_archs='9.0').stdout == 'cuda13.0-sm90ptx\n'
    bad = probe(mode='2')
    assert bad.returncode == 2 and bad.stdout == ''
    assert 'FX_MMCV_CUDA must be auto, 1 or 0' in bad.stderr
