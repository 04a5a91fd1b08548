"""Per-dataset label policies: from the dataset table entry to the targets."""
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS

import fx_mm  # noqa: F401
from fx_mm.datasets.dataset_table import check_table, dataset_cfg, find_entry
from fx_mm.datasets.label_policy import count_split_labels
from fx_mm.datasets.transforms import ResolveUncertainLabels
from tests.conftest import repo_path

# Two classes of every dataset: one column fully labelled, one with an
# uncertain (-1) and a blank cell.
ROWS = ['a.png,1,-1', 'b.png,0,', 'c.png,1,1']


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """A prepared layout with three tiny images and the same CSV for every
    split; the class columns are named per test."""
    import cv2
    root = tmp_path_factory.mktemp('prepared')
    (root / 'images').mkdir()
    for name in 'abc':
        cv2.imwrite(str(root / 'images' / f'{name}.png'),
                    np.full((16, 16), 128, np.uint8))
    return root


def paper_table():
    """The 11-dataset table and pipelines of the X-C config, as shipped."""
    cfg = Config.fromfile(repo_path('configs', 'fx_c.py'))
    return cfg, cfg.fx_datasets


def on_fixture(entry, root, classes=('X', 'Y')):
    """A table entry pointed at the fixture, its policy keys kept."""
    (root / 'cls').mkdir(exist_ok=True)
    for split in ('train', 'val', 'test'):
        (root / 'cls' / f'{split}.csv').write_text(
            'file_name,' + ','.join(classes) + '\n' + '\n'.join(ROWS) + '\n')
    return dict(entry, data_root=str(root),
                cls=dict(entry['cls'], classes=list(classes)))


def targets(entry, split, pipelines):
    """gt_score of every sample of a split, through the dataset's pipeline
    as the loops build it (images read, packed)."""
    pipeline = pipelines.cls.train if split == 'train' else pipelines.cls.test
    ds = DATASETS.build(dataset_cfg(entry, 'cls', split, pipeline))
    return np.stack([ds[i]['data_samples'].gt_score.numpy()
                     for i in range(len(ds))])


@pytest.mark.parametrize('name', ['CheXpert', 'MIMIC-CXR'])
def test_blank_is_negative_for_chexpert_and_mimic(name, prepared):
    cfg, table = paper_table()
    entry = on_fixture(find_entry(table, name), prepared)
    train = targets(entry, 'train', cfg.fx_pipelines)
    assert train[:, 0].tolist() == [1, 0, 1]
    assert train[1, 1] == 0  # the blank cell
    assert 0.55 <= train[0, 1] <= 0.85  # uncertain: LSR-Ones, as before
    for split in ('val', 'test'):
        scores = targets(entry, split, cfg.fx_pipelines)
        # labeler blanks are negatives in the metrics too; uncertain is not
        # scored
        assert scores[1, 1] == 0 and np.isnan(scores[0, 1])


@pytest.mark.parametrize('name', ['NIH-ChestX-ray14', 'RSNA-Pneumonia'])
def test_blank_stays_ignored_elsewhere(name, prepared):
    """In the same config, with the same pipelines, as CheXpert."""
    cfg, table = paper_table()
    entry = find_entry(table, name)
    assert not {'missing', 'eval_missing'} & set(entry['cls'])
    entry = on_fixture(entry, prepared)
    train = targets(entry, 'train', cfg.fx_pipelines)
    assert np.isnan(train[1, 1]) and 0.55 <= train[0, 1] <= 0.85
    val = targets(entry, 'val', cfg.fx_pipelines)
    assert np.isnan(val[1, 1]) and np.isnan(val[0, 1])
    chexpert = on_fixture(find_entry(table, 'CheXpert'), prepared)
    assert targets(chexpert, 'train', cfg.fx_pipelines)[1, 1] == 0


def test_cfg_options_override_the_entry(prepared):
    cfg, _ = paper_table()
    index = [e['name'] for e in cfg.fx_datasets].index('CheXpert')
    cfg.merge_from_dict({f'fx_datasets.{index}.cls.missing': 'ignore',
                         f'fx_datasets.{index}.cls.uncertain': 'zeros',
                         f'fx_datasets.{index}.cls.eval_missing': 'ignore'})
    entry = on_fixture(cfg.fx_datasets[index], prepared)
    train = targets(entry, 'train', cfg.fx_pipelines)
    assert np.isnan(train[1, 1]) and train[0, 1] == 0
    assert np.isnan(targets(entry, 'val', cfg.fx_pipelines)[1, 1])


def test_inheriting_config_overrides_the_entry(tmp_path, prepared):
    child = tmp_path / 'child.py'
    child.write_text(
        f"_base_ = [{repo_path('configs', 'fx_c.py')!r}]\n"
        'fx_datasets = _base_.fx_datasets\n'
        "fx_datasets[0]['cls'].update(uncertain='lsr-zeros', "
        'lsr_range=(0.1, 0.2))\n'
        'model = dict(datasets=fx_datasets)\n')
    cfg = Config.fromfile(str(child))
    assert cfg.fx_datasets[0]['name'] == 'CheXpert'
    check_table(cfg.fx_datasets)
    entry = on_fixture(cfg.fx_datasets[0], prepared)
    train = targets(entry, 'train', cfg.fx_pipelines)
    assert 0.1 <= train[0, 1] <= 0.2  # the entry's interval, not 0.55-0.85
    assert train[1, 1] == 0  # the rest of the base entry is kept
    # the base config is untouched
    base = Config.fromfile(repo_path('configs', 'fx_c.py'))
    assert base.fx_datasets[0]['cls']['uncertain'] == 'lsr-ones'


