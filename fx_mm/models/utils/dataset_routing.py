"""Route a toolbox module's single-dataset attributes to one of many datasets."""
from typing import Dict, Iterable, List, Sequence, Union

from mmengine.model import ModuleDict
from torch import nn


def dataset_of(batch_data_samples: Sequence, task: str = None) -> str:
    """Return the one dataset name that every sample of a batch carries.

    Foundation X routes a batch to the decoder or head of the dataset named in
    each sample's metainfo (``dataset``, written by the ``AnnotateDataset``
    transform). A batch must come from one dataset and one task: the cyclic
    loop feeds one (dataset, task) step at a time.

    Args:
        batch_data_samples (Sequence[BaseDataElement]): The samples of a batch.
        task (str, optional): If given, every sample's ``task`` metainfo must
            equal it.

    Returns:
        str: The dataset name.

    Raises:
        ValueError: If the batch is empty, a sample names no dataset, or the
            batch mixes datasets or tasks.
    """
    if not batch_data_samples:
        raise ValueError('Foundation X got an empty batch: no data samples, '
                         'hence no dataset to route to.')
    names = [s.metainfo.get('dataset') for s in batch_data_samples]
    if any(n is None for n in names):
        raise ValueError(
            "A data sample has no 'dataset' in its metainfo; add "
            "dict(type='AnnotateDataset', dataset=..., task=...) after the "
            "Pack transform of the pipeline (sample metainfo keys: "
            f'{sorted(batch_data_samples[0].metainfo.keys())}).')
    if len(set(names)) > 1:
        raise ValueError(
            f'A batch mixes datasets {sorted(set(names))}; Foundation X '
            'trains and predicts one dataset per batch.')
    if task is not None:
        tasks = {s.metainfo.get('task', task) for s in batch_data_samples}
        if tasks != {task}:
            raise ValueError(
                f'A batch of dataset {names[0]!r} mixes tasks or has the wrong '
                f'task: got {sorted(map(str, tasks))}, expected {task!r}.')
    return names[0]


class DatasetRoutingMixin:
    """Let a toolbox module whose code reads ``self.<part>`` serve many datasets.

    mmdet's DINO reads ``self.decoder``, ``self.bbox_head`` ... and mmseg's
    decode heads read ``self.conv_seg``: each assumes one dataset. A subclass
    keeps one set of those parts per dataset in ``self.per_dataset`` (an
    ``nn.ModuleDict`` keyed by dataset name, so the state_dict reads like the
    dataset table) and :meth:`route` exposes the chosen dataset's parts under
    the attribute names the parent class reads. The exposure is a plain
    instance attribute, not a registered submodule: parameters are registered
    once, under ``per_dataset.<name>``, and the parent's methods run unchanged.

    Subclasses set ``routed_parts`` to the attribute names that are per dataset.
    """

    routed_parts: tuple = ()
    per_dataset: ModuleDict

    @property
    def dataset_names(self) -> List[str]:
        """list[str]: The datasets this module serves, in declaration order."""
        return list(self.per_dataset.keys())

    @property
    def active_dataset(self) -> str:
        """str: The dataset whose parts are currently routed."""
        return self.__dict__['_active_dataset']

    def route(self, dataset: str) -> None:
        """Expose the parts of ``dataset`` under the parent's attribute names.

        Args:
            dataset (str): A dataset name declared in the config.

        Raises:
            KeyError: If the dataset is not one this module was built for.
        """
        if dataset not in self.per_dataset:
            raise KeyError(
                f'{type(self).__name__} has no part for dataset {dataset!r}; '
                f'known datasets: {self.dataset_names}.')
        parts = self.per_dataset[dataset]
        for name in self.routed_parts:
            # Bypass nn.Module.__setattr__ so the part is not registered a
            # second time under the generic name.
            self.__dict__[name] = parts[name]
        self.__dict__['_active_dataset'] = dataset

    def _take_over_parts(self, first_dataset: str,
                         parts_of: Dict[str, Dict[str, nn.Module]]) -> None:
        """Move the parent-built parts into ``per_dataset`` and route.

        Args:
            first_dataset (str): The dataset the parent's own parts (built by
                the toolbox's ``__init__``) are handed to.
            parts_of (dict): For every other dataset, its parts by name.
        """
        own = {name: self._modules.pop(name) for name in self.routed_parts}
        # mmengine's ModuleDict, so that BaseModule.init_weights reaches the
        # parts' own init_weights (e.g. the DINO head's class-bias prior).
        per_dataset = {first_dataset: ModuleDict(own)}
        per_dataset.update(
            {name: ModuleDict(parts) for name, parts in parts_of.items()})
        self.per_dataset = ModuleDict(per_dataset)
        self.route(first_dataset)


def num_classes_of(spec: Union[int, Sequence[str]]) -> int:
    """A dataset's class count, from a count or a list of class names."""
    return spec if isinstance(spec, int) else len(spec)


def check_dataset_names(names: Iterable[str], what: str) -> List[str]:
    """Validate a declared list of dataset names (non-empty, unique, no dots).

    Dots would break state_dict keys, since names become module keys.
    """
    names = list(names)
    if not names:
        raise ValueError(f'{what}: no datasets declared.')
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'{what}: dataset names declared twice: {dup}.')
    bad = [n for n in names if not isinstance(n, str) or '.' in n or not n]
    if bad:
        raise ValueError(f'{what}: dataset names must be non-empty strings '
                         f'without dots; got {bad}.')
    return names
