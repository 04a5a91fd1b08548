"""The inferencer copies each output tensor to the host once (issue 16 item
12), not each box coordinate, score, label and probability on its own: on a
GPU every ``float()`` / ``int()`` of a CUDA tensor is a device-to-host copy
and a synchronisation.

Driven on the CPU with output tensors that report ``is_cuda`` and count the
reads that copy a CUDA tensor to the host.
"""
import numpy as np
import pytest
import torch

from fx_mm.apis.inferencer import FXInferencer
from tests.conftest import repo_path

# Tensor methods that copy a CUDA tensor's data to the host.
HOST_READS = frozenset({
    'item', 'tolist', 'numpy', 'cpu', '__float__', '__int__', '__index__',
    '__bool__', '__array__', '__format__', '__repr__'})


class CudaHostReadCounter(torch.Tensor):
    """A CPU tensor that reports being on CUDA (and so do its slices) and
    records each host read in ``reads``; ``.cpu()`` gives a plain CPU tensor,
    as it would on a GPU."""

    reads: list = []

    @property
    def is_cuda(self):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', '')
        to_host = name == 'cpu' or (name == 'to' and any(
            str(a) == 'cpu' for a in (*args[1:], *kwargs.values())))
        if name in HOST_READS or to_host:
            cls.reads.append(name)
        out = super().__torch_function__(func, types, args, kwargs)
        if to_host:
            out = out.as_subclass(torch.Tensor)
        return out


def on_cuda(preds):
    """``predict_all`` output with every tensor a CudaHostReadCounter;
    returns the number of output tensors per image too."""
    counts = []
    for pred in preds:
        n = 0
        for task in ('cls', 'seg'):
            for name, t in pred[task].items():
                pred[task][name] = t.as_subclass(CudaHostReadCounter)
                n += 1
        for inst in pred['loc'].values():
            for key in ('bboxes', 'scores', 'labels'):
                setattr(inst, key, getattr(inst, key).as_subclass(
                    CudaHostReadCounter))
                n += 1
        counts.append(n)
    return preds, counts


@pytest.fixture(scope='module')
def inferencer():
    return FXInferencer(repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py'),
                        device='cpu')


def test_one_host_copy_per_output_tensor(inferencer, monkeypatch):
    images = [np.random.RandomState(i).randint(0, 255, (80, 96), np.uint8)
              for i in range(2)]
    plain = inferencer(images, batch_size=2)
    predict_all = inferencer.model.predict_all
    tensors_per_image = []

    def predict_on_cuda(*args, **kwargs):
        preds, counts = on_cuda(predict_all(*args, **kwargs))
        tensors_per_image.extend(counts)
        return preds

    monkeypatch.setattr(inferencer.model, 'predict_all', predict_on_cuda)
    monkeypatch.setattr(CudaHostReadCounter, 'reads', [])
    results = inferencer(images, batch_size=2)
    boxes = sum(len(r) for result in results for r in result['loc'].values())
    assert boxes > 10  # enough for per-value copies to show
    # at most one host copy per output tensor (3 cls, 3x3 loc, 2 seg)
    assert len(CudaHostReadCounter.reads) <= sum(tensors_per_image), (
        f'{len(CudaHostReadCounter.reads)} host reads for '
        f'{sum(tensors_per_image)} output tensors and {boxes} boxes: '
        f'{sorted(set(CudaHostReadCounter.reads))}')
    # the same results as without the counting tensors
    for a, b in zip(plain, results):
        assert a['cls'] == b['cls'] and a['loc'] == b['loc']
        assert a['seg'].keys() == b['seg'].keys()
        for name in a['seg']:
            assert a['seg'][name].keys() == b['seg'][name].keys()
            for c in a['seg'][name]:
                mask = b['seg'][name][c]
                assert isinstance(mask, np.ndarray)
                np.testing.assert_array_equal(mask, a['seg'][name][c])
