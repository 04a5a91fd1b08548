"""How a metric's results of all ranks reach rank 0 (mmengine BaseMetric's
``collect_device``).

mmengine 0.10.7 has two ways (mmengine/dist/dist.py ``collect_results``):

- ``'cpu'``: ``collect_results_cpu`` -- rank 0 makes ``.dist_test/<tmp>``
  under *its* working directory and broadcasts that relative path; every
  rank writes ``part_<rank>.pkl`` there. Ranks on a node that does not share
  the working directory fail (FileNotFoundError) and rank 0 waits for them.
- ``'gpu'``: ``torch.distributed.all_gather_object`` over the process group,
  whatever its backend (through the GPU with NCCL, the CPU with gloo): no
  folder. Every rank briefly holds all ranks' results (per image a few
  numbers, boxes or per-class counts here).

fx_mm's metrics take the second on every backend, so a CPU run (gloo) goes
the way a GPU run goes, and no node needs a shared folder.
"""
# mmengine's name for gathering through the process group.
COLLECT_DEVICE = 'gpu'