@pytest.mark.parametrize('key,value,match', [
    ('missing', 'zero', r"Dataset 'CheXpert', field cls\.missing: 'zero' is "
     r"not one of \('ignore', 'negative'\)"),
    ('uncertain', 'U-ones', r"Dataset 'CheXpert', field cls\.uncertain: "
     r"'U-ones' is not one of"),
    ('eval_uncertain', 'lsr-ones', r"Dataset 'CheXpert', field "
     r"cls\.eval_uncertain: 'lsr-ones' is not one of \('ignore', 'ones', "
     r"'zeros'\)"),
    ('eval_missing', None, r"Dataset 'CheXpert', field cls\.eval_missing: "
     r'None'),
    ('lsr_range', (0.9, 0.1), r"Dataset 'CheXpert', field cls\.lsr_range: "
     r'\(0\.9, 0\.1\) is not \(low, high\)'),
    ('mising', 'negative', r"Dataset 'CheXpert', task 'cls': unknown "
     r"key\(s\) \['mising'\]"),
])
def test_bad_policy_names_dataset_and_field(key, value, match):
    cfg, table = paper_table()
    table[0]['cls'][key] = value
    with pytest.raises(ValueError, match=match):
        check_table(table)
    if key != 'mising':  # the eval loops build datasets without check_table
        with pytest.raises(ValueError, match=match):
            dataset_cfg(table[0], 'cls', 'val', cfg.fx_pipelines.cls.test)


def test_lsr_range_needs_an_lsr_policy_in_the_entry():
    _, table = paper_table()
    entry = find_entry(table, 'NIH-ChestX-ray14')
    entry['cls']['lsr_range'] = (0.6, 0.7)
    with pytest.raises(ValueError, match=r"'NIH-ChestX-ray14', field "
                       r'cls\.lsr_range: set, but cls\.uncertain is None'):
        check_table(table)


def test_policy_without_a_resolve_step_is_an_error():
    _, table = paper_table()
    with pytest.raises(ValueError, match=r"Dataset 'CheXpert', field\(s\) "
                       r"\['cls.eval_missing', 'cls.eval_uncertain'\]: the "
                       r'cls pipeline of the test split has no '
                       r'ResolveUncertainLabels'):
        dataset_cfg(table[0], 'cls', 'test',
                    [dict(type='mmpretrain.PackInputs')])


def test_lsr_zeros_and_negative_blank_in_the_transform():
    raw = np.array([1, 0, -1, np.nan, -1], np.float32)
    t = ResolveUncertainLabels(uncertain='lsr-zeros', missing='negative')
    out = t.transform(dict(gt_raw=raw, sample_idx=3))['gt_score']
    assert out[:2].tolist() == [1, 0] and out[3] == 0
    assert ((0 <= out[[2, 4]]) & (out[[2, 4]] <= 0.3)).all()
    with pytest.raises(ValueError, match='missing='):
        ResolveUncertainLabels(missing='unknown')
    with pytest.raises(ValueError, match='low=0.9, high=0.1'):
        ResolveUncertainLabels(low=0.9, high=0.1)


def test_counts_follow_the_policy(prepared):
    raw = np.array([[1, -1], [0, np.nan], [1, 1], [np.nan, np.nan]],
                   np.float32)
    lsr = ResolveUncertainLabels(missing='negative').count_targets(raw)
    assert lsr['positive'].tolist() == [2, 1]
    assert lsr['negative'].tolist() == [2, 2]
    assert lsr['soft'].tolist() == [0, 1]
    assert lsr['ignored'].tolist() == [0, 0]
    assert lsr['uncertain'].tolist() == [0, 1]
    assert lsr['blank'].tolist() == [1, 2]
    ign = ResolveUncertainLabels(uncertain='ignore').count_targets(raw)
    assert ign['negative'].tolist() == [1, 0]
    assert ign['ignored'].tolist() == [1, 3] and ign['soft'].sum() == 0
    # a built split is counted with its own pipeline's policy
    cfg, table = paper_table()
    entry = on_fixture(find_entry(table, 'CheXpert'), prepared)
    ds = DATASETS.build(dataset_cfg(entry, 'cls', 'train',
                                    cfg.fx_pipelines.cls.train))
    counts = count_split_labels(ds)
    assert counts['images'] == 3 and counts['lsr']
    assert counts['negative'].tolist() == [1, 1]
    assert counts['soft'].tolist() == [0, 1]
    assert counts['policy'] == ('uncertain: lsr-ones U(0.55, 0.85), blank: '
                                'negative')
