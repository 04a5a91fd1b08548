"""A stand-in machine for the install tests: `make install` and
tools/install_mmcv.sh run for real, against a stand-in interpreter.

The stand-in interpreter records what pip, fx_mm.env and pytest are asked to
do instead of doing it, fakes mmcv's source download and wheel build (each
build writes its environment to the call log, then leaves a wheel, or fails
where the test says so), and runs every other piece of Python on the real
interpreter with a stand-in ``torch`` first on the path. That torch reports
the version, CUDA release and GPUs the test sets (FAKE_TORCH_CUDA,
FAKE_GPU_ARCHS), and a sitecustomize makes the stand-in's site-packages
(where install_mmcv.sh records the installed build) that interpreter's own;
so tools/mmcv_variant.py and the scripts' own questions to torch see a GPU
node or a login node without either being here.
"""
import os
import shutil
import subprocess
import sys
import textwrap
from typing import NamedTuple, Optional

import pytest

from tests.conftest import repo_path

TORCH = '2.14.1+cu130'
WHEEL = 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'

FAKE_TORCH = '''\
"""Stand-in torch: what tools/mmcv_variant.py and install_mmcv.sh ask."""
import os

__version__ = os.environ.get('FAKE_TORCH_VERSION', '{torch}')
_archs = [a for a in os.environ.get('FAKE_GPU_ARCHS', '-').split(';')
          if a not in ('', '-')]


class version:
    cuda = (None if os.environ.get('FAKE_TORCH_CUDA', '13.0') == 'none'
            else os.environ.get('FAKE_TORCH_CUDA', '13.0'))


class cuda:
    @staticmethod
    def is_available():
        return bool(_archs) and version.cuda is not None

    @staticmethod
    def device_count():
        return len(_archs)

    @staticmethod
    def get_device_capability(i):
        return tuple(int(p) for p in _archs[i].split('.'))

    @staticmethod
    def get_arch_list():
        return ['sm_75', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120']
'''

# The stand-in interpreter's site-packages, for Python run on the real one.
FAKE_SITECUSTOMIZE = '''\
"""Stand-in site-packages: sysconfig's purelib is the test's folder."""
import sysconfig

_real_get_paths = sysconfig.get_paths


def _get_paths(*args, **kwargs):
    return dict(_real_get_paths(*args, **kwargs), purelib={site!r})


sysconfig.get_paths = _get_paths
'''

FAKE_PYTHON = '''\
#!/usr/bin/env bash
# Stand-in interpreter (tests/install/conftest.py).
calls={calls}
case "$1 $2" in
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m fx_mm.env") echo "fx_mm.env $3" >> "$calls" ;;
  "-m pytest") shift 2; echo "pytest $*" >> "$calls" ;;
  "-m pip")
    shift 2
    case "$1" in
      download)
        # mmcv's sdist: a tarball holding an empty project, unless refused.
        [ -n "$FAKE_SDIST" ] || exit 1
        dir=$(echo "$*" | sed -n 's/.* -d \\([^ ]*\\).*/\\1/p')
        src="$dir/sdist"; mkdir -p "$src/mmcv-2.1.0"
        : > "$src/mmcv-2.1.0/setup.py"
        tar czf "$dir/mmcv-2.1.0.tar.gz" -C "$src" mmcv-2.1.0 ;;
      wheel)
        echo "build FORCE_CUDA=$FORCE_CUDA" \\
          "CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES-unset}}" \\
          "TORCH_CUDA_ARCH_LIST=${{TORCH_CUDA_ARCH_LIST-unset}}" \\
          "CUDA_HOME=${{CUDA_HOME-unset}}" >> "$calls"
        [ "$FORCE_CUDA" = 1 ] && [ -n "$FAKE_CUDA_BUILD_FAILS" ] && exit 1
        dir=$(echo "$*" | sed -n 's/.* -w \\([^ ]*\\).*/\\1/p')
        : > "$dir/{wheel}" ;;
      install)
        echo "pip $*" >> "$calls"
        case "$*" in *nvidia-cuda-nvcc*)
          # the registry toolkit: an nvcc of torch's release and libcudart
          cu={site}/nvidia/cu${{FAKE_TORCH_CUDA%%.*}}
          mkdir -p "$cu/bin" "$cu/lib"; : > "$cu/lib/libcudart.so.13"
          printf '#!/bin/sh\\necho "Cuda compilation tools, %s"\\n' \\
            "release $FAKE_TORCH_CUDA, V$FAKE_TORCH_CUDA.0" > "$cu/bin/nvcc"
          chmod +x "$cu/bin/nvcc" ;;
        esac ;;
      *) echo "pip $*" >> "$calls" ;;
    esac ;;
  *)
    case "$*" in
      *sysconfig*) echo {site} ;;
      *"import mmcv"*) [ -n "$FAKE_MMCV_OK" ] ;;
      *) PYTHONPATH={faketorch} exec {real} "$@" ;;
    esac ;;
esac
'''


class Run(NamedTuple):
    """One run on the stand-in machine."""
    proc: subprocess.CompletedProcess
    calls: str            # what pip, fx_mm.env, pytest and builds were asked
    marker: Optional[str]  # install_mmcv.sh's record of the installed build


