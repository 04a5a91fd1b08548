"""README.md's examples, checked against the repository so they cannot go
stale (tests/test_readme_own_dataset.py runs the own-dataset section).

- Every repository path README names in code (``configs/...``,
  ``tools/...``, ``fx_mm/...``, ``data_prep/...``, ``docs/...``, ...)
  exists; the Layout section names real files and folders and misses no
  package, hook, tool, config folder or top-level entry of the repository.
- Every ``--cfg-options key=value`` shown applies to the config of its
  command (``CONFIG``: configs/fx_cls.py): the key is in that config (or is
  one the code reads when given) and mmengine merges it.
- Every checkpoint file README names under ``work_dirs/`` is one that the
  run writing that folder keeps (a ``--resume`` argument: one it saves);
  the rule used here is checked against a real run.
- The example log line is a real pass's: its scalars are the ones a run's
  line of that task and pass kind carries.
"""
import argparse
import glob
import inspect
import os
import os.path as osp
import re
import shlex
import subprocess
from typing import Dict, List, Optional, Set, Tuple

import pytest
from mmengine.config import Config
from mmengine.hooks import CheckpointHook

from fx_mm.datasets.data_check import config_reads
from fx_mm.engine.loops.cyclic_train_loop import (CyclicTrainLoop,
                                                  build_schedule)
from fx_mm.utils.runtime import add_runner_args, setup_runtime_cfg
from tests.conftest import (REPO, load_tool, repo_path, run_python,
                            tiny_train_config)
from tests.engine.test_pass_log_lines import PASS_LINE

PREFIXES = ('configs', 'tools', 'fx_mm', 'data_prep', 'docs', 'tests',
            'requirements')
PATH = re.compile(r'(?<![\w/.~-])((?:%s)/[\w.*/-]*)' % '|'.join(PREFIXES))
# The README's examples call the reader's own configs configs/my_<name>.py
# (they show what to write in them).
USERS_OWN = re.compile(r'configs/my_\w+\.py')
# The config a command's CONFIG placeholder stands for: the one the
# Training section starts with.
PLACEHOLDER_CONFIG = 'configs/fx_cls.py'
# --cfg-options keys a config may lack that the code reads when they are
# given (any other key must be in the config: a misspelt key would be added
# silently and change nothing).
ADDED_KEYS = [
    re.compile(r'sync_bn'),  # mmengine's Runner: cfg.sync_bn
    # an argument of torch's DistributedDataParallel (mmengine's wrapper)
    re.compile(r'model_wrapper_cfg\.find_unused_parameters'),
    re.compile(r'model\.backbone\.init_cfg\.\w+'),  # mmengine BaseModule
    # a dataset entry's per-split settings (fx_mm/datasets/dataset_table.py)
    re.compile(r'fx_datasets\.\d+\.(cls|loc|seg)\.(train|val|test)'
               r'(\.indices)?'),
]
TRAIN_TOOLS = ('tools/train.py', 'tools/dist_train.sh', 'tools/slurm_train.sh')


def readme() -> str:
    with open(repo_path('README.md')) as f:
        return f.read()


def section(title: str) -> str:
    text = readme()
    start = text.index(f'\n## {title}\n')
    end = text.find('\n## ', start + 1)
    return text[start:end if end > 0 else len(text)]


def code_blocks(text: str) -> List[str]:
    return re.findall(r'```[^\n]*\n(.*?)```', text, flags=re.S)


def inline_code(text: str) -> List[str]:
    prose = re.sub(r'```[^\n]*\n.*?```', '', text, flags=re.S)
    return [span.replace('\n', ' ') for span in re.findall(r'`([^`]+)`',
                                                            prose)]


def commands() -> List[List[str]]:
    """Every shell line of the README's bash blocks (continuations joined)
    and every inline span with --cfg-options, split as the shell would."""
    lines = []
    for block in re.findall(r'```bash\n(.*?)```', readme(), flags=re.S):
        lines += block.replace('\\\n', ' ').splitlines()
    lines += [s for s in inline_code(readme()) if '--cfg-options' in s]
    return [argv for argv in (shlex.split(line, comments=True)
                              for line in lines) if argv]


