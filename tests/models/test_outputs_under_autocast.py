"""What the heads hand on under autocast (fp16 on a GPU, bf16 on the CPU).

Under autocast every Linear and conv computes in the low dtype, so without
care the heads' outputs stay there: classification probabilities, DINO's
boxes (mmdet's DeformableDETRHead adds the fp32 reference to the box
branch's half output in place, ``tmp_reg_preds += reference``, so the box
stays half) and the segmentation logits. Evaluated with autocast
(``val_cfg`` / ``test_cfg`` ``fp16=True``): in fp16 (a GPU) probabilities
near 1 tie in steps of 2**-11 and boxes come out rounded before they are
scaled to the original image; in bf16 (the CPU) every metric and the
per-image results stop, since numpy has no bfloat16 ("Got unsupported
ScalarType BFloat16"). In training the classification head cast its soft
targets (CheXpert's U(0.55, 0.85)) to the logits' dtype: 0.7 became
0.69921875 in bf16.

CPU autocast runs Linear and conv in the requested dtype as CUDA autocast
does, and leaves sigmoid and in-place adds alone as CUDA autocast does, so
these dtypes are the ones a GPU gives.
"""
import pytest
import torch
from mmengine.config import Config

import fx_mm  # noqa: F401
from fx_mm.engine.hooks.per_image_results_hook import sample_record
from fx_mm.evaluation.metrics import (CocoAP40Metric, MultiLabelAUC,
                                      MultiLabelDice)
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path

DATASET, NUM_CLASSES = 'ChestX-Det', 13  # cls, loc and seg in this config
LOW = [torch.bfloat16, torch.float16]
METRICS = dict(cls=MultiLabelAUC, loc=CocoAP40Metric, seg=MultiLabelDice)


@pytest.fixture(scope='module')
def model():
    return build_initialised_model(Config.fromfile(
        repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py'))).eval()


def predict(model, task, dtype):
    data = model.data_preprocessor(
        make_batch(task, DATASET, NUM_CLASSES, seed=1), False)
    with torch.no_grad(), torch.autocast('cpu', dtype=dtype):
        return model(**data, mode='predict')


def prediction_dtypes(task, sample):
    if task == 'cls':
        return {sample.pred_score.dtype}
    if task == 'loc':
        pred = sample.pred_instances
        return {pred.bboxes.dtype, pred.scores.dtype}
    return {sample.seg_logits.data.dtype}


@pytest.mark.parametrize('dtype', LOW)
@pytest.mark.parametrize('task', ['cls', 'loc', 'seg'])
def test_predictions_leave_the_model_in_fp32(model, task, dtype):
    samples = predict(model, task, dtype)
    for sample in samples:
        assert prediction_dtypes(task, sample) == {torch.float32}
    # what reads them: the task's metric and the per-image results
    metric = METRICS[task](classes=[str(c) for c in range(NUM_CLASSES)])
    metric.process(None, [s.to_dict() for s in samples])
    assert len(metric.results) == len(samples)
    assert [sample_record(s)['task'] for s in samples] == [task] * 2


@pytest.mark.parametrize('dtype', LOW)
def test_predict_all_gives_fp32_probabilities_and_boxes(model, dtype):
    data = model.data_preprocessor(
        make_batch('loc', DATASET, NUM_CLASSES, seed=1), False)
    with torch.autocast('cpu', dtype=dtype):
        out = model.predict_all(data['inputs'], data['data_samples'])
    for image in out:
        assert {p.dtype for p in image['cls'].values()} == {torch.float32}
        assert {i.bboxes.dtype for i in image['loc'].values()} == {
            torch.float32}


def test_box_branches_compute_low_and_hand_on_fp32(model):
    """The head's box branches run in the autocast dtype; their output is
    cast up before mmdet adds the reference and takes the sigmoid."""
    for parts in model.loc.per_dataset.values():
        for branch in parts['bbox_head'].reg_branches:
            x = torch.randn(3, branch[0].in_features)
            with torch.autocast('cpu', dtype=torch.float16):
                out = branch(x)
            assert out.dtype == torch.float32
            with torch.autocast('cpu', dtype=torch.float16):
                expected = branch[-1](branch[:-1](x)).float()
            torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('dtype', LOW)
def test_soft_labels_reach_the_loss_unrounded(model, dtype, monkeypatch):
    head = model.cls_heads[DATASET]
    targets = []
    forward = head.loss_module.forward

    def recorded(cls_score, label, *args, **kwargs):
        targets.append(label)
        return forward(cls_score, label, *args, **kwargs)

    monkeypatch.setattr(head.loss_module, 'forward', recorded)
    batch = make_batch('cls', DATASET, NUM_CLASSES, seed=3)
    soft = torch.full((NUM_CLASSES, ), 0.7)
    soft[0] = float('nan')  # a label left out stays left out
    for sample in batch['data_samples']:
        sample.set_gt_score(soft.clone())
    data = model.data_preprocessor(batch, True)
    model.train()
    try:
        with torch.autocast('cpu', dtype=dtype):
            losses = model(**data, mode='loss')
    finally:
        model.eval()
    assert torch.isfinite(losses['cls.loss_cls'])
    (target, ) = targets
    assert target.dtype == torch.float32
    assert torch.equal(target[:, 1:], torch.full((2, NUM_CLASSES - 1), 0.7))
    assert torch.equal(target[:, 0], torch.zeros(2))  # NaN -> 0, masked
