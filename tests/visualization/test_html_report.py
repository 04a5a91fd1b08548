"""tools/test.py's per-image results and tools/analysis/report.py's page, on
the tiny 3-dataset run shared by the tests (conftest ``trained_tiny``)."""
import base64
import glob
import io
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from fx_mm.evaluation.metrics import (coco_box_ap, dice_from_stats,
                                      dice_stats, multilabel_auc)
from tests.conftest import repo_path, run_python

HEADS = [('CovidLungs', 'cls'), ('CovidLungs', 'loc'), ('CovidLungs', 'seg'),
         ('CovidBoxes', 'cls'), ('CovidBoxes', 'loc'), ('LungMasks', 'seg')]
SECTIONS = ['results', 'curves', 'teacher-student', 'cases', 'schedule',
            'config']
WORST, TYPICAL = 2, 1


def _work_dir_of(trained_tiny, tmp_path_factory):
    """A work dir of the shared run that this module may write into: its
    small files copied, its checkpoints linked (tools/test.py adds a
    timestamped folder that other tests of the shared run must not see)."""
    src = trained_tiny[0]
    dst = str(tmp_path_factory.mktemp('report') / 'work')
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('*.pth'))
    for ckpt in glob.glob(osp.join(src, '*.pth')):
        os.symlink(ckpt, osp.join(dst, osp.basename(ckpt)))
    return dst


@pytest.fixture(scope='module')
def tested(trained_tiny, tmp_path_factory):
    """(work dir, config, test output): the run, tested by tools/test.py."""
    work_dir = _work_dir_of(trained_tiny, tmp_path_factory)
    config = trained_tiny[1]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    proc = run_python([repo_path('tools', 'test.py'), config, ckpt,
                       '--work-dir', work_dir])
    return work_dir, config, proc.stdout


@pytest.fixture(scope='module')
def report(tested):
    """(page path, page text, report output)."""
    work_dir = tested[0]
    proc = run_python([repo_path('tools', 'analysis', 'report.py'), work_dir,
                       '--worst', str(WORST), '--typical', str(TYPICAL),
                       '--device', 'cpu'])
    path = osp.join(work_dir, 'report.html')
    with open(path, encoding='utf-8') as f:
        return path, f.read(), proc.stdout


def read_results(work_dir):
    with open(osp.join(work_dir, 'test_predictions.json')) as f:
        return json.load(f)


def test_per_image_results_reproduce_the_test_metrics(tested):
    work_dir, _, output = tested
    assert f'per image: {osp.join(work_dir, "test_predictions.json")}' \
        in output
    data = read_results(work_dir)
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)
    meta, results = data['meta'], data['results']
    assert meta['split'] == 'test' and meta['predict_with'] == 'teacher'
    assert osp.isfile(meta['checkpoint'])
    Config.fromstring(meta['config'], '.py')  # the config as it ran
    by_head = {}
    for r in results:
        assert osp.isabs(r['img_path']) and osp.isfile(r['img_path'])
        by_head.setdefault((r['dataset'], r['task']), []).append(r)
    assert list(by_head) == HEADS
    assert all(len(v) == 4 for v in by_head.values())  # n_eval images
    for (dataset, task), records in by_head.items():
        classes = meta['classes'][dataset][task]
        prefix = f'{dataset}/{task}/'
        if task == 'cls':
            labels = np.array([[np.nan if v is None else v
                                for v in r['gt_score']] for r in records])
            got = multilabel_auc(np.array([r['pred_score'] for r in records]),
                                 labels, classes)['AUC']
            want = metrics[prefix + 'AUC']
            assert (got is None or np.isnan(got)) if want is None else \
                got == pytest.approx(want, abs=1e-3)
        elif task == 'seg':
            got = dice_from_stats(np.array([r['dice_stats']
                                            for r in records]), classes)
            assert got['Dice'] == pytest.approx(metrics[prefix + 'Dice'])
        else:
            gts = [dict(bboxes=np.array(r['gt_bboxes']).reshape(-1, 4),
                        labels=np.array(r['gt_labels']),
                        ignore=np.array(r['gt_ignore'], bool))
                   for r in records]
            preds = [dict(bboxes=np.array(r['pred_bboxes']).reshape(-1, 4),
                          scores=np.array(r['pred_scores']),
                          labels=np.array(r['pred_labels']))
                     for r in records]
            got = coco_box_ap(gts, preds, classes)['mAP40']
            assert got == pytest.approx(metrics[prefix + 'mAP40'], abs=2e-3)


