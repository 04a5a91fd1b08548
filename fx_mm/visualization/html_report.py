"""The report of a run: one self-contained HTML page a person opens.

``tools/analysis/report.py WORK_DIR`` writes ``WORK_DIR/report.html`` from
what ``tools/train.py`` and ``tools/test.py`` left in the work dir:

1. the held-out results -- paper Table 4 layout and per class
   (``test_metrics.json``);
2. the cross-task curves (paper Fig. 2; drawn by
   ``tools/analysis/plot_curves.py``);
3. teacher vs student on the validation split after every validated pass
   (``vis_data/scalars.json``);
4. each head's worst held-out images beside a few typical ones, drawn
   (``test_predictions.json``; segmentation masks are predicted again for
   the few images shown, with the test's checkpoint);
5. the schedule and its timings, pass by pass (``schedule.json``, the logs);
6. the config the run trained with.

Images are embedded as data URIs: the page needs no network and no other
file, and can be mailed or archived as it is. A part the work dir has no
records for says so, and how to make them, instead of failing.
"""
import base64
import glob
import html
import json
import math
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

from fx_mm.datasets.image_io import ImageReadError, read_gray
from fx_mm.engine.hooks.per_image_results_hook import read_per_image_results
from fx_mm.evaluation.held_out_cases import HeldOutCase, held_out_cases
from fx_mm.evaluation.report import metrics_table, per_class_table
from fx_mm.evaluation.run_records import (HEADLINE, pass_records, run_dirs,
                                          validation_series, wall_clock)
from .case_overlay import draw_case, encode_jpeg

TASK_NAMES = dict(cls='classification', loc='localization',
                  seg='segmentation')

STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       sans-serif; color: #1a1a1a; margin: 0; background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 28px 48px; }
h1 { font-size: 24px; margin: 12px 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-top: 8px;
     border-top: 2px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav a { margin-right: 14px; }
.meta { color: #555; margin: 2px 0; }
.note { color: #6b4e00; background: #fff6d6; padding: 6px 10px;
        border-left: 3px solid #e0b000; }
table { border-collapse: collapse; margin: 6px 0 12px; background: #fff; }
th, td { border: 1px solid #d0d0d0; padding: 3px 9px; text-align: left; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.lock td { background: #f4f8ff; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; }
.row { display: flex; flex-wrap: wrap; gap: 0 32px; align-items: flex-start; }
figure { margin: 0; background: #fff; border: 1px solid #d8d8d8;
         padding: 6px; width: 270px; }
figure.wide { width: 580px; }
figure img { display: block; width: 100%; height: auto; }
figure.case img { height: 270px; object-fit: contain; background: #000; }
figcaption { font-size: 12px; color: #333; margin-top: 4px;
             word-wrap: break-word; }
.worst figcaption b { color: #b00020; }
.typical figcaption b { color: #1d6b2f; }
.legend span { display: inline-block; padding: 0 6px; margin-right: 6px;
               border-radius: 3px; font-size: 12px; }
pre { background: #fff; border: 1px solid #ddd; padding: 8px;
      overflow-x: auto; font-size: 12px; max-height: 600px; }
"""


# ------------------------------------------------------------ HTML pieces
def esc(text) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    """``data:`` URI of bytes (an image embedded in the page)."""
    return f'data:{mime};base64,{base64.b64encode(data).decode("ascii")}'


def table(header: Sequence[str], rows: Sequence[Sequence],
          numeric: Sequence[int] = (), row_class=None) -> str:
    """An HTML table; ``numeric`` columns right-aligned."""
    head = ''.join(f'<th>{esc(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = ''.join(
            f'<td class="num">{esc(c)}</td>' if j in numeric else
            f'<td>{esc(c)}</td>' for j, c in enumerate(row))
        cls = row_class(i) if row_class else None
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls
                    else f'<tr>{cells}</tr>')
    return (f'<table><thead><tr>{head}</tr></thead><tbody>'
            + ''.join(body) + '</tbody></table>')


def markdown_table(text: str) -> Tuple[List[str], List[List[str]]]:
    """Header and rows of a Markdown pipe table (the test tables)."""
    lines = [line.strip() for line in text.strip().splitlines()
             if line.strip().startswith('|')]
    cells = [[c.strip() for c in line.strip('|').split('|')]
             for line in lines]
    return cells[0], [c for c in cells[2:]]


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def figure(uri: str, caption: str, css: str = '', alt: str = '') -> str:
    cls = f' class="{css}"' if css else ''
    return (f'<figure{cls}><img src="{uri}" alt="{esc(alt or caption)}">'
            f'<figcaption>{caption}</figcaption></figure>')


def _pct(value: Optional[float]) -> str:
    return '-' if value is None or (isinstance(value, float) and
                                    math.isnan(value)) \
        else f'{100 * value:.2f}'


# ------------------------------------------------------------ what is there
def training_config(work_dir: str) -> Tuple[Optional[str], Optional[str]]:
    """(path, text) of the config the latest training run dumped."""
    for folder in reversed(run_dirs(work_dir)):
        path = osp.join(folder, 'vis_data', 'config.py')
        if osp.isfile(path):
            with open(path) as f:
                return path, f.read()
    dumped = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if dumped:
        with open(dumped[0]) as f:
            return dumped[0], f.read()
    return None, None


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``last_checkpoint`` file names (a moved
    work dir: the file of that name in it)."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        ckpt = f.read().strip()
    if not osp.isfile(ckpt) and osp.isfile(osp.join(work_dir,
                                                    osp.basename(ckpt))):
        ckpt = osp.join(work_dir, osp.basename(ckpt))
    return ckpt


def shown(path: str) -> str:
    """A path as a reader wants it: relative to the working directory
    when it is under it, else as it is."""
    rel = osp.relpath(osp.abspath(path))
    return path if rel.startswith('..') else rel


def _find(work_dir: str, path: Optional[str]) -> Optional[str]:
    """A recorded path, or the file of that name in the (moved) work dir."""
    if not path:
        return None
    if osp.isfile(path):
        return path
    local = osp.join(work_dir, osp.basename(path))
    return local if osp.isfile(local) else None


# ------------------------------------------------------------ sections
def _in_table_order(metrics: dict, classes: dict) -> dict:
    """Metrics ordered as the dataset table: datasets, tasks cls / loc /
    seg, classes in head order (the JSON file keeps them sorted by name);
    NaN for null.

    Args:
        metrics (dict): ``<dataset>/<task>/<metric>[/<class>]`` -> value.
        classes (dict): {dataset: {task: class names}} in table order.
    """
    datasets, tasks = list(classes), list(TASK_NAMES)

    def key(item):
        parts = item[0].split('/', 3)
        names = classes.get(parts[0], {}).get(parts[1], []) \
            if len(parts) > 1 else []
        return (datasets.index(parts[0]) if parts[0] in datasets
                else len(datasets),
                tasks.index(parts[1]) if len(parts) > 1 and parts[1] in tasks
                else len(tasks),
                names.index(parts[3]) if len(parts) == 4
                and parts[3] in names else -1)
    return {k: float('nan') if v is None else v
            for k, v in sorted(metrics.items(), key=key)}


def results_section(metrics: Optional[dict], meta: dict, counts: dict,
                    test_cmd: str) -> str:
    if metrics is None:
        return note('No held-out evaluation in this work dir (no '
                    'test_metrics.json). Make it with: ' + test_cmd)
    metrics = _in_table_order(metrics, meta.get('classes', {}))
    header, rows = markdown_table(metrics_table(metrics))
    ckpt = meta.get('checkpoint')
    out = [f'<p class="meta">Split: {esc(meta.get("split", "test"))}; '
           f'predicted by the {esc(meta.get("predict_with") or "model")}; '
           f'checkpoint {esc(shown(ckpt) if ckpt else "?")}.</p>']
    if counts:
        out.append('<p class="meta">Images per head: ' + esc(', '.join(
            f'{d}/{t} {n}' for (d, t), n in counts.items())) + '.</p>')
    # The three tables side by side where the window is wide enough.
    out.append('<div class="row"><div><h3>Paper Table 4 layout</h3>'
               + table(header, rows, numeric=(1, 2, 3)) + '</div>')
    header, rows = markdown_table(per_class_table(metrics))
    out.append('<div><h3>Per class</h3>'
               + table(header, rows, numeric=(3, )) + '</div>')
    other = [k for k in metrics if len(k.split('/')) == 3
             and HEADLINE.get(k.split('/')[1]) != k.split('/')[2]]
    if other:
        out.append('<div><h3>Other metrics</h3>' + table(
            ('metric', 'value (%)'), [(k, _pct(metrics[k])) for k in other],
            numeric=(1, )) + '</div>')
    return ''.join(out) + '</div>'


def curves_section(images: Sequence[str], why_none: Optional[str]) -> str:
    if not images:
        return note(why_none or 'No curves.')
    out = ['<p class="meta">Per dataset, every head\'s validation metric '
           'after every validated pass (train_cfg.val_by): dark points '
           'after a pass that trained that '
           'task of that dataset, light ones after passes that trained '
           'another; dashed: the best focused value; dotted: the student.'
           '</p><div class="figs">']
    for path in images:
        with open(path, 'rb') as f:
            out.append(figure(data_uri(f.read(), 'image/png'),
                              esc(osp.basename(path)), 'wide'))
    return ''.join(out) + '</div>'


def teacher_student_section(work_dir: str) -> str:
    teacher = validation_series(work_dir)
    student = validation_series(work_dir, 'student/')
    if not teacher:
        return note('No validation metrics in the scalars (the run was not '
                    'validated, or its vis_data/scalars.json is missing).')
    if not student:
        return note('Validation evaluated one model only (no teacher, or '
                    'the student predicts): nothing to compare.')
    rows = []
    for (dataset, task), points in teacher.items():
        s_points = dict(student.get((dataset, task), []))
        last_p, last_t = points[-1]
        best_p, best_t = max(points, key=lambda x: x[1])
        last_s = s_points.get(last_p)
        best_s = max(s_points.items(), key=lambda x: x[1]) \
            if s_points else (None, None)
        rows.append((
            f'{dataset}/{task}', HEADLINE[task], last_p, _pct(last_t),
            _pct(last_s), '-' if last_s is None else
            f'{100 * (last_t - last_s):+.2f}', f'{_pct(best_t)} (pass '
            f'{best_p})', '-' if best_s[0] is None else
            f'{_pct(best_s[1])} (pass {best_s[0]})'))
    return ('<p class="meta">Validation split. The EMA teacher and the '
            'student are evaluated on the same batches, in every validation '
            'or (val_cfg.with_student=\'cycle\') in the last of each '
            'cycle; the last such pass and each one\'s best.'
            '</p>' + table(('head', 'metric', 'last pass', 'teacher (%)',
                            'student (%)', 'teacher - student',
                            'teacher best', 'student best'), rows,
                           numeric=(2, 3, 4, 5)))


def schedule_section(work_dir: str) -> str:
    try:
        passes = pass_records(work_dir)
    except FileNotFoundError as e:
        return note(str(e))
    ran = [p for p in passes if p.iterations is not None]
    total = sum(p.seconds or 0 for p in passes)
    wall = wall_clock(work_dir)
    cycles = len({p.cycle for p in passes})
    out = [f'<p class="meta">{len(passes)} passes in {cycles} cycle(s); '
           f'{len(ran)} ran. Training time of the passes: {total:.0f} s'
           + (f'; wall clock of the training run(s), validation and '
              f'checkpoints included: {wall:.0f} s' if wall else '')
           + '. Seconds of a pass = iterations x the mean time per '
           "iteration of its logged iterations (mmengine's IterTimerHook, "
           'data loading included). Passes are counted from 1, as '
           "mmengine's epochs: pass n's checkpoint is epoch_n.pth.</p>"]
    by_task: Dict[Tuple[str, str], List[float]] = {}
    for p in ran:
        if p.seconds is not None:
            by_task.setdefault((p.task, p.kind), []).append(p.seconds)
    if by_task:
        out.append('<h3>By task and kind</h3>' + table(
            ('task', 'kind', 'passes', 'seconds', 'seconds per pass'),
            [(t, k, len(v), f'{sum(v):.1f}', f'{sum(v) / len(v):.1f}')
             for (t, k), v in sorted(by_task.items())], numeric=(2, 3, 4)))
    rows = [(p.index + 1, p.cycle + 1, p.task, p.dataset,
             {'lock': 'lock (head only, half the data)',
              'release': 'release (all parts)',
              'full': 'full (all parts)'}.get(p.kind, p.kind),
             '-' if p.iterations is None else p.iterations,
             '-' if p.sec_per_iter is None else f'{p.sec_per_iter:.3f}',
             '-' if p.seconds is None else f'{p.seconds:.1f}')
            for p in passes]
    passes_table = table(
        ('pass', 'cycle', 'task', 'dataset', 'lock / release', 'iterations',
         's / iter', 'seconds'), rows, numeric=(0, 1, 5, 6, 7),
        row_class=lambda i: 'lock' if passes[i].kind == 'lock' else None)
    # A long run has hundreds of passes: folded, one click away.
    out.append('<h3>Pass by pass</h3>' + (
        f'<details><summary>{len(rows)} passes</summary>{passes_table}'
        '</details>' if len(rows) > 60 else passes_table))
    return ''.join(out)


LEGEND = dict(
    seg='<span style="background:#0072b2;color:#fff">predicted mask</span>'
        '<span style="background:#000;color:#fff">white outline: true mask'
        '</span>',
    loc='<span style="background:#009e73;color:#fff">true box found</span>'
        '<span style="background:#f0e442">true box missed</span>'
        '<span style="background:#0072b2;color:#fff">prediction that found '
        'one</span><span style="background:#d55e00;color:#fff">false '
        'prediction</span>',
    cls='')


def cases_section(cases: Dict[Tuple[str, str], List[HeldOutCase]],
                  metrics: Optional[dict], masks: dict,
                  why_none: Optional[str], mask_note: Optional[str]) -> str:
    if not cases:
        return note(why_none or 'No per-image results.')
    out = []
    if mask_note:
        out.append(note(mask_note))
    for (dataset, task), head_cases in cases.items():
        # The head's held-out metric beside its cases: the worst cases of
        # a head at chance read differently from those of a good one.
        value = (metrics or {}).get(f'{dataset}/{task}/{HEADLINE[task]}')
        score = '' if value is None else \
            f' (held-out {HEADLINE[task]} {_pct(value)}%)'
        out.append(f'<h3>{esc(dataset)}: {TASK_NAMES[task]}{score}</h3>')
        if LEGEND[task]:
            out.append(f'<p class="legend">{LEGEND[task]}</p>')
        out.append('<div class="figs">')
        for case in head_cases:
            try:
                gray = read_gray(case.img_path)
            except (ImageReadError, OSError) as e:  # moved or deleted
                out.append(f'<figure class="case {case.kind}"><figcaption>'
                           f'<b>{case.kind}</b> {esc(case.img_path)}: '
                           f'{esc(e)}</figcaption></figure>')
                continue
            pred, gt = masks.get((dataset, case.img_path), (None, None))
            img = draw_case(gray, case, pred, gt)
            caption = (f'<b>{case.kind}</b> {esc(osp.basename(case.img_path))}'
                       f'<br>{esc(case.caption)}')
            out.append(figure(data_uri(encode_jpeg(img), 'image/jpeg'),
                              caption, f'case {case.kind}',
                              alt=f'{case.kind} {dataset} {task} '
                              f'{osp.basename(case.img_path)}'))
        out.append('</div>')
    return ''.join(out)


def config_section(path: Optional[str], text: Optional[str]) -> str:
    if text is None:
        return note('No config found in the work dir.')
    return (f'<p class="meta">{esc(shown(path))}</p><details open><summary>'
            f'the config ({len(text.splitlines())} lines)</summary>'
            f'<pre>{esc(text)}</pre></details>')


# ------------------------------------------------------------ the page
def render_page(title: str, meta_lines: Sequence[str],
                sections: Sequence[Tuple[str, str, str]]) -> str:
    """The page: a title, a few lines about the run, and sections.

    Args:
        title (str): Page title.
        meta_lines (Sequence[str]): Plain-text lines under the title.
        sections (Sequence[tuple]): (anchor id, heading, HTML body).

    Returns:
        str: A complete HTML document with its CSS inline.
    """
    nav = ' '.join(f'<a href="#{sid}">{esc(head)}</a>'
                   for sid, head, _ in sections)
    body = ''.join(f'<section id="{sid}"><h2>{esc(head)}</h2>{content}'
                   '</section>' for sid, head, content in sections)
    meta = ''.join(f'<p class="meta">{esc(m)}</p>' for m in meta_lines)
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{esc(title)}</title><style>{STYLE}</style></head>'
            f'<body><main><h1>{esc(title)}</h1>{meta}<nav>{nav}</nav>'
            f'{body}</main></body></html>\n')


def write_run_report(work_dir: str, out: Optional[str] = None,
                     predictions: Optional[str] = None,
                     curve_images: Sequence[str] = (),
                     curves_note: Optional[str] = None, worst: int = 4,
                     typical: int = 2, score_thr: float = 0.3,
                     device: Optional[str] = None) -> str:
    """Write the report of the run in ``work_dir``.

    Args:
        work_dir (str): A work dir of ``tools/train.py`` (and
            ``tools/test.py``).
        out (str, optional): The page; default ``WORK_DIR/report.html``.
        predictions (str, optional): Per-image results of the test; default
            ``WORK_DIR/test_predictions.json`` (else ``val_predictions``).
        curve_images (Sequence[str]): The cross-task curves (PNG files).
        curves_note (str, optional): Why there are none, when there are
            none.
        worst (int): Worst cases drawn per head.
        typical (int): Typical cases drawn per head.
        score_thr (float): Boxes below this score are neither counted as
            false nor drawn.
        device (str, optional): Where the few segmentation masks are
            predicted again (default: the GPU when there is one).

    Returns:
        str: The page's path.
    """
    out = out or osp.join(work_dir, 'report.html')
    cfg_path, cfg_text = training_config(work_dir)
    ckpt = last_checkpoint(work_dir)
    test_cmd = ('python tools/test.py '
                f'{shown(cfg_path) if cfg_path else "CONFIG"} '
                f'{shown(ckpt) if ckpt else "CHECKPOINT"} '
                f'--work-dir {work_dir}')

    if predictions is None:
        predictions = next((p for p in (
            osp.join(work_dir, f'{s}_predictions.json')
            for s in ('test', 'val')) if osp.isfile(p)), None)
    per_image, why_none = None, None
    if predictions is not None:
        try:
            per_image = read_per_image_results(predictions)
        except (OSError, ValueError) as e:
            why_none = f'{e}'
    else:
        why_none = ('No per-image results (test_predictions.json): '
                    'tools/test.py writes them; run ' + test_cmd)
    meta = per_image['meta'] if per_image else {}
    split = meta.get('split', 'test')
    metrics_path = osp.join(work_dir, f'{split}_metrics.json')
    metrics = None
    if osp.isfile(metrics_path):
        with open(metrics_path) as f:
            metrics = json.load(f)

    cases, counts, masks, mask_note = {}, {}, {}, None
    if per_image:
        for r in per_image['results']:
            key = (r['dataset'], r['task'])
            counts[key] = counts.get(key, 0) + 1
        cases = held_out_cases(per_image['results'], meta['classes'], worst,
                               typical, score_thr)
        seg_images: Dict[str, List[str]] = {}
        for (dataset, task), head_cases in cases.items():
            if task == 'seg':
                seg_images[dataset] = [c.img_path for c in head_cases]
        if seg_images:
            masks, mask_note = _seg_masks(work_dir, meta, split, seg_images,
                                          device)

    title = f'Foundation X run: {osp.basename(osp.abspath(work_dir))}'
    meta_lines = [f'Work dir: {shown(work_dir)}',
                  f'Config: {shown(cfg_path) if cfg_path else "?"}; last '
                  f'checkpoint: {shown(ckpt) if ckpt else "none"}',
                  f'Report written {time.strftime("%Y-%m-%d %H:%M")}.']
    case_help = (f'Per head, the {worst} worst held-out images and '
                 f'{typical} typical ones (nearest the median). '
                 'Segmentation: lowest per-image Dice. Localization: most '
                 f'boxes missed plus false (score >= {score_thr}, IoU >= '
                 '0.40, as mAP40). Classification: most confident wrong '
                 'call.')
    sections = [
        ('results', 'Held-out results',
         results_section(metrics, meta, counts, test_cmd)),
        ('curves', 'Cross-task curves',
         curves_section(curve_images, curves_note)),
        ('teacher-student', 'Teacher vs student',
         teacher_student_section(work_dir)),
        ('cases', 'Worst and typical held-out cases',
         f'<p class="meta">{esc(case_help)}</p>' + cases_section(
             cases, metrics, masks, why_none, mask_note)),
        ('schedule', 'Schedule and timings', schedule_section(work_dir)),
        ('config', 'Config', config_section(cfg_path, cfg_text)),
    ]
    page = render_page(title, meta_lines, sections)
    with open(out, 'w', encoding='utf-8') as f:
        f.write(page)
    return out


def _seg_masks(work_dir: str, meta: dict, split: str,
               images: Dict[str, List[str]], device: Optional[str]):
    """The segmentation cases' masks, predicted again; or why not."""
    from mmengine.config import Config

    from fx_mm.apis.held_out_masks import predict_seg_masks
    ckpt = _find(work_dir, meta.get('checkpoint'))
    if ckpt is None:
        return {}, (f'The test\'s checkpoint {meta.get("checkpoint")} is '
                    'gone: the segmentation cases are drawn without their '
                    'masks.')
    try:
        cfg = Config.fromstring(meta['config'], '.py')
        masks = predict_seg_masks(cfg, ckpt, split, images,
                                  meta.get('predict_with'), device)
    except Exception as e:  # the page is still worth having without them
        return {}, (f'Predicting the segmentation cases again failed '
                    f'({type(e).__name__}: {e}); they are drawn without '
                    'their masks.')
    return masks, None

