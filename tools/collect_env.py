"""Print the environment fx_mm runs in (mmdet's tools/misc convention):
versions, GPUs and whether the compiled mmcv ops fx_mm reaches on a GPU
(deformable attention, sigmoid focal loss) have their CUDA kernels.

    python tools/collect_env.py      # same as python -m fx_mm.env
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from fx_mm.env import main  # noqa: E402

if __name__ == '__main__':
    main()