def test_val_split_results_go_where_out_says(trained_tiny, tmp_path):
    """--split val runs the val loop as the test loop: its per-image
    results are the val images', in the file --out names."""
    work_dir, config, _ = trained_tiny
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    out = str(tmp_path / 'elsewhere' / 'val.json')
    proc = run_python([repo_path('tools', 'test.py'), config, ckpt,
                       '--split', 'val', '--work-dir', str(tmp_path / 'w'),
                       '--out', out])
    assert f'per image: {out}' in proc.stdout
    assert not osp.exists(tmp_path / 'w' / 'val_predictions.json')
    with open(out) as f:
        data = json.load(f)
    assert data['meta']['split'] == 'val'
    cfg = Config.fromfile(config)
    with open(osp.join(cfg.fx_datasets[0]['data_root'], 'seg',
                       'val.txt')) as f:
        val_names = [line.strip() for line in f if line.strip()][:4]
    seg = [osp.basename(r['img_path']) for r in data['results']
           if (r['dataset'], r['task']) == ('LungMasks', 'seg')]
    assert seg == val_names


def test_segmentation_masks_redrawn_are_the_ones_scored(tested, monkeypatch):
    import torch

    from fx_mm.apis.held_out_masks import predict_seg_masks
    from fx_mm.models.detectors.foundation_x import FoundationX
    grad_modes = []
    test_step = FoundationX.test_step

    def recording_test_step(self, data):
        # A graph built here is never used: on a GPU it holds every
        # activation of the batch until the next one.
        grad_modes.append(torch.is_grad_enabled())
        return test_step(self, data)

    monkeypatch.setattr(FoundationX, 'test_step', recording_test_step)
    data = read_results(tested[0])
    records = [r for r in data['results'] if r['task'] == 'seg'][:3]
    images = {}
    for r in records:
        images.setdefault(r['dataset'], []).append(r['img_path'])
    masks = predict_seg_masks(
        Config.fromstring(data['meta']['config'], '.py'),
        data['meta']['checkpoint'], 'test', images,
        data['meta']['predict_with'], 'cpu')
    assert len(masks) == 3
    for r in records:
        pred, gt = masks[(r['dataset'], r['img_path'])]
        assert pred.shape == gt.shape == (1, *r['ori_shape'])
        assert dice_stats(pred, gt).tolist() == r['dice_stats']
    assert grad_modes and not any(grad_modes)