def config_and_options(argv: List[str]) -> Tuple[Optional[str], dict]:
    """(config, --cfg-options as tools/train.py parses them) of a command;
    config None for a command that is no train / test / dist / slurm run,
    PLACEHOLDER_CONFIG for ``CONFIG`` or a bare ``--cfg-options`` line."""
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    options = []
    if '--cfg-options' in argv:
        start = argv.index('--cfg-options')
        end = next((i for i in range(start + 1, len(argv))
                    if argv[i].startswith('--')), len(argv))
        # a bare `--cfg-options` in prose names the flag, not a setting
        options = argv[start:end] if end > start + 1 else []
    parsed = parser.parse_args(options).cfg_options or {}
    if argv[0] == '--cfg-options':
        return PLACEHOLDER_CONFIG, parsed
    tool = argv[1] if argv[0] in ('python', 'bash') and len(argv) > 1 else ''
    if not tool.startswith('tools/') or len(argv) < 3:
        return None, parsed
    # slurm scripts: PARTITION JOB CONFIG ...
    config = argv[4] if 'slurm' in tool else argv[2]
    if config == 'CONFIG':
        config = PLACEHOLDER_CONFIG
    return (config if config.endswith('.py') else None), parsed


def option_of(argv: List[str], flag: str) -> Optional[str]:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def users_config(tmp_path) -> str:
    """A clone-like folder holding the README's own-dataset config as
    configs/my_covid.py (as tests/test_readme_own_dataset.py makes it)."""
    clone = tmp_path / 'clone'
    if not clone.exists():
        (clone / 'configs').mkdir(parents=True)
        for sub in ('tiny', '_base_'):
            os.symlink(repo_path('configs', sub), clone / 'configs' / sub)
        block = re.findall(r'```python\n(.*?)```',
                           section('Adding your own dataset'), flags=re.S)[0]
        (clone / 'configs' / 'my_covid.py').write_text(
            re.sub(r'^ {3}', '', block, flags=re.M))
    return str(clone)


def load(config: str, tmp_path) -> Config:
    if config == 'configs/my_covid.py':
        return Config.fromfile(osp.join(users_config(tmp_path), config))
    return Config.fromfile(repo_path(config))


def missing_key(cfg, key: str) -> Optional[str]:
    """The first part of the dotted ``key`` that ``cfg`` does not hold."""
    node = cfg.to_dict()
    parts = key.split('.')
    for i, part in enumerate(parts):
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return '.'.join(parts[:i + 1])
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return '.'.join(parts[:i + 1])
    return None


# ------------------------------------------------------------- checkpoints
def hook_setting(cfg, name: str):
    """A CheckpointHook setting of the config, else mmengine's default."""
    default = inspect.signature(CheckpointHook).parameters[name].default
    return cfg.default_hooks.checkpoint.get(name, default)


def num_passes(cfg) -> int:
    """The passes of a run of the config: its cyclic loop's schedule."""
    loop = cfg.train_cfg
    lock_default = inspect.signature(
        CyclicTrainLoop).parameters['lock_tasks'].default
    steps = [(d, t) for d, t, _ in config_reads(cfg, ('train', ))]
    return len(build_schedule(steps, loop.get('lock_tasks', lock_default),
                              loop.max_cycles))


def checkpoints_of(cfg) -> Tuple[Set[str], Set[str]]:
    """(saved at some time, kept at the end) ``epoch_<k>.pth`` of a run of
    the config, by mmengine's CheckpointHook rules: after pass k when k is
    a multiple of ``interval`` (counted from ``save_begin``) or, with
    ``save_last``, the last; only the newest ``max_keep_ckpts`` stay."""
    passes = num_passes(cfg)
    interval = hook_setting(cfg, 'interval')
    begin = hook_setting(cfg, 'save_begin')
    saved = [k for k in range(1, passes + 1)
             if (interval > 0 and k - begin >= 0 and (k - begin) % interval
                 == 0) or (hook_setting(cfg, 'save_last') and k == passes)]
    keep = hook_setting(cfg, 'max_keep_ckpts')
    kept = saved[-keep:] if keep > 0 else saved
    return ({f'epoch_{k}.pth' for k in saved},
            {f'epoch_{k}.pth' for k in kept})


def demo_tool():
    return load_tool('tools', 'demo.py')


