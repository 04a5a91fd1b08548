"""Which build of mmcv this machine asks for, named like its wheel cache
folder: ``cpu`` or ``cuda<release>-sm<archs>`` (e.g. ``cuda13.0-sm80_90ptx``).

    python tools/mmcv_variant.py            # the variant
    python tools/mmcv_variant.py --fields   # what tools/install_mmcv.sh reads

It asks the installed torch (its version, its CUDA release, the visible GPUs)
and reads the environment tools/install_mmcv.sh documents:

    FX_MMCV_CUDA          auto (default): a CUDA build where torch sees a GPU;
                          1: a CUDA build in any case; 0: a CPU-only build.
    TORCH_CUDA_ARCH_LIST  the architectures of a CUDA build, taken as given.
                          Unset: the visible GPUs' architectures, else 8.0;9.0
                          (A100, H100/H200); either way with PTX for the
                          newest, so that a newer GPU compiles the kernels at
                          first use instead of finding none.

Where the list is not the user's and a CUDA build of this torch is installed
(tools/install_mmcv.sh's record in site-packages) that has kernels (SASS) for
every visible GPU, that build is what the machine asks for: a wheel made on a
build host for 8.0;9.0 is kept on an H100 node instead of being recompiled
for 9.0 alone.

`make install` names its stamp after this variant, so that a venv installed
where no GPU is visible (a login node, a container build) gets its CUDA build
when `make install` or `make test-gpu` runs on the GPU node. It costs one
`import torch` (a second or two) and needs neither a GPU nor mmcv.
"""
import argparse
import os
import re
import sys
import sysconfig
from typing import NamedTuple, Optional, Sequence, Tuple

DEFAULT_ARCHS = ('8.0', '9.0')
# tools/install_mmcv.sh's record in site-packages: "<torch version> <variant>".
INSTALLED_RECORD = 'fx_mm_mmcv_built_for_torch.txt'
# One TORCH_CUDA_ARCH_LIST entry as torch.utils.cpp_extension reads it: a
# compute capability (9.0, 9.0a, 12.0) or a named family (Ampere,
# Ampere+Tegra), either optionally with +PTX.
ARCH_ENTRY = re.compile(
    r'(\d+\.\d+[a-z]?|[A-Z][a-z]+(\+[A-Z][a-z]+)?)(\+PTX)?')


class Variant(NamedTuple):
    """The resolved build.

    Attributes:
        torch_version: torch.__version__, e.g. '2.14.1+cu130'.
        torch_cuda: torch.version.cuda ('13.0'), or 'none' for a CPU torch.
        kind: 'cuda' or 'cpu'.
        arch_list: TORCH_CUDA_ARCH_LIST of the build, ';'-separated
            ('8.0;9.0+PTX'); '-' for a CPU build.
        name: The variant, e.g. 'cuda13.0-sm80_90ptx' or 'cpu'.
        note: One line on where the architectures came from ('' for cpu).
    """
    torch_version: str
    torch_cuda: str
    kind: str
    arch_list: str
    name: str
    note: str


def split_arch_list(text: str) -> Tuple[str, ...]:
    """TORCH_CUDA_ARCH_LIST's entries (torch separates them by ';' or
    spaces), checked so that a typo fails here with the variable named
    instead of after minutes of compiling."""
    entries = tuple(e for e in re.split(r'[;\s]+', text.strip()) if e)
    bad = [e for e in entries if not ARCH_ENTRY.fullmatch(e)]
    if bad or not entries:
        raise ValueError(
            f'TORCH_CUDA_ARCH_LIST={text!r}: expected compute capabilities '
            'separated by ";", the newest optionally ending in +PTX, e.g. '
            f'"8.0;9.0+PTX" (not understood: {", ".join(bad) or "empty"})')
    return entries


