"""mmengine's RuntimeInfoHook, also marking where each pass starts."""
from typing import Set

from mmengine.hooks import RuntimeInfoHook
from mmengine.logging import MessageHub
from mmengine.registry import HOOKS

# Runtime-info key of the scalars' histories as they stood when the current
# pass (mmengine epoch) started.
PASS_START_KEY = 'fx_pass_start_scalars'


@HOOKS.register_module()
class FXRuntimeInfoHook(RuntimeInfoHook):
    """mmengine's RuntimeInfoHook; also records where each pass starts.

    mmengine's MessageHub keeps every scalar it was ever given, so after a
    localization pass its losses stay in the hub through the classification
    pass that follows, and a log line would show their stale values. Before
    every pass (mmengine epoch) this hook records each scalar's history as
    it stands; :func:`scalars_not_updated` then names the scalars the pass
    has not updated (which :class:`FXLogProcessor` leaves out of training
    log lines). The record is runtime information that is not resumed (not
    written into checkpoints): a resumed run makes its own at the first pass
    it runs, and the histories restored from the checkpoint count as not
    updated until the pass updates them.

    Used as ``default_hooks.runtime_info`` (``configs/_base_/fx_runtime.py``).
    """

    def before_train_epoch(self, runner) -> None:
        super().before_train_epoch(runner)
        hub = runner.message_hub
        # The history arrays themselves, not their lengths: a full history
        # (mmengine's max_length) keeps its length when it is updated.
        hub.update_info(PASS_START_KEY,
                        {key: buffer.data[0]
                         for key, buffer in hub.log_scalars.items()},
                        resumed=False)

    def after_train(self, runner) -> None:
        super().after_train(runner)
        runner.message_hub.pop_info(PASS_START_KEY)


def scalars_not_updated(message_hub: MessageHub) -> Set[str]:
    """The message hub's scalars not updated since the current pass started.

    Args:
        message_hub (MessageHub): The runner's message hub.

    Returns:
        set[str]: Full keys (e.g. ``'train/loc.loss_cls'``); empty when no
        pass start was recorded (no :class:`FXRuntimeInfoHook`, or outside
        training).
    """
    start = message_hub.get_info(PASS_START_KEY)
    if not start:
        return set()
    # HistoryBuffer.update assigns a new array (np.append copies), so the
    # same array object means no update since the pass started.
    return {key for key, buffer in message_hub.log_scalars.items()
            if start.get(key) is buffer.data[0]}
