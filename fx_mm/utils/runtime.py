"""Settings the entry points apply to a config before building a runner."""
import os.path as osp

import torch
from mmengine.config import Config

from fx_mm.utils.cached_config_text import TextCachedConfig


DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def setup_runtime_cfg(cfg: Config, config_path: str,
                      work_dir: str = None) -> Config:
    """Work dir, distributed backend, pinned memory and TF32, as the entry
    points (tools/train.py, tools/test.py) apply them.

    - ``work_dir``: the command line's, else the config's, else
      ``./work_dirs/<config name>``.
    - Without CUDA, distributed runs use gloo (nccl needs GPUs) and DDP
      wraps a CPU module (no ``device_ids``).
    - With CUDA, every dataloader pins its batches (``pin_memory=True``)
      unless its config says otherwise: the loops build each pass's and
      each evaluation step's loader from these settings.
    - TF32: see :func:`apply_tf32` (``env_cfg.allow_tf32``).
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    if torch.cuda.is_available():
        # Page-locked batches copy to the GPU faster (and can overlap the
        # step when copied with non_blocking).
        for key in DATALOADER_KEYS:
            if cfg.get(key) is not None:
                cfg[key].setdefault('pin_memory', True)
    else:
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
        if cfg.get('model_wrapper_cfg') is not None:
            cfg.model_wrapper_cfg['device_ids'] = None
    apply_tf32(cfg)
    return cfg


def apply_tf32(cfg: Config) -> bool:
    """Let fp32 matmuls and cuDNN convolutions use TF32 tensor cores.

    torch leaves TF32 matmuls off by default, so fp32 steps on Ampere and
    newer GPUs run at full fp32 speed; TF32 rounds the multiplicands to a
    10-bit mantissa (sums stay fp32), which training tolerates. On by default
    (``env_cfg.allow_tf32 = True`` in configs/_base_/fx_runtime.py; a config
    without the key gets it too); ``env_cfg.allow_tf32=False`` turns both
    off, e.g. to compare with fp32 numbers bit for bit. Without a GPU the
    switches change nothing.

    Args:
        cfg (Config): The run's config.

    Returns:
        bool: Whether TF32 is now allowed.
    """
    allow = bool(cfg.get('env_cfg', {}).get('allow_tf32', True))
    # torch's process-wide switches, in the allow_tf32 spelling only: torch
    # 2.9+ also has fp32_precision, and reading allow_tf32 after
    # fp32_precision was set raises.
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    return allow


def init_cpu_distributed(launcher: str) -> None:
    """Start the gloo process group for CPU-only distributed runs.

    mmengine 0.10.7's pytorch launcher calls ``torch.cuda.set_device``
    unconditionally, which fails without CUDA; when the group already exists
    the runner uses it as it is. With CUDA, or without a launcher, this does
    nothing and mmengine initialises as usual.
    """
    import torch.distributed as dist
    if launcher == 'pytorch' and not torch.cuda.is_available() \
            and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def add_runner_args(parser) -> None:
    """The options tools/train.py and tools/test.py share (mmdet's)."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (e.g. '
        'model.teacher=False train_cfg.lock_tasks="()")')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def runtime_cfg_from_args(args) -> Config:
    """Load ``args.config`` with the shared options applied, ready for
    ``Runner.from_cfg``: overrides, work dir, launcher, CPU process group."""
    import os
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    # Checkpoints store the config's text; format it once, not per save.
    cfg = TextCachedConfig.from_config(Config.fromfile(args.config))
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_runtime_cfg(cfg, args.config, args.work_dir)
    init_cpu_distributed(args.launcher)
    return cfg
