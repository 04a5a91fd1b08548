"""What fx_mm runs on: ``python -m fx_mm.env`` (mmdet's collect_env, plus
whether the compiled mmcv ops fx_mm reaches on a GPU -- multi-scale
deformable attention and the sigmoid focal loss, docs/gpu.md -- have their
CUDA kernels).

    python -m fx_mm.env            # every line
    python -m fx_mm.env --short    # one line (printed by `make install`)
"""
import argparse
import sys
from collections import OrderedDict

#: The compiled mmcv ops fx_mm reaches on CUDA (docs/gpu.md), each with what
#: runs instead on CUDA tensors when the installed mmcv has no CUDA kernels.
COMPILED_OPS = OrderedDict([
    ('deformable attention',
     'DINO\'s encoder and decoder run mmcv\'s PyTorch path '
     '(fx_mm/ops/deform_attn_fallback.py; slower, more memory)'),
    ('sigmoid focal loss',
     'DINO\'s classification loss runs mmdet\'s PyTorch path '
     '(fx_mm/ops/focal_loss_dispatch.py)'),
])


def collect_env() -> 'OrderedDict[str, str]':
    """mmengine's environment report, the OpenMMLab versions, the GPUs and
    the mmcv build: one line per op of :data:`COMPILED_OPS`, CUDA kernel or
    not (no GPU needed to tell). mmcv compiles every CUDA kernel or none
    (``MMCV_WITH_CUDA``), so the lines follow one probe,
    :func:`fx_mm.ops.mmcv_has_cuda_kernels`.

    Returns:
        OrderedDict[str, str]: Name -> value, in print order.
    """
    import torch
    from mmengine.utils.dl_utils import collect_env as mmengine_env

    import fx_mm
    from fx_mm.ops import mmcv_has_cuda_kernels
    env = OrderedDict(mmengine_env())
    import mmcv
    import mmdet
    import mmpretrain
    import mmseg
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    env['MMCV'] = mmcv.__version__
    env['MMCV Compiler'] = get_compiler_version()
    env['MMCV CUDA Compiler'] = get_compiling_cuda_version()
    env['MMDetection'] = mmdet.__version__
    env['MMSegmentation'] = mmseg.__version__
    env['MMPretrain'] = mmpretrain.__version__
    env['fx_mm'] = fx_mm.__version__
    env['torch CUDA'] = torch.version.cuda or 'none (CPU build)'
    gpus = [f'{i}: {torch.cuda.get_device_name(i)} (sm_'
            f'{"".join(map(str, torch.cuda.get_device_capability(i)))}, '
            f'{torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} '
            'GiB)' for i in range(torch.cuda.device_count())
            ] if torch.cuda.is_available() else []
    env['GPUs visible'] = '; '.join(gpus) if gpus else 'none'
    has_kernels = mmcv_has_cuda_kernels()
    for op, instead in COMPILED_OPS.items():
        env[f'mmcv {op} CUDA kernel'] = (
            'yes' if has_kernels else
            f'no: on CUDA tensors {instead}; build the kernels with '
            '`FX_MMCV_CUDA=1 make install`')
    env['bf16 autocast on the GPU'] = (
        str(torch.cuda.is_bf16_supported()) if gpus else 'no GPU')
    return env


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--short', action='store_true',
                        help='one line: versions, GPUs, kernels')
    args = parser.parse_args(argv)
    env = collect_env()
    if args.short:
        kernels = env[f'mmcv {next(iter(COMPILED_OPS))} CUDA kernel'
                      ].split(':')[0]
        print(f"fx_mm stack OK: torch {env['PyTorch']} (CUDA "
              f"{env['torch CUDA']}), mmcv {env['MMCV']} (ops CUDA "
              f"{env['MMCV CUDA Compiler']}; CUDA kernels of "
              f"{' and '.join(COMPILED_OPS)}: {kernels}), mmdet "
              f"{env['MMDetection']}, mmseg "
              f"{env['MMSegmentation']}, mmpretrain {env['MMPretrain']}; "
              f"GPUs: {env['GPUs visible']}")
        return
    width = max(map(len, env))
    for name, value in env.items():
        print(f'{name:<{width}} : {value}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