def with_ptx_for_newest(archs: Sequence[str]) -> Tuple[str, ...]:
    """Adds +PTX to the newest architecture, as torch does for the visible
    GPUs when TORCH_CUDA_ARCH_LIST is unset: the PTX lets a GPU newer than
    every listed one JIT-compile the kernels instead of failing with "no
    kernel image is available"."""
    newest = max(archs, key=lambda a: tuple(
        int(p) for p in re.findall(r'\d+', a)))
    return tuple(a + '+PTX' if a == newest else a for a in archs)


def variant_name(torch_cuda: str, archs: Sequence[str]) -> str:
    """'cuda13.0-sm80_90ptx' for CUDA 13.0 and ('8.0', '9.0+PTX')."""
    sm = '_'.join(a.replace('.', '').replace('+PTX', 'ptx').replace('+', '')
                  .lower() for a in archs)
    return f'cuda{torch_cuda}-sm{sm}'


def archs_of(variant: str, torch_cuda: str) -> Tuple[str, ...]:
    """The architectures a CUDA variant of `torch_cuda` was built for,
    ('8.0', '9.0+PTX') for 'cuda13.0-sm80_90ptx'; () for anything else (cpu,
    another CUDA release, named families, which the name does not spell)."""
    match = re.fullmatch(rf'cuda{re.escape(torch_cuda)}-sm(.+)', variant)
    if not match:
        return ()
    archs = []
    for part in match.group(1).split('_'):
        entry = re.fullmatch(r'(\d+)(\d)(a?)(ptx)?', part)
        if not entry:
            return ()
        major, minor, suffix, ptx = entry.groups()
        archs.append(f'{major}.{minor}{suffix}' + ('+PTX' if ptx else ''))
    return tuple(archs)


def has_kernels_for(archs: Sequence[str], gpu: str) -> bool:
    """Whether a build for `archs` holds machine code (SASS) that runs on a
    GPU of compute capability `gpu`: a cubin for X.y runs on X.z, z >= y
    ('a' cubins only on their own X.y). PTX alone does not count: it works,
    but JIT-compiled at first use, not what a build for this GPU gives."""
    major, minor = (int(p) for p in gpu.split('.'))
    for arch in archs:
        built = re.fullmatch(r'(\d+)\.(\d+)(a?)(\+PTX)?', arch)
        if not built:
            continue
        b_major, b_minor = int(built.group(1)), int(built.group(2))
        if b_major == major and (b_minor == minor or (
                b_minor < minor and not built.group(3))):
            return True
    return False


def resolve(mode: str, user_arch_list: str, torch_version: str,
            torch_cuda: Optional[str], gpu_archs: Sequence[str],
            installed: str = '') -> Variant:
    """The build asked for, from the settings and what torch reports.

    Args:
        mode: FX_MMCV_CUDA: 'auto', '1' or '0'.
        user_arch_list: TORCH_CUDA_ARCH_LIST as set by the user ('' if
            unset; 'native' means unset, as for torch).
        torch_version: torch.__version__.
        torch_cuda: torch.version.cuda, None for a CPU build of torch.
        gpu_archs: The visible GPUs' compute capabilities ('9.0'), each
            clamped to the newest one torch was built for.
        installed: The variant installed for this torch ('' if none).

    Returns:
        Variant: The resolved build.

    Raises:
        ValueError: An unknown mode, a CUDA build asked of a torch without
            CUDA, or an unreadable TORCH_CUDA_ARCH_LIST.
    """
    cuda_name = torch_cuda or 'none'
    if mode not in ('auto', '1', '0'):
        raise ValueError(f'FX_MMCV_CUDA must be auto, 1 or 0 (got {mode!r})')
    kind = 'cuda' if mode == '1' or (mode == 'auto' and gpu_archs) else 'cpu'
    if kind == 'cpu':
        return Variant(torch_version, cuda_name, 'cpu', '-', 'cpu', '')
    if torch_cuda is None:
        raise ValueError(f'FX_MMCV_CUDA={mode} asks for a CUDA build, but '
                         f'torch {torch_version} has no CUDA')
    user = user_arch_list.strip()
    if user and user != 'native':
        archs = split_arch_list(user)
        listed = ';'.join(archs)
        note = f'TORCH_CUDA_ARCH_LIST={listed} is yours: building exactly that'
        if not any(a.endswith('+PTX') for a in archs):
            note += (' (no PTX added: a GPU newer than every listed '
                     'architecture will find no kernel; end the list with '
                     '+PTX to let it compile one at first use)')
    elif gpu_archs and all(has_kernels_for(archs_of(installed, torch_cuda), g)
                           for g in gpu_archs):
        archs = archs_of(installed, torch_cuda)
        listed = ';'.join(archs)
        note = (f'the installed CUDA build ({installed}) has kernels for the '
                f'visible GPUs ({";".join(gpu_archs)}): keeping it')
    elif gpu_archs:
        archs = with_ptx_for_newest(sorted(set(gpu_archs), key=lambda a: tuple(
            int(p) for p in a.split('.'))))
        listed = ';'.join(archs)
        note = (f'building the CUDA kernels for the visible GPUs, with PTX '
                f'for the newest: TORCH_CUDA_ARCH_LIST={listed}')
    else:
        archs = with_ptx_for_newest(DEFAULT_ARCHS)
        listed = ';'.join(archs)
        note = (f'no GPU visible: building the CUDA kernels for '
                f'TORCH_CUDA_ARCH_LIST={listed} (A100, H100/H200; the PTX '
                'lets newer GPUs compile them at first use)')
    return Variant(torch_version, torch_cuda, 'cuda', listed,
                   variant_name(torch_cuda, archs), note)


