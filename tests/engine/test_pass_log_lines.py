"""Training log lines show the current pass's scalars only; the scalar
files keep every task's history."""
import glob
import json
import os.path as osp
import re
from types import SimpleNamespace

from mmengine.logging import HistoryBuffer, MessageHub

from fx_mm.engine import FXLogProcessor, FXRuntimeInfoHook
from fx_mm.engine.hooks import scalars_not_updated

# Keys that belong to one task's passes (prefixes and consistency places).
TASK_KEYS = dict(cls=('cls.', ), loc=('loc.', 'loss_cons_loc_encoder'),
                 seg=('seg.', 'loss_cons_seg_decoder'))
PASS_LINE = re.compile(r'cycle \d+/\d+ step \d+/\d+ (\S+)/(cls|loc|seg) '
                       r'(lock|release|full) \| Epoch\(train\)')


def hub_and_runner(name):
    hub = MessageHub.get_instance(name)
    return hub, SimpleNamespace(message_hub=hub, epoch=0)


def test_scalars_not_updated_since_the_pass_started():
    hub, runner = hub_and_runner('test_scalars_not_updated')
    hook = FXRuntimeInfoHook()
    assert scalars_not_updated(hub) == set()  # no pass recorded: all shown
    hub.update_scalar('train/loc.loss_cls', 1.0)
    hub.update_scalar('train/loss_cons_backbone', 1.0)
    # A history at mmengine's max_length keeps its length when updated.
    hub._log_scalars['train/time'] = HistoryBuffer([1., 2.], [1, 1],
                                                  max_length=2)
    hook.before_train_epoch(runner)
    hub.update_scalar('train/cls.loss_cls', 0.5)
    hub.update_scalar('train/loss_cons_backbone', 0.5)
    hub.update_scalar('train/time', 3.0)
    assert scalars_not_updated(hub) == {'train/loc.loss_cls'}
    # The next pass starts afresh.
    hook.before_train_epoch(runner)
    hub.update_scalar('train/loc.loss_cls', 0.7)
    assert scalars_not_updated(hub) == {
        'train/cls.loss_cls', 'train/loss_cons_backbone', 'train/time'}
    # The record is not written into checkpoints.
    assert 'fx_pass_start_scalars' not in hub.state_dict()['runtime_info']


def test_log_processor_leaves_out_scalars_of_earlier_passes():
    hub, runner = hub_and_runner('test_log_processor_pass_scalars')
    hub.update_scalar('train/loc.loss_cls', 1.0)
    hub.update_scalar('train/lr', 1e-4)
    FXRuntimeInfoHook().before_train_epoch(runner)
    hub.update_scalar('train/cls.loss_cls', 0.5)
    hub.update_scalar('train/lr', 1e-4)
    hub.update_scalar('val/CovidLungs/loc/mAP40', 0.5)
    processor = FXLogProcessor(custom_cfg=[dict(
        data_src='loc.loss_cls', log_name='loc_global', method_name='mean',
        window_size=10)])
    custom = processor.custom_cfg
    assert set(processor._collect_scalars(custom, runner, 'train')) == {
        'cls.loss_cls', 'lr'}
    assert set(processor._collect_scalars(custom, runner, 'train', True)) \
        == {'train/cls.loss_cls', 'train/lr'}
    # Validation scalars are mmengine's as they are.
    assert set(processor._collect_scalars(custom, runner, 'val')) == {
        'CovidLungs/loc/mAP40'}


def test_log_lines_of_a_pass_show_only_its_task(trained_tiny):
    work_dir, _, output = trained_tiny
    log = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    seen = set()
    for line in log.splitlines():
        match = PASS_LINE.search(line)
        if not match:
            continue
        task, kind = match.group(2), match.group(3)
        seen.add((task, kind))
        scalars = line[match.end():]
        assert f' {task}.' in scalars and 'backbone_lr' in scalars, line
        for other, keys in TASK_KEYS.items():
            if other != task:
                for key in keys:
                    assert key not in scalars, (key, line)
        # A lock pass freezes the compared features: no consistency term,
        # not even the previous pass's.
        if kind == 'lock':
            assert 'loss_cons_' not in scalars, line
        else:
            assert 'loss_cons_backbone' in scalars, line
            if task != 'cls':
                assert TASK_KEYS[task][1] in scalars, line
    assert seen == {('cls', 'full'), ('loc', 'lock'), ('loc', 'release'),
                    ('seg', 'lock'), ('seg', 'release')}


def test_scalar_file_keeps_every_task_at_its_own_passes(trained_tiny):
    work_dir = trained_tiny[0]
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                 'scalars.json'))[0]) as f:
        records = [json.loads(line) for line in f]
    with open(osp.join(work_dir, 'schedule.json')) as f:
        schedule = json.load(f)
    train = [r for r in records if 'loss' in r]
    seen = set()
    for record in train:
        # mmengine's 'epoch' of a training record is the pass index + 1.
        task = schedule[record['epoch'] - 1]['task']
        seen.add(task)
        assert any(k.startswith(TASK_KEYS[task]) for k in record), record
        for other, keys in TASK_KEYS.items():
            if other != task:
                assert not any(k.startswith(keys) for k in record), record
    assert seen == {'cls', 'loc', 'seg'}
    # Every task's history is there.
    keys = set().union(*train)
    assert {'cls.loss_cls', 'loc.loss_cls', 'seg.loss_dice',
            'loss_cons_backbone', 'loss_cons_loc_encoder',
            'loss_cons_seg_decoder'} <= keys