class FakeMachine:
    """Stand-in interpreter, torch, cache and site-packages in a temp dir."""

    def __init__(self, root):
        self.root = root
        self.site = root / 'site'
        self.site.mkdir()
        self.cache = root / 'cache'
        self.calls_log = root / 'calls.log'
        torch_dir = root / 'faketorch' / 'torch'
        torch_dir.mkdir(parents=True)
        (torch_dir / '__init__.py').write_text(FAKE_TORCH.format(torch=TORCH))
        (root / 'faketorch' / 'sitecustomize.py').write_text(
            FAKE_SITECUSTOMIZE.format(site=str(self.site)))
        self.python = root / 'python'
        self.python.write_text(FAKE_PYTHON.format(
            calls=self.calls_log, site=self.site, wheel=WHEEL,
            faketorch=root / 'faketorch', real=sys.executable))
        self.python.chmod(0o755)

    def cache_wheel(self, variant: str) -> str:
        """Puts a wheel of `variant` into the cache; returns its path."""
        folder = self.cache / 'wheels' / f'torch-{TORCH}' / variant
        folder.mkdir(parents=True)
        (folder / WHEEL).write_text('')
        return str(folder / WHEEL)

    def cuda_home(self, name: str, release: Optional[str],
                  version_json: Optional[str] = None) -> str:
        """A toolkit folder whose nvcc reports `release` (None: an nvcc
        that prints no release), optionally with a version.json."""
        home = self.root / name
        (home / 'bin').mkdir(parents=True)
        said = f'release {release}, V{release}.0' if release else 'broken'
        (home / 'bin' / 'nvcc').write_text(
            f'#!/bin/sh\necho "Cuda compilation tools, {said}"\n')
        (home / 'bin' / 'nvcc').chmod(0o755)
        if version_json:
            (home / 'version.json').write_text(textwrap.dedent(f'''\
                {{
                   "cuda" : {{
                      "name" : "CUDA SDK",
                      "version" : "{version_json}"
                   }}
                }}
                '''))
        return str(home)

    def env(self, gpu_archs='-', mode=None, arch_list=None, mmcv_ok=False,
            torch_cuda='13.0', sdist=False, cuda_build_fails=False,
            cuda_home=None, path='/usr/bin:/bin', **extra):
        env = {k: v for k, v in os.environ.items()
               if k not in ('FX_MMCV_CUDA', 'TORCH_CUDA_ARCH_LIST',
                            'CUDA_HOME', 'CUDA_VISIBLE_DEVICES',
                            'FX_CUDA_TOOLKIT', 'PYTHONPATH', 'MAKEFLAGS',
                            'MFLAGS')}
        env.update(FAKE_GPU_ARCHS=gpu_archs, FAKE_TORCH_CUDA=torch_cuda,
                   PATH=path, **extra)
        for name, value in (('FX_MMCV_CUDA', mode),
                            ('TORCH_CUDA_ARCH_LIST', arch_list),
                            ('CUDA_HOME', cuda_home),
                            ('FAKE_MMCV_OK', '1' if mmcv_ok else None),
                            ('FAKE_SDIST', '1' if sdist else None),
                            ('FAKE_CUDA_BUILD_FAILS',
                             '1' if cuda_build_fails else None)):
            if value is not None:
                env[name] = value
        return env

    def result(self, proc) -> Run:
        calls = (self.calls_log.read_text() if self.calls_log.exists()
                 else '')
        marker = self.site / 'fx_mm_mmcv_built_for_torch.txt'
        return Run(proc, calls,
                   marker.read_text().strip() if marker.exists() else None)

    def install_mmcv(self, **settings) -> Run:
        """Runs tools/install_mmcv.sh with the stand-in interpreter."""
        proc = subprocess.run(
            ['bash', repo_path('tools', 'install_mmcv.sh'), str(self.python),
             '2.1.0', str(self.cache)], env=self.env(**settings),
            capture_output=True, text=True, timeout=60)
        return self.result(proc)

    def checkout(self):
        """A copy of what `make install` reads, as in a fresh clone; returns
        its folder (no .venv yet)."""
        repo = self.root / 'repo'
        for part in ('Makefile', 'setup.py', 'requirements',
                     'tools/install_mmcv.sh', 'tools/mmcv_variant.py'):
            target = repo / part
            target.parent.mkdir(parents=True, exist_ok=True)
            if os.path.isdir(repo_path(part)):
                shutil.copytree(repo_path(part), target)
            else:
                shutil.copy2(repo_path(part), target)
        return repo

    def make(self, repo, *goals, **settings) -> Run:
        """Runs make in `repo` with the stand-in interpreter as python3."""
        proc = subprocess.run(
            ['make', '-C', str(repo), f'PYTHON={self.python}',
             f'FX_CACHE={self.cache}', *goals], env=self.env(**settings),
            capture_output=True, text=True, timeout=120)
        return self.result(proc)


@pytest.fixture
def machine(tmp_path):
    return FakeMachine(tmp_path)
