"""Data-parallel training that all-reduces only the gradients a step made."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
from mmengine.dist import (all_gather_object, all_reduce, all_reduce_params,
                           broadcast, get_rank, get_world_size)
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS
from torch import Tensor, nn
from torch._utils import (_flatten_dense_tensors, _take_tensors,
                          _unflatten_dense_tensors)


@MODEL_WRAPPERS.register_module()
class PassDistributedDataParallel(nn.Module):
    """Data parallelism for Foundation X's passes: each step all-reduces the
    gradients of what it trained, not the whole model.

    A Foundation X pass trains one (dataset, task): a lock pass one head, a
    classification pass the backbone and one head. torch's DDP reduces every
    bucket of the parameters it was built with in every step -- with
    ``find_unused_parameters=True`` the parameters a step did not reach (other
    heads, other branches, parts the lock froze) are all-reduced as zeros --
    so every step moves about the whole student. This wrapper runs forward
    and backward without DDP; when backward ends it all-reduces (mean over
    ranks, in buckets of ``bucket_cap_mb``) the gradients of the parameters
    that require a gradient now and that the step reached on at least one
    rank:

    - a parameter reached on some ranks only gets a zero gradient on the
      others before the reduction (the mean then counts every rank), as DDP
      does;
    - a parameter reached on no rank keeps no gradient (None) on every rank,
      so the optimizer skips it everywhere (no AdamW weight decay or moment
      update), as DDP leaves a globally unused parameter's gradient alone;
    - which parameters were reached is agreed on first, with one all-reduce
      of one byte per trainable parameter tensor.

    Whatever freezes parameters between passes (:class:`LockReleaseHook`)
    decides what is synchronised: nothing is cached per pass. The gradients
    are reduced when backward has finished (as an autograd callback, the way
    DDP finishes its reduction), inside ``optim_wrapper.update_params``, so
    the optimizer wrapper's loss check, AMP loss scaling, unscaling and
    clipping see the reduced gradients on every rank; during gradient
    accumulation (mmengine's ``no_sync`` through ``optim_context``) the
    reduction waits for the step that updates. The communication is not
    overlapped with backward (DDP overlaps bucket by bucket); the volume is
    what the step trained.

    Like DDP, it broadcasts rank 0's parameters and buffers when it is built.
    With ``broadcast_buffers`` it broadcasts rank 0's buffers (the UPerNet
    BatchNorm running statistics) at the end of every training step, so that
    outside a step every rank holds rank 0's: what the EMA teacher averages
    at a pass end, what evaluation uses, what the checkpoint (saved by rank
    0) holds and a resume gives every rank. Training computes as under DDP,
    which broadcasts before each forward instead (a train-mode BatchNorm
    normalises with its batch's statistics, an eval-mode one -- frozen by
    the lock -- does not move them); there each rank ends a step with its
    own batch's update, so the teacher's statistics drift apart between
    ranks and a resumed multi-process run is not exact. Parameters and
    buffers named in the module's ``_ddp_params_and_buffers_to_ignore`` (the
    EMA teacher, which is never trained by gradient and is updated
    identically on every rank) are neither broadcast nor reduced.

    Why not one DDP per kind of pass over its trainable parameters: each DDP
    instance keeps its own gradient buckets (a copy of the gradients it
    covers) and its own autograd hooks on shared parameters, a run has tens
    of (dataset, task, lock/release) kinds, most of them with the backbone,
    and a release pass still reaches one head of many.

    Args:
        module (nn.Module): The model (an mmengine ``BaseModel``), on this
            rank's device.
        broadcast_buffers (bool): Broadcast rank 0's buffers after each
            training step (DDP's option of that name; DDP does it before the
            forward). Defaults to True.
        bucket_cap_mb (float): Size of the flattened gradient chunks
            all-reduced at once. Defaults to 25 (DDP's default).
        device_ids (Sequence[int], optional): Accepted for configs written
            for DDP (``fx_mm.utils.runtime`` sets None without CUDA); when
            given, the one device the module must already be on.
    """

    def __init__(self,
                 module: nn.Module,
                 broadcast_buffers: bool = True,
                 bucket_cap_mb: float = 25,
                 device_ids: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if bucket_cap_mb <= 0:
            raise ValueError(f'PassDistributedDataParallel: bucket_cap_mb '
                             f'must be positive, got {bucket_cap_mb}.')
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = bucket_cap_mb
        self._check_device(device_ids)
        self._ignored = frozenset(
            getattr(module, '_ddp_params_and_buffers_to_ignore', ()))
        # Parameter objects stay the same through training (buffers may be
        # reassigned, so they are looked up at every broadcast).
        self._synced_params: List[nn.Parameter] = [
            p for name, p in module.named_parameters()
            if name not in self._ignored]
        self._grad_sync_enabled = True
        self._check_same_model_on_every_rank()
        # Every rank starts from rank 0's weights, as with DDP.
        _broadcast_coalesced(
            [p.data for p in self._synced_params] + self._synced_buffers(),
            self.bucket_cap_mb)

    def _check_device(self, device_ids: Optional[Sequence[int]]) -> None:
        """With ``device_ids``: one device, the one the module is on."""
        if device_ids is None:
            return
        if len(device_ids) != 1:
            raise ValueError('PassDistributedDataParallel: device_ids must '
                             f'name one device, got {list(device_ids)}.')
        expected = torch.device('cuda', int(device_ids[0]))
        elsewhere = {str(p.device) for p in self.module.parameters()
                     if p.device != expected}
        if elsewhere:
            raise ValueError(
                f'PassDistributedDataParallel: device_ids={list(device_ids)} '
                f'but the module has parameters on {sorted(elsewhere)}; move '
                'it first (mmengine does, when it wraps the model).')

    def _check_same_model_on_every_rank(self) -> None:
        """Ranks must hold the same parameter list (a flattened broadcast of
        different models would mix tensors silently)."""
        shapes = [tuple(p.shape) for p in self._synced_params]
        signature = (len(shapes), sum(p.numel() for p in self._synced_params),
                     hash(tuple(shapes)))
        signatures = all_gather_object(signature)
        if len(set(signatures)) > 1:
            raise RuntimeError(
                'PassDistributedDataParallel: the ranks built different '
                f'models (parameter count, size, shape hash per rank: '
                f'{signatures}); every rank must build the same config.')

    def _synced_buffers(self) -> List[Tensor]:
        return [b for name, b in self.module.named_buffers()
                if name not in self._ignored]

    # ------------------------------------------------------------- training
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """mmengine's train step (as ``MMDistributedDataParallel``'s), with
        the gradients this step made all-reduced when backward ends.

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapper): Backward, clipping and the update.

        Returns:
            dict[str, Tensor]: The log variables of the losses.
        """
        with optim_wrapper.optim_context(self):
            # no_sync (gradient accumulation) is entered by optim_context.
            sync = self._grad_sync_enabled
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode='loss')
        parsed_loss, log_vars = self.module.parse_losses(losses)
        if sync and get_world_size() > 1 and parsed_loss.requires_grad:
            parsed_loss.register_hook(self._reduce_when_backward_ends)
        optim_wrapper.update_params(parsed_loss)
        if self.broadcast_buffers:
            # After backward: an eval-mode BatchNorm's running statistics
            # are saved for it and must not be written before.
            self.sync_buffers()
        return log_vars

    def _reduce_when_backward_ends(self, grad: Tensor) -> None:
        """Tensor hook on the loss (it runs first in backward): queue the
        reduction for the end of this backward, when every gradient of the
        step is accumulated."""
        torch.autograd.Variable._execution_engine.queue_callback(
            self.reduce_gradients)

    @torch.no_grad()
    def reduce_gradients(self) -> None:
        """All-reduce (mean) the gradients of the trainable parameters that
        some rank's step reached; see the class docstring."""
        trainable = [p for p in self._synced_params if p.requires_grad]
        if not trainable or get_world_size() == 1:
            return
        reached = torch.tensor([p.grad is not None for p in trainable],
                               dtype=torch.uint8, device=trainable[0].device)
        all_reduce(reached, op='max')
        grads = []
        for p, hit in zip(trainable, reached.tolist()):
            if not hit:
                continue
            if p.grad is None:  # reached elsewhere: this rank adds zero
                p.grad = torch.zeros_like(p)
            elif p.grad.is_sparse:
                raise RuntimeError(
                    'PassDistributedDataParallel reduces dense gradients '
                    f'only; a parameter of shape {tuple(p.shape)} has a '
                    'sparse one.')
            grads.append(p.grad)
        all_reduce_params(grads, coalesce=True,
                          bucket_size_mb=self.bucket_cap_mb, op='mean')

    @torch.no_grad()
    def sync_buffers(self) -> None:
        """Give every rank rank 0's buffers (DDP's ``broadcast_buffers``)."""
        _broadcast_coalesced(self._synced_buffers(), self.bucket_cap_mb)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Steps run inside keep their gradients local (accumulated); the
        next step outside reduces the sum (as DDP's ``no_sync``)."""
        before = self._grad_sync_enabled
        self._grad_sync_enabled = False
        try:
            yield
        finally:
            self._grad_sync_enabled = before

    # ------------------------------------------------- evaluation, forward
    def val_step(self, data: Union[dict, tuple, list]) -> list:
        """The module's validation step (no communication)."""
        return self.module.val_step(data)

    def test_step(self, data: Union[dict, tuple, list]) -> list:
        """The module's test step (no communication)."""
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        """The module's forward."""
        return self.module(*args, **kwargs)

    def _run_forward(self, data: Union[dict, tuple, list], mode: str):
        if isinstance(data, dict):
            return self.module(**data, mode=mode)
        if isinstance(data, (list, tuple)):
            return self.module(*data, mode=mode)
        raise TypeError('The data preprocessor should return a dict, tuple '
                        f'or list, not {type(data)}.')


def _broadcast_coalesced(tensors: List[Tensor], bucket_cap_mb: float,
                         src: int = 0) -> None:
    """Broadcast tensors from ``src`` in place, flattened into one tensor per
    dtype and ``bucket_cap_mb`` (a broadcast per tensor would be hundreds of
    small collectives per step)."""
    if get_world_size() == 1 or not tensors:
        return
    limit = int(bucket_cap_mb * 1024 * 1024)
    for bucket in _take_tensors(tensors, limit):
        flat = _flatten_dense_tensors(bucket)
        broadcast(flat, src)
        if get_rank() == src:
            continue
        for tensor, synced in zip(bucket,
                                  _unflatten_dense_tensors(flat, bucket)):
            tensor.copy_(synced)