def writer_of(work_dir: str, tmp_path) -> Config:
    """The config (with its options and work dir applied, as tools/train.py
    applies them) of the README run that writes ``work_dir``."""
    for argv in commands():
        config, options = config_and_options(argv)
        if config and len(argv) > 1 and argv[1] in TRAIN_TOOLS and \
                option_of(argv, '--work-dir') == work_dir:
            cfg = load(config, tmp_path)
            cfg.merge_from_dict(options)
            return cfg
    demo = demo_tool()
    if work_dir == osp.join('work_dirs', 'demo'):
        assert "default=osp.join('work_dirs', 'demo')" in inspect.getsource(
            demo), 'tools/demo.py no longer writes work_dirs/demo'
        return Config.fromfile(repo_path(demo.CONFIG))
    # tools/train.py's default work dir: work_dirs/<config name>
    name = osp.basename(work_dir)
    matches = glob.glob(repo_path('configs', '**', f'{name}.py'),
                        recursive=True)
    assert len(matches) == 1, f'no README run or config writes {work_dir}'
    cfg = Config.fromfile(matches[0])
    setup_runtime_cfg(cfg, matches[0])
    assert osp.normpath(cfg.work_dir) == work_dir
    return cfg


# ------------------------------------------------------------------- tests
def named_paths() -> Set[str]:
    text = readme()
    return {m.rstrip('.,:;') for span in code_blocks(text) + inline_code(text)
            for m in PATH.findall(span)}


def test_every_path_readme_names_exists():
    paths = named_paths()
    assert {'tools/train.py', 'configs/fx_cls.py', 'data_prep/README.md'} <= paths
    missing = [p for p in sorted(paths)
               if not USERS_OWN.fullmatch(p) and not glob.glob(repo_path(p))]
    assert not missing, f'README names paths that do not exist: {missing}'


def layout_rows() -> Dict[str, str]:
    """The Layout block, as {top-level entry: the text of its rows}."""
    block = code_blocks(section('Layout'))[0]
    rows: Dict[str, str] = {}
    top = None
    for line in block.splitlines():
        if line and not line[0].isspace():
            top = re.split(r'\s{2,}', line)[0]
            rows[top] = line[len(top):]
        else:
            rows[top] += ' ' + line
    return rows


def names_in(text: str) -> Set[str]:
    return set(re.findall(r'[\w*.-]+', text))


def test_layout_names_real_files_and_folders():
    """Every path-like name of a Layout row (a file name, ``folder/``,
    ``a/b``) is under the row's folder, at any depth, or under the
    repository's root."""
    rows = layout_rows()
    assert {'fx_mm/', 'configs/', 'tools/', 'data_prep/', 'tests/',
            'docs/'} <= set(rows)
    token = re.compile(r'(?<![\w/.*-])([\w.*-]+(?:/[\w.*-]+)*/?)')
    for top, text in rows.items():
        roots = [repo_path(p.strip()) for p in top.split(',') if p.strip()]
        for root in roots:
            assert osp.exists(root), top
        folders = [r for r in roots if osp.isdir(r)]
        for name in token.findall(text):
            if '/' not in name and not re.search(r'\.(py|sh|md|json)$',
                                                 name):
                continue  # a word
            found = glob.glob(repo_path(name)) or [
                f for r in folders
                for f in glob.glob(osp.join(r, '**', name), recursive=True)]
            assert found, f'Layout row {top!r} names {name!r}: not found'


def tracked(prefix: str = '') -> List[str]:
    proc = subprocess.run(['git', 'ls-files'] + ([prefix] if prefix else []),
                          cwd=REPO, text=True, capture_output=True)
    if proc.returncode != 0:
        pytest.skip('not a git checkout: the Layout is compared with '
                    '`git ls-files`')
    return proc.stdout.split()


def test_layout_misses_no_part_of_the_repository():
    rows = layout_rows()
    layout = ' '.join(f'{k} {v}' for k, v in rows.items())
    names = names_in(layout)
    # Top-level entries (README.md and .gitignore are not described).
    for entry in {p.split('/')[0] for p in tracked()} - {'README.md',
                                                         '.gitignore'}:
        assert entry in names or f'{entry}/' in layout, entry
    # Every package of fx_mm (fx_mm/engine/hooks/: 'hooks' in the row of
    # fx_mm/) and every module directly in fx_mm/.
    fx_mm = rows['fx_mm/']
    for path in tracked('fx_mm'):
        parts = path.split('/')
        if len(parts) == 2 and parts[1] != '__init__.py':
            assert parts[1] in names_in(fx_mm), path
        if parts[-1] == '__init__.py' and len(parts) > 2:
            assert parts[-2] in names_in(fx_mm), '/'.join(parts[:-1]) + '/'
    # Every hook, by class name.
    from fx_mm.engine import hooks
    for name in hooks.__all__:
        if name.endswith('Hook'):
            assert name in names_in(fx_mm), name
    # Every tool (dist_*.sh and slurm_*.sh by pattern) and analysis script.
    tools = names_in(rows['tools/'])
    for path in tracked('tools'):
        name = osp.basename(path)
        stem = osp.splitext(name)[0]
        assert name in tools or stem in tools or any(
            '*' in t and re.fullmatch(t.replace('*', r'\w+'), name)
            for t in tools), path
    # Every folder of configs/ and every entry of docs/.
    for top, depth in (('configs/', 2), ('docs/', 2)):
        entries = {p.split('/')[1] for p in tracked(top.rstrip('/'))
                   if len(p.split('/')) >= depth + (top == 'configs/')}
        for entry in entries:
            assert entry in names_in(rows[top]) or f'{entry}/' in rows[top], \
                top + entry


