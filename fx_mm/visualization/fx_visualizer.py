"""mmengine's Visualizer with a TensorBoard switch."""
from mmengine.registry import VISUALIZERS
from mmengine.visualization import (BaseVisBackend, TensorboardVisBackend,
                                    Visualizer)

TENSORBOARD_BACKEND = 'TensorboardVisBackend'


def require_tensorboard() -> None:
    """Raise a clear ImportError when TensorBoard cannot be written.

    mmengine's TensorboardVisBackend imports ``torch.utils.tensorboard``
    (which needs the ``tensorboard`` package) only when it first writes,
    i.e. after the model and datasets are built; this checks up front.
    """
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError as e:
        raise ImportError(
            'visualizer.tensorboard=True needs the `tensorboard` package, '
            f'which is not installed here ({e}): run `pip install '
            'tensorboard` in this environment, or leave the switch off.'
        ) from e


@VISUALIZERS.register_module()
class FXVisualizer(Visualizer):
    """mmengine's Visualizer; ``tensorboard=True`` adds TensorBoard output.

    The switch (``--cfg-options visualizer.tensorboard=True``) adds
    mmengine's ``TensorboardVisBackend`` to the configured backends, so the
    run's scalars are also written as TensorBoard events beside
    ``scalars.json`` (``<work_dir>/<timestamp>/vis_data/``), under the names
    of the log lines (``cls.loss_cls``, ``loss_cons_backbone``,
    ``backbone_lr``, ``CovidLungs/loc/mAP40``, ...). It needs the
    ``tensorboard`` package; without it the runner fails when it builds the
    visualizer, before any training, saying so.

    Args:
        name (str): Instance name, as mmengine's Visualizer.
        vis_backends (list, optional): Backends, as mmengine's Visualizer.
        tensorboard (bool): Also write TensorBoard events.
        **kwargs: As mmengine's Visualizer (save_dir, ...).
    """

    def __init__(self, name: str = 'visualizer', vis_backends=None,
                 tensorboard: bool = False, **kwargs) -> None:
        if tensorboard:
            require_tensorboard()
            if isinstance(vis_backends, (dict, BaseVisBackend)):
                vis_backends = [vis_backends]
            vis_backends = list(vis_backends or [])
            # One TensorBoard writer, whether or not the list has one.
            if not any(isinstance(b, TensorboardVisBackend) or (
                    isinstance(b, dict)
                    and b.get('type') in (TENSORBOARD_BACKEND,
                                          TensorboardVisBackend))
                       for b in vis_backends):
                vis_backends.append(dict(type=TENSORBOARD_BACKEND))
        super().__init__(name=name, vis_backends=vis_backends, **kwargs)
