"""The report of a run: one HTML page to open in a browser.

    python tools/analysis/report.py WORK_DIR [--out FILE] [--predictions FILE]
                                    [--worst K] [--typical K]
                                    [--score-thr T] [--device DEV]

Writes ``WORK_DIR/report.html``, self-contained (images embedded, no
network): the held-out results (Table 4 layout and per class), the
cross-task curves, teacher vs student, each head's worst held-out cases
drawn beside typical ones, the schedule with its timings, and the config.

For the held-out parts, run ``tools/test.py`` with the same work dir first:
it writes ``test_metrics.json`` and every image's predictions
(``test_predictions.json``, or where its ``--out`` said: pass that file as
``--predictions``). The segmentation cases shown are predicted again with
the test's checkpoint (a few images; the GPU when there is one). Missing
records leave a note on the page saying how to make them.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import plot_curves  # noqa: E402  (tools/analysis/plot_curves.py)

import fx_mm  # noqa: E402,F401
from fx_mm.visualization.html_report import write_run_report  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', help='default: WORK_DIR/report.html')
    parser.add_argument('--predictions',
                        help='per-image results of tools/test.py (default: '
                        'WORK_DIR/test_predictions.json)')
    parser.add_argument('--worst', type=int, default=4,
                        help='worst cases drawn per head')
    parser.add_argument('--typical', type=int, default=2,
                        help='typical cases drawn per head')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='boxes below this score are not counted')
    parser.add_argument('--device', help='where the segmentation cases are '
                        'predicted again (default: cuda if available)')
    args = parser.parse_args(argv)
    if not osp.isdir(args.work_dir):
        parser.error(f'{args.work_dir}: no such work dir')
    images, why = [], None
    try:
        images = plot_curves.plot(args.work_dir,
                                  osp.join(args.work_dir, 'curves'))
    except (FileNotFoundError, ValueError) as e:
        why = str(e)
    path = write_run_report(
        args.work_dir, args.out, args.predictions, images, why, args.worst,
        args.typical, args.score_thr, args.device)
    print(f'report: {osp.abspath(path)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