def test_every_cfg_option_applies_to_its_config(tmp_path):
    checked = []
    for argv in commands():
        config, options = config_and_options(argv)
        if config is None or not options:
            continue
        cfg = load(config, tmp_path)
        for key in options:
            missing = missing_key(cfg, key)
            assert missing is None or any(p.fullmatch(key)
                                          for p in ADDED_KEYS), \
                f'{" ".join(argv)}: {config} has no {missing}'
            checked.append(key)
        cfg.merge_from_dict(options)
    for key in ('train_cfg.max_cycles', 'custom_hooks.0.checkpoint',
                'fx_datasets.0.seg.train.indices', 'train_cfg.lock_tasks',
                'visualizer.tensorboard', 'model.consistency.places'):
        assert key in checked, key


def test_every_checkpoint_readme_names_is_written(tmp_path):
    text = readme()
    shown = set()
    for span in code_blocks(text) + inline_code(text):
        shown |= set(re.findall(r'(work_dirs/[\w.-]+)/(epoch_\d+\.pth)',
                                span))
    resumed = {tuple(arg.rsplit('/', 1)) for argv in commands()
               for arg in [option_of(argv, '--resume')] if arg}
    assert shown, 'README names no checkpoint of a run'
    for work_dir, name in sorted(shown):
        saved, kept = checkpoints_of(writer_of(work_dir, tmp_path))
        if (work_dir, name) in resumed:
            assert name in saved, (work_dir, name, sorted(saved))
        else:
            assert name in kept, (work_dir, name, sorted(kept))


def test_the_checkpoint_rule_is_mmengines(covid_lungs, tmp_path):
    """checkpoints_of() against a real run: 5 passes, interval 2, two kept
    (saved after passes 2, 4 and the last, 5; 4 and 5 stay)."""
    config = tiny_train_config(
        str(tmp_path / 'cfg.py'), covid_lungs, n_train=2, n_eval=2,
        checkpoint=dict(interval=2, max_keep_ckpts=2), extra='''
train_cfg = dict(max_cycles=5, steps=[('CovidLungs', 'cls')], val_interval=100)
model = dict(teacher=False)
''')
    saved, kept = checkpoints_of(Config.fromfile(config))
    assert saved == {'epoch_2.pth', 'epoch_4.pth', 'epoch_5.pth'}
    work_dir = str(tmp_path / 'work')
    run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                work_dir])
    assert {osp.basename(p) for p in glob.glob(
        osp.join(work_dir, 'epoch_*.pth'))} == kept == {'epoch_4.pth',
                                                        'epoch_5.pth'}


def test_the_example_log_line_is_a_real_passs(trained_tiny):
    example = [s for s in inline_code(section('Training'))
               if PASS_LINE.search(s)]
    assert len(example) == 1, 'Training shows one example log line'
    match = PASS_LINE.search(example[0])
    task, kind = match.group(2), match.group(3)
    shown = set(re.findall(r'([\w.]+): ', example[0][match.end():]))
    assert f'{task}.loss_cls' in shown or any(
        k.startswith(f'{task}.') for k in shown)
    log = open(glob.glob(osp.join(trained_tiny[0], '*', '*.log'))[0]).read()
    logged = set()
    for line in log.splitlines():
        real = PASS_LINE.search(line)
        if real and real.group(2, 3) == (task, kind):
            logged |= set(re.findall(r'([\w.]+): ', line[real.end():]))
    assert logged, f'the run logs no {task} {kind} pass'
    assert shown <= logged, sorted(shown - logged)