class PageParser(HTMLParser):
    """What a check needs of the page: section ids, tables, images, links."""

    def __init__(self):
        super().__init__()
        self.sections, self.tables, self.images, self.refs = [], [], [], []
        self.section = None
        self._cell, self._row = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'section':
            self.section = attrs.get('id')
            self.sections.append(self.section)
        elif tag == 'table':
            self.tables.append((self.section, []))
        elif tag == 'tr':
            self._row = []
            self.tables[-1][1].append(self._row)
        elif tag in ('td', 'th'):
            self._cell = []
        elif tag == 'img':
            self.images.append((self.section, attrs.get('src', ''),
                                attrs.get('alt', '')))
        for key in ('src', 'href'):
            if key in attrs and tag != 'img':
                self.refs.append(attrs[key])
        if tag in ('script', 'link', 'iframe', 'object', 'embed'):
            self.refs.append(f'<{tag}>')

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self._cell is not None:
            self._row.append(''.join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(text):
    parser = PageParser()
    parser.feed(text)
    return parser


def tables_of(page, section):
    return [rows for s, rows in page.tables if s == section]


def test_page_has_every_part_and_nothing_external(report, tested):
    path, text, output = report
    assert output.strip() == f'report: {path}'
    page = parse(text)
    assert page.sections == SECTIONS
    # Images are data URIs, links go to the page's own sections: no
    # network, no other file.
    assert all(ref.startswith('#') for ref in page.refs), page.refs
    assert all(src.startswith('data:image/') for _, src, _ in page.images)
    assert 'url(' not in text.split('</style>')[0]
    assert 'class="note"' not in text  # every part had its records

    with open(osp.join(tested[0], 'test_metrics.json')) as f:
        metrics = json.load(f)
    table4, per_class = tables_of(page, 'results')[:2]
    assert table4[0] == ['dataset', 'AUC (%)', 'mAP40 (%)', 'Dice (%)']
    rows = {r[0]: r for r in table4[1:]}
    assert list(rows) == ['CovidLungs', 'CovidBoxes', 'LungMasks']
    assert rows['LungMasks'][3] == f'{100 * metrics["LungMasks/seg/Dice"]:.2f}'
    assert rows['LungMasks'][1] == '-'
    assert per_class[0] == ['dataset', 'metric', 'class', 'value (%)']
    assert len(per_class) == 1 + 8  # every class of every head

    (ts, ) = tables_of(page, 'teacher-student')
    assert [r[0] for r in ts[1:]] == [f'{d}/{t}' for d, t in HEADS]
    assert ts[0][:5] == ['head', 'metric', 'last pass', 'teacher (%)',
                         'student (%)']


def test_schedule_table_counts_the_iterations_each_pass_ran(report, tested):
    work_dir = tested[0]
    page = parse(report[1])
    by_kind, passes = tables_of(page, 'schedule')
    with open(osp.join(work_dir, 'schedule.json')) as f:
        schedule = json.load(f)
    assert len(passes) == 1 + len(schedule)
    header = passes[0]
    assert header == ['pass', 'cycle', 'task', 'dataset', 'lock / release',
                      'iterations', 's / iter', 'seconds']
    cfg = Config.fromfile(tested[1])
    batch = cfg.train_dataloader.batch_size
    for row, p in zip(passes[1:], schedule):
        # Passes counted from 1, as mmengine's epochs (epoch_<n>.pth).
        assert row[:4] == [str(p['index'] + 1), str(p['cycle'] + 1),
                           p['task'], p['dataset']]
        assert row[4].startswith(p['kind'])
        # The audit trail lists the images each pass trained on.
        with open(osp.join(work_dir, 'audit',
                           f'pass{p["index"]}_rank0.txt')) as f:
            images = len(f.read().split())
        assert int(row[5]) == images // batch
        assert float(row[7]) > 0
    kinds = {(r[0], r[1]): int(r[2]) for r in by_kind[1:]}
    assert kinds == {(t, k): sum(1 for p in schedule if (p['task'], p['kind'])
                                 == (t, k))
                     for t, k in {(p['task'], p['kind']) for p in schedule}}


def decode(uri):
    match = re.fullmatch(r'data:(image/(?:png|jpeg));base64,(.+)', uri)
    assert match, uri[:60]
    image = Image.open(io.BytesIO(base64.b64decode(match.group(2))))
    image.load()
    return image


def test_every_image_decodes_and_each_head_shows_its_cases(report):
    page = parse(report[1])
    curves = [src for s, src, _ in page.images if s == 'curves']
    assert len(curves) == 3  # one per dataset
    cases = [(src, alt) for s, src, alt in page.images if s == 'cases']
    assert len(cases) == len(HEADS) * (WORST + TYPICAL)
    for _, src, _ in page.images:
        pixels = np.asarray(decode(src).convert('L'), np.float32)
        assert pixels.std() > 5, 'a blank image'
    for dataset, task in HEADS:
        kinds = [alt.split()[0] for _, alt in cases
                 if alt.split()[1:3] == [dataset, task]]
        assert kinds == ['worst'] * WORST + ['typical'] * TYPICAL
    # Segmentation cases carry their masks: the predicted tint (blue) or
    # the true outline (white) is drawn on the gray radiograph.
    for src, alt in cases:
        if alt.split()[2] != 'seg':
            continue
        rgb = np.asarray(decode(src).convert('RGB'), np.int16)
        coloured = np.abs(rgb - rgb.mean(2, keepdims=True)).max(2) > 40
        white = (rgb.min(2) > 245).sum()
        assert coloured.sum() > 0 or white > 0, alt


def test_report_without_test_results_says_how_to_make_them(trained_tiny,
                                                             tmp_path_factory):
    work_dir = _work_dir_of(trained_tiny, tmp_path_factory)
    run_python([repo_path('tools', 'analysis', 'report.py'), work_dir])
    with open(osp.join(work_dir, 'report.html')) as f:
        page = parse(f.read())
    text = open(osp.join(work_dir, 'report.html')).read()
    assert page.sections == SECTIONS
    assert 'No held-out evaluation in this work dir' in text
    assert 'python tools/test.py ' in text and work_dir in text
    # The training parts are there all the same.
    assert len(tables_of(page, 'schedule')) == 2
    assert len([1 for s, _, _ in page.images if s == 'curves']) == 3


def chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_page_renders_in_a_browser(report, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip('no Chromium here (Debian: apt-get install chromium): '
                    'the page is checked by its structure only')
    shot = str(tmp_path / 'page.png')
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, '--headless', '--no-sandbox', '--disable-gpu',
             '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update',
             '--disable-sync', f'--user-data-dir={profile}',
             f'--screenshot={shot}', '--window-size=1280,4000',
             'file://' + osp.abspath(report[0])],
            capture_output=True, text=True, timeout=120)
    assert osp.isfile(shot), proc.stderr[-2000:]
    image = Image.open(shot)
    assert image.size == (1280, 4000)
    gray = np.asarray(image.convert('L'), np.float32)
    # Not blank: text, tables and images over most of the height.
    assert gray.std() > 20
    rows_with_ink = (gray < 128).any(1).mean()
    assert rows_with_ink > 0.5
    # The embedded images drew: dark radiograph areas, not just text.
    dark_blocks = (gray[:, :] < 40).sum()
    assert dark_blocks > 100_000
