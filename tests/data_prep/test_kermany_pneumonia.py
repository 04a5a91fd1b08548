"""Kermany pneumonia converter: a fixture laid out like the Kaggle download
(nested duplicate tree, __MACOSX, .DS_Store, the 16-image val folder), the
real set in ../shared/data when present, and the bundled subset."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from data_prep.__main__ import main as data_prep_main
from data_prep.converters.kermany_pneumonia import (CLASSES, convert,
                                                    parse_name)
from tests.conftest import repo_path, run_python, shared_data
from tests.data_prep.prepared import build_from_table, read_cls, read_splits

SPLITS = ('train', 'val', 'test')
BUNDLED = repo_path('data_prep', 'bundled', 'kermany_pneumonia')
EXPECTED_ROW = {'normal': ('0', '0', '0'), 'bacterial': ('1', '1', '0'),
                'viral': ('1', '0', '1')}

# release folder -> class folder -> file names (as the Kaggle names go).
TRAIN_NORMAL = ([f'IM-{k:04d}-0001.jpeg' for k in range(1, 25)]
                + ['IM-0001-0002.jpeg', 'IM-0003-0001-0001.jpeg',
                   'IM-0003-0001-0002.jpeg']
                + [f'NORMAL2-IM-{k:04d}-0001.jpeg' for k in range(1, 13)])
TRAIN_PNEUMONIA = ([f'person{k}_bacteria_{100 + k}.jpeg' for k in range(1, 31)]
                   + [f'person{k}_virus_{200 + k}.jpeg' for k in range(1, 11)]
                   + [f'person{k}_virus_{300 + k}.jpeg'
                      for k in range(31, 41)]
                   + ['person1_bacteria_500.jpeg',
                      'person447_virus_921_1.jpeg'])
LAYOUT = dict(
    train=dict(NORMAL=TRAIN_NORMAL, PNEUMONIA=TRAIN_PNEUMONIA),
    test=dict(NORMAL=[f'IM-{k:04d}-0005.jpeg' for k in range(1, 9)]
              + ['NORMAL2-IM-0100-0001.jpeg'],
              PNEUMONIA=[f'person{k}_bacteria_{k}.jpeg' for k in range(1, 6)]
              + ['person6_virus_1.jpeg', 'person7_virus_2.jpeg']),
    val=dict(NORMAL=['NORMAL2-IM-1427-0001.jpeg', 'NORMAL2-IM-1430-0001.jpeg'],
             PNEUMONIA=['person1946_bacteria_4874.jpeg',
                        'person1952_bacteria_4883.jpeg']))


def kind_of(name):
    if 'bacteria' in name:
        return 'bacterial'
    return 'viral' if 'virus' in name else 'normal'


def _write_tree(root, layout, value=100):
    pixels = np.full((24, 20, 3), value, np.uint8)
    for release, folders in layout.items():
        for folder, names in folders.items():
            path = root / release / folder
            path.mkdir(parents=True, exist_ok=True)
            (path / '.DS_Store').write_bytes(b'\x00\x00\x00\x01Bud1')
            for name in names:
                cv2.imwrite(str(path / name), pixels)


@pytest.fixture
def download(tmp_path):
    """The Kaggle archive as extracted: chest_xray/{train,test,val}, the
    duplicate chest_xray/chest_xray/ tree (different pixels, to see which
    one is read), __MACOSX/ with AppleDouble '._' files, .DS_Store files."""
    root = tmp_path / 'download'
    _write_tree(root / 'chest_xray', LAYOUT)
    _write_tree(root / 'chest_xray' / 'chest_xray', LAYOUT, value=200)
    mac = root / 'chest_xray' / '__MACOSX' / 'chest_xray' / 'train' / 'NORMAL'
    mac.mkdir(parents=True)
    (mac / '._IM-0001-0001.jpeg').write_bytes(b'\x00\x05\x16\x07')
    (root / 'chest_xray' / '.DS_Store').write_bytes(b'Bud1')
    return root


def test_parse_name_kinds_and_patient_groups():
    assert parse_name('PNEUMONIA', 'person1000_bacteria_2931') == (
        'bacterial', 'person1000')
    # Same <N> under both types: one group (joined, see the docstring).
    assert parse_name('PNEUMONIA', 'person1000_virus_1681') == (
        'viral', 'person1000')
    assert parse_name('PNEUMONIA', 'person447_virus_921_1') == (
        'viral', 'person447')
    assert parse_name('NORMAL', 'IM-0011-0001-0002') == ('normal', 'IM-0011')
    assert parse_name('NORMAL', 'NORMAL2-IM-0011-0001') == (
        'normal', 'IM-0011')
    # PNEUMONIA's person<N> and NORMAL's IM-<id> are separate namespaces.
    assert parse_name('PNEUMONIA', 'person11_bacteria_1')[1] != parse_name(
        'NORMAL', 'IM-0011-0001')[1]
    # Mendeley v3 names.
    assert parse_name('PNEUMONIA', 'VIRUS-1008087-0001') == (
        'viral', 'id1008087')
    assert parse_name('NORMAL', 'NORMAL-1003233-0001') == (
        'normal', 'id1003233')
    # A name that does not fit its folder.
    assert parse_name('NORMAL', 'person1_bacteria_1') is None
    assert parse_name('PNEUMONIA', 'IM-0001-0001') is None
    assert parse_name('PNEUMONIA', 'person1_fungus_1') is None


def test_kaggle_download_labels_groups_and_split(download, tmp_path):
    out = str(tmp_path / 'out')
    summary = convert(str(download), out)
    names = {r: [n for f in LAYOUT[r].values() for n in f] for r in LAYOUT}
    assert summary['images'] == sum(len(v) for v in names.values())
    assert summary['skipped'] == {}
    assert summary['layout_root'] == 'chest_xray'
    assert summary['ignored_copies'] == [osp.join('chest_xray', 'chest_xray')]
    assert summary['release_val_merged'] == 4
    assert summary['classes'] == CLASSES
    table = read_cls(out)
    for name, row in table.items():
        assert tuple(row[c] for c in CLASSES['cls']) == EXPECTED_ROW[
            kind_of(name)], name
    splits = read_splits(out)
    # Official test as released; train + the release's val split 7:1.
    assert splits['test'] == sorted(names['test'])
    assert sorted(splits['train'] + splits['val']) == sorted(
        names['train'] + names['val'])
    assert 0 < len(splits['val']) < len(splits['train'])
    # No patient in both train and val (person<N> joins bacteria and virus,
    # IM-<id> joins NORMAL2-IM-<id>); the fixture has such pairs.
    group = {n: parse_name('NORMAL' if kind_of(n) == 'normal' else
                           'PNEUMONIA', osp.splitext(n)[0])[1]
             for n in table}
    train_groups = {group[n] for n in splits['train']}
    assert not train_groups & {group[n] for n in splits['val']}
    assert group['person1_bacteria_101.jpeg'] == group[
        'person1_virus_201.jpeg'] == group['person1_bacteria_500.jpeg']
    assert group['IM-0001-0001.jpeg'] == group['NORMAL2-IM-0001-0001.jpeg']
    counts = summary['split_class_counts']
    assert counts['test'] == dict(normal=9, bacterial=5, viral=2)
    assert sum(counts['train'][k] + counts['val'][k] for k in counts['val']) \
        == len(names['train']) + len(names['val'])
    # person1..7 and IM-0001..0008 (with NORMAL2-IM-0100: no) are in both.
    assert summary['official_ids_in_train_and_test'] == 7 + 8
    # The outer tree was read, not the nested copy (pixel value 100 vs 200).
    image = cv2.imread(osp.join(out, 'images', 'IM-0001-0001.jpeg'),
                       cv2.IMREAD_GRAYSCALE)
    assert abs(int(image.mean()) - 100) <= 2
    # Nothing of __MACOSX or .DS_Store made it in.
    assert not [n for n in os.listdir(osp.join(out, 'images'))
                if n.startswith('.')]
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['split_policy'].startswith('official test/ folder = test')


def test_every_src_form_gives_the_same_output(download, tmp_path):
    outs = []
    for k, src in enumerate((download, download / 'chest_xray',
                             download / 'chest_xray' / 'chest_xray')):
        out = str(tmp_path / f'out{k}')
        # The command line, in-process (a subprocess per form is slow).
        assert data_prep_main(['kermany_pneumonia', '--src', str(src),
                               '--out', out]) == 0
        outs.append(out)
    for out in outs[1:]:
        for sub, ext in (('cls', 'csv'), ('splits', 'txt')):
            for split in SPLITS:
                assert open(osp.join(out, sub, f'{split}.{ext}')).read() == \
                    open(osp.join(outs[0], sub, f'{split}.{ext}')).read()


def test_bad_names_two_trees_and_no_tree(tmp_path):
    root = tmp_path / 'a' / 'chest_xray'
    _write_tree(root, dict(train=dict(NORMAL=['IM-0001-0001.jpeg',
                                              'scan_17.jpeg'],
                                      PNEUMONIA=['person1_virus_1.jpeg',
                                                 'IM-0002-0001.jpeg']),
                           test=dict(NORMAL=['IM-0003-0001.jpeg'])))
    (root / 'train' / 'NORMAL' / 'IM-0004-0001.jpeg').write_bytes(
        b'\xff\xd8\xff\xe0 truncated')
    summary = convert(str(root), str(tmp_path / 'out'))
    assert summary['skipped'] == {'file name not recognised': 2,
                                  'unreadable image': 1}
    assert any('scan_17.jpeg' in e for e in summary['skipped_examples'][
        'file name not recognised'])
    assert summary['images'] == 3
    for copy in ('one', 'two'):
        _write_tree(tmp_path / 'b' / copy,
                    dict(train=dict(NORMAL=['IM-0001-0001.jpeg'])))
    with pytest.raises(ValueError, match='several chest_xray/ trees at the '
                       'same depth'):
        convert(str(tmp_path / 'b'), str(tmp_path / 'out2'))
    _write_tree(tmp_path / 'd', dict(train=dict(NORMAL=['IM-0001-0001.jpeg']),
                                     test=dict(NORMAL=['IM-0001-0001.jpeg'])))
    with pytest.raises(ValueError, match=r'two images named IM-0001-0001'):
        convert(str(tmp_path / 'd'), str(tmp_path / 'out4'))
    (tmp_path / 'c' / 'train').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r'no chest_xray/ tree'):
        convert(str(tmp_path / 'c'), str(tmp_path / 'out3'))


def test_real_set_matches_its_readme(tmp_path):
    """The full set in ../shared/data: train 1,341 / 2,530 / 1,345 (normal /
    bacterial / viral) split into train + val, test 234 / 242 / 148."""
    src = shared_data('kermany_pneumonia')
    out = str(tmp_path / 'kermany')
    summary = convert(src, out)
    counts = summary['split_class_counts']
    assert counts['test'] == dict(normal=234, bacterial=242, viral=148)
    assert {k: counts['train'][k] + counts['val'][k] for k in counts['val']} \
        == dict(normal=1341, bacterial=2530, viral=1345)
    assert summary['images'] == 5840 and summary['skipped'] == {}
    assert summary['cls_positives'] == {
        'Pneumonia': 2530 + 1345 + 242 + 148,
        'Bacterial Pneumonia': 2530 + 242, 'Viral Pneumonia': 1345 + 148}
    # About 1/8 of the 5,216 train images for val, by patient.
    assert 550 < summary['splits']['val'] < 750
    table = read_cls(out)
    splits = read_splits(out)
    group = {n: parse_name('NORMAL' if n.startswith(('IM', 'NORMAL')) else
                           'PNEUMONIA', osp.splitext(n)[0])[1] for n in table}
    assert not ({group[n] for n in splits['train']}
                & {group[n] for n in splits['val']})
    for split in ('train', 'val'):
        kinds = counts[split]
        # Stratified by folder: val keeps train's normal share (grouping
        # alone gave 31 % in val against 26 %).
        assert abs(kinds['normal'] / sum(kinds.values()) - 1341 / 5216) < 0.01
    # Patient numbers the release has in both its train and test folders.
    assert summary['patients']['test'] == 404
    assert summary['official_ids_in_train_and_test'] == 264


@pytest.fixture(scope='module')
def bundled_out(tmp_path_factory):
    """data_prep/bundled/kermany_pneumonia converted by the command a user
    runs."""
    out = str(tmp_path_factory.mktemp('data') / 'kermany_demo')
    run_python(['-m', 'data_prep', 'kermany_pneumonia', '--src', BUNDLED,
                '--out', out])
    return out


def test_bundled_subset_converts(bundled_out):
    """The bundled Kaggle-layout subset: 1,500 training-folder images (one
    per patient) and the whole official test folder (624), 64 px."""
    out = bundled_out
    meta = json.load(open(osp.join(out, 'meta.json')))
    counts = meta['split_class_counts']
    # The official test folder, every image (the release's own counts).
    assert counts['test'] == dict(normal=234, bacterial=242, viral=148)
    assert {k: counts['train'][k] + counts['val'][k] for k in counts['val']} \
        == dict(normal=750, bacterial=375, viral=375)
    assert meta['skipped'] == {} and meta['layout_root'] == 'chest_xray'
    # Both labels in every split, so a pneumonia AUC is defined on each.
    for split in SPLITS:
        assert counts[split]['normal'] > 0
        assert counts[split]['bacterial'] + counts[split]['viral'] > 0
    # One image per patient in the training folder's draw; the test folder
    # keeps the release's several images of some patients.
    table = read_cls(out)
    splits = read_splits(out)

    def patients(split):
        return [parse_name('NORMAL' if kind_of(n) == 'normal'
                           else 'PNEUMONIA', osp.splitext(n)[0])[1]
                for n in splits[split]]

    drawn = patients('train') + patients('val')
    assert len(drawn) == len(set(drawn)) == 1500
    assert len(splits['test']) == 624 > len(set(patients('test')))
    assert len(table) == 2124
    # Stored as 64 px greyscale copies (make_kermany_subset.py --size 64).
    image = cv2.imread(osp.join(out, 'images', splits['test'][0]),
                       cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64)


def test_bundled_output_loads_in_fx_mm(bundled_out):
    """The table entry (configs/_base_/datasets/kermany_pneumonia.py) reads
    the converted folder with fx_mm's classification dataset, all three
    columns or pneumonia alone."""
    table = read_cls(bundled_out)
    for split in SPLITS:
        ds = build_from_table('kermany_pneumonia.py', 'kermany_pneumonia',
                              bundled_out, 'cls', split)
        assert len(ds) == len(read_splits(bundled_out)[split])
    sample = ds[0]
    name = osp.basename(ds.get_data_info(0)['img_path'])
    assert tuple(sample['inputs'].shape[-2:]) == (128, 128)
    assert sample['data_samples'].gt_score.tolist() == [
        float(v) for v in EXPECTED_ROW[kind_of(name)]]
    assert tuple(table[name][c] for c in CLASSES['cls']) == EXPECTED_ROW[
        kind_of(name)]
    alone = build_from_table('kermany_pneumonia.py', 'kermany_pneumonia',
                             bundled_out, 'cls', 'test',
                             classes=['Pneumonia'])
    raw = alone.get_raw_labels()
    assert raw.shape == (624, 1) and raw.sum() == 242 + 148


def test_subset_script_draws_patients_and_keeps_the_test_folder(
        download, tmp_path):
    """data_prep/bundled/make_kermany_subset.py, as the bundle was made:
    one image per drawn patient from the training folder, every image of the
    test folder (--test-all), S x S greyscale copies (--size); it refuses an
    existing output folder (it never writes over a former subset)."""
    script = repo_path('data_prep', 'bundled', 'make_kermany_subset.py')
    out = tmp_path / 'subset'
    run_python([script, str(download), str(out), '--train', '6', '4', '3',
                '--test-all', '--size', '16'])
    kept = {release: sorted(
        name for folder in ('NORMAL', 'PNEUMONIA')
        for name in os.listdir(out / 'chest_xray' / release / folder))
        for release in ('train', 'test')}
    kinds = [kind_of(n) for n in kept['train']]
    assert (kinds.count('normal'), kinds.count('bacterial'),
            kinds.count('viral')) == (6, 4, 3)
    groups = [parse_name('NORMAL' if kind_of(n) == 'normal' else 'PNEUMONIA',
                         osp.splitext(n)[0])[1] for n in kept['train']]
    assert len(set(groups)) == len(groups)
    test_layout = LAYOUT['test']
    assert kept['test'] == sorted(test_layout['NORMAL']
                                  + test_layout['PNEUMONIA'])
    image = cv2.imread(str(out / 'chest_xray' / 'test' / 'NORMAL'
                           / test_layout['NORMAL'][0]), cv2.IMREAD_UNCHANGED)
    # Grey, 16 px, and from the outer tree (the nested copy has pixel 200).
    assert image.shape == (16, 16) and abs(int(image.mean()) - 100) <= 2
    before = sorted(os.listdir(out / 'chest_xray' / 'test' / 'NORMAL'))
    again = run_python([script, str(download), str(out)], check=False)
    assert again.returncode == 2 and 'exists' in again.stderr
    assert sorted(os.listdir(out / 'chest_xray' / 'test' / 'NORMAL')) == \
        before
