"""What fx_mm runs on: ``python -m fx_mm.env`` (mmdet's collect_env, plus
whether mmcv's deformable attention has its CUDA kernel).

    python -m fx_mm.env            # every line
    python -m fx_mm.env --short    # one line (printed by `make install`)
"""
import argparse
import sys
from collections import OrderedDict


def collect_env() -> 'OrderedDict[str, str]':
    """mmengine's environment report, the OpenMMLab versions, the GPUs and
    the mmcv build (CUDA kernels or not; no GPU needed to tell).

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
    has_kernel = mmcv_has_cuda_kernels()
    env['mmcv deformable attention CUDA kernel'] = (
        'yes' if has_kernel else
        'no: on CUDA tensors DINO runs mmcv\'s PyTorch path (slower); '
        'build it with `FX_MMCV_CUDA=1 make install`')
    env['bf16 autocast on the GPU'] = (
        str(torch.cuda.is_bf16_supported()) if gpus else 'no GPU')
    return env


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--short', action='store_true',
                        help='one line: versions, GPUs, kernel')
    args = parser.parse_args(argv)
    env = collect_env()
    if args.short:
        kernel = env['mmcv deformable attention CUDA kernel'].split(':')[0]
        print(f"fx_mm stack OK: torch {env['PyTorch']} (CUDA "
              f"{env['torch CUDA']}), mmcv {env['MMCV']} (ops CUDA "
              f"{env['MMCV CUDA Compiler']}; deformable-attention CUDA "
              f"kernel: {kernel}), mmdet {env['MMDetection']}, mmseg "
              f"{env['MMSegmentation']}, mmpretrain {env['MMPretrain']}; "
              f"GPUs: {env['GPUs visible']}")
        return
    width = max(map(len, env))
    for name, value in env.items():
        print(f'{name:<{width}} : {value}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