def visible_gpu_archs(torch) -> Tuple[str, ...]:
    """The visible GPUs' compute capabilities, clamped like torch's own
    default (torch.utils.cpp_extension) to the newest it was built for:
    nvcc of torch's release may not know a newer GPU."""
    if not torch.version.cuda or not torch.cuda.is_available():
        return ()
    built = [tuple(int(d) for d in divmod(int(re.sub(r'\D', '', a)), 10))
             for a in torch.cuda.get_arch_list() if a.startswith('sm_')]
    newest = max(built) if built else (99, 9)
    caps = {min(torch.cuda.get_device_capability(i), newest)
            for i in range(torch.cuda.device_count())}
    return tuple(f'{major}.{minor}' for major, minor in sorted(caps))


def installed_variant(torch_version: str) -> str:
    """The variant tools/install_mmcv.sh recorded in this interpreter's
    site-packages, if it was built for `torch_version`; else ''."""
    record = os.path.join(sysconfig.get_paths()['purelib'], INSTALLED_RECORD)
    try:
        with open(record) as f:
            built_for, variant = f.read().split()
    except (OSError, ValueError):
        return ''
    return variant if built_for == torch_version else ''


def probe(environ=os.environ) -> Variant:
    """Resolves the variant for this machine (imports torch)."""
    import torch
    mode = environ.get('FX_MMCV_CUDA', 'auto') or 'auto'
    # A CPU build needs no GPU list (and is spared the CUDA initialisation);
    # FX_MMCV_CUDA=1 on a GPU machine builds what auto would.
    gpus = visible_gpu_archs(torch) if mode != '0' else ()
    return resolve(mode, environ.get('TORCH_CUDA_ARCH_LIST', ''),
                   torch.__version__, torch.version.cuda, gpus,
                   installed_variant(torch.__version__))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--fields', action='store_true',
        help='two lines: "torch_version torch_cuda kind variant arch_list" '
        'and the note on the architectures')
    args = parser.parse_args(argv)
    try:
        variant = probe()
    except ValueError as err:
        print(f'tools/mmcv_variant.py: {err}', file=sys.stderr)
        return 2
    if args.fields:
        print(variant.torch_version, variant.torch_cuda, variant.kind,
              variant.name, variant.arch_list)
        print(variant.note)
    else:
        print(variant.name)
    return 0


if __name__ == '__main__':
    sys.exit(main())
