"""Dataset classes and transforms of the prepared layout."""
import numpy as np
import pytest

import fx_mm  # noqa: F401
from fx_mm.datasets import CXRClsDataset
from fx_mm.datasets.transforms import ResolveUncertainLabels


def write_csv(tmp_path, text):
    (tmp_path / 'cls').mkdir(exist_ok=True)
    (tmp_path / 'cls' / 'train.csv').write_text(text)
    return str(tmp_path)


def test_raw_labels_keep_uncertain_and_missing_apart(tmp_path):
    root = write_csv(tmp_path, 'file_name,A,B\nx.png,1,-1\ny.png,,0.0\n')
    ds = CXRClsDataset('cls/train.csv', classes=['A', 'B'], data_root=root,
                       lazy_init=False)
    raw = ds.get_raw_labels()
    assert raw[0].tolist() == [1.0, -1.0]
    assert np.isnan(raw[1, 0]) and raw[1, 1] == 0.0


@pytest.mark.parametrize('text,match', [
    ('file_name,A\nx.png,1\n', r"missing column\(s\) \['B'\]"),
    ('file_name,A,B\nx.png,1,yes\n', r"line 2, column 'B': label 'yes'"),
])
def test_bad_csv_is_named(tmp_path, text, match):
    root = write_csv(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        CXRClsDataset('cls/train.csv', classes=['A', 'B'], data_root=root)


def test_uncertainty_policies():
    raw = np.array([1, 0, -1, np.nan, -1], np.float32)
    out = {p: ResolveUncertainLabels(uncertain=p, seed=0).transform(
        dict(gt_raw=raw))['gt_score'] for p in ('lsr-ones', 'ones', 'zeros',
                                               'ignore')}
    assert out['ones'][[2, 4]].tolist() == [1, 1]
    assert out['zeros'][[2, 4]].tolist() == [0, 0]
    assert np.isnan(out['ignore'][[2, 4]]).all()
    lsr = out['lsr-ones'][[2, 4]]
    assert ((0.55 <= lsr) & (lsr <= 0.85)).all() and lsr[0] != lsr[1]
    for p in out.values():
        assert p[:2].tolist() == [1, 0] and np.isnan(p[3])
    zeros = ResolveUncertainLabels(uncertain='ones', missing='zeros')
    assert zeros.transform(dict(gt_raw=raw))['gt_score'][3] == 0
    with pytest.raises(ValueError, match='uncertain='):
        ResolveUncertainLabels(uncertain='maybe')
