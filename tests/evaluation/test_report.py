"""The Table-4 and per-class Markdown tables and the files they go to."""
import json
import os

from fx_mm.evaluation import per_class_table, write_report

NAN = float('nan')
# As the MultiTask loops report them: means, per-class values, others.
METRICS = {
    'CheXpert/cls/AUC': 0.8, 'CheXpert/cls/AUC/Edema': 0.9,
    'CheXpert/cls/AUC/Pleural Effusion': 0.7,
    'CheXpert/cls/AUC/Fracture': NAN,
    'VinDr/loc/mAP40': 0.25, 'VinDr/loc/mAP50': 0.2, 'VinDr/loc/mAP': 0.1,
    'VinDr/loc/mAP40/Nodule/Mass': 0.5, 'VinDr/loc/mAP40/Aortic enl.': 0.0,
    'VinDr/seg/Dice': 0.875, 'VinDr/seg/Dice/Heart': 0.875,
    'VinDr/seg/globalDice': 0.9, 'VinDr/seg/globalDice/Heart': 0.9,
    'VinDr/cls/AUC': 0.6, 'VinDr/cls/AUC/Lesion': 0.6,
}


def test_per_class_table_lists_each_class_of_each_task():
    lines = per_class_table(METRICS).splitlines()
    assert lines[:2] == ['| dataset | metric | class | value (%) |',
                         '|---|---|---|---:|']
    assert lines[2:] == [
        '| CheXpert | AUC | Edema | 90.00 |',
        '| CheXpert | AUC | Pleural Effusion | 70.00 |',
        '| CheXpert | AUC | Fracture | undefined |',
        # Tasks in cls, loc, seg order whatever the metrics' order.
        '| VinDr | AUC | Lesion | 60.00 |',
        # A class name with '/' stays whole.
        '| VinDr | AP40 | Nodule/Mass | 50.00 |',
        '| VinDr | AP40 | Aortic enl. | 0.00 |',
        # Per-image Dice, not the pooled globalDice.
        '| VinDr | Dice | Heart | 87.50 |',
    ]


def test_write_report_puts_the_per_class_table_beside_table_4(tmp_path):
    paths = write_report(METRICS, str(tmp_path), name='test')
    assert sorted(os.listdir(tmp_path)) == [
        'test_metrics.json', 'test_table.md', 'test_table_per_class.md']
    assert paths['per_class'] == str(tmp_path / 'test_table_per_class.md')
    with open(paths['per_class']) as f:
        assert f.read() == per_class_table(METRICS)
    with open(paths['json']) as f:
        assert json.load(f)['CheXpert/cls/AUC/Fracture'] is None
