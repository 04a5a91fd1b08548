"""Settings the entry points apply to a config before building a runner."""
import os.path as osp

import torch
from mmengine.config import Config


def setup_runtime_cfg(cfg: Config, config_path: str,
                      work_dir: str = None) -> Config:
    """Work dir and distributed backend, as mmdet's tools do.

    - ``work_dir``: the command line's, else the config's, else
      ``./work_dirs/<config name>``.
    - Without CUDA, distributed runs use gloo (nccl needs GPUs).
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    return cfg
