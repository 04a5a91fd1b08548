"""Drive the stack's CUDA-only branches on the CPU.

The toolboxes choose their compiled ops by asking a tensor ``is_cuda`` (and
a module flag or ``torch.cuda.is_available()``), then call mmcv's extension
``mmcv._ext``. Here:

- :class:`ReportsCuda` is a CPU tensor that says it is on CUDA; every result
  computed from it says so too, so a whole forward pass can take the CUDA
  branches;
- :func:`force_cuda_branches` makes the flags say CUDA is there, and
  :func:`pretend_mmcv_build` makes fx_mm's probe see a CUDA or a CPU build
  of mmcv;
- :class:`RecordedExtension` records every op called on ``mmcv._ext``, so
  a test can say which compiled ops a pass reached; it can also put there
  what a CUDA build of mmcv 2.1.0 has for the ops fx_mm reaches: same
  arguments, same in-place outputs, the same dtype dispatch (float, double,
  half; anything else refused, as ``AT_DISPATCH_FLOATING_TYPES_AND_HALF``
  does) and, for the focal loss, the kernel's own arithmetic in the input's
  precision.
"""
import importlib

import torch

FLT_MIN = 1.1754943508222875e-38  # <cfloat> FLT_MIN, as the kernel uses it


class ReportsCuda(torch.Tensor):
    """A CPU tensor that says it is on CUDA (and so do its results)."""

    @property
    def is_cuda(self):
        return True


def as_cuda(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` seen as a CUDA tensor (shares its storage and graph)."""
    return tensor.as_subclass(ReportsCuda)


def force_cuda_branches(monkeypatch) -> None:
    """Make every flag the CUDA branches test say that CUDA is there:
    ``torch.cuda.is_available()`` (mmdet's FocalLoss) and mmcv's
    ``IS_CUDA_AVAILABLE`` (deformable attention)."""
    from mmcv.ops import multi_scale_deform_attn as msda
    from mmengine.logging import MMLogger

    # mmengine's first logger reads CUDA_VISIBLE_DEVICES when it believes
    # in CUDA; have it made the plain way.
    MMLogger.get_current_instance()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(msda, 'IS_CUDA_AVAILABLE', True)


def pretend_mmcv_build(monkeypatch, cuda_kernels: bool) -> None:
    """Make fx_mm's probe answer as a CUDA build of mmcv (``True``) or a
    CPU build (``False``) would."""
    from fx_mm.ops import mmcv_kernels
    monkeypatch.setattr(mmcv_kernels, 'FORCE_HAS_CUDA_KERNELS', cuda_kernels)


class KernelDtypeError(RuntimeError):
    """What ``AT_DISPATCH_FLOATING_TYPES_AND_HALF`` raises for other dtypes."""


_C10_NAMES = {torch.bfloat16: 'BFloat16', torch.int64: 'Long'}


def _dispatch_dtype(op: str, *tensors: torch.Tensor) -> torch.dtype:
    """The kernel's ``scalar_t``: the first tensor's dtype, which the kernel
    has a case for, and which every other float tensor must share
    (``data_ptr<scalar_t>()`` refuses another)."""
    dtype = tensors[0].dtype
    if dtype not in (torch.float16, torch.float32, torch.float64):
        name = _C10_NAMES.get(dtype, str(dtype))
        raise KernelDtypeError(f'"{op}" not implemented for \'{name}\'')
    for t in tensors[1:]:
        if t.is_floating_point() and t.dtype != dtype:
            raise KernelDtypeError(f'{op}: expected scalar type {dtype} but '
                                   f'found {t.dtype}')
    return dtype


def kernel_sigmoid_focal_loss(x, target, gamma, alpha):
    """The forward and backward of mmcv 2.1.0's sigmoid focal loss CUDA
    kernel (common/cuda/sigmoid_focal_loss_cuda_kernel.cuh), line by line
    in the input's precision ``T``.

    With ``T = c10::Half``, ``expf`` and ``log`` work in float and each
    result is rounded to ``T`` where the kernel stores it; ``(T)FLT_MIN``
    is 0 in half.

    Args:
        x (Tensor): Logits (N, C), dtype T.
        target (Tensor): Labels (N, ), int64; C means background.
        gamma, alpha (float): Focal parameters (stored as T).

    Returns:
        tuple[Tensor, Tensor]: Elementwise loss and d loss / d x, (N, C),
        dtype T, unweighted.
    """
    T = x.dtype

    def rnd(v):  # store a value computed in float as T
        return v.to(T).float()

    c = torch.arange(x.shape[1])
    flag_p = (target[:, None] == c).float()
    flag_n = 1 - flag_p
    gamma_t, alpha_t = rnd(torch.tensor(gamma)), rnd(torch.tensor(alpha))
    one_minus_alpha = rnd(1 - alpha_t)
    floor = rnd(torch.tensor(FLT_MIN))  # (T)FLT_MIN
    xf = x.float()
    p = rnd(1.0 / (1.0 + torch.exp(-xf)))
    q = rnd(1 - p)  # (T)1. - p
    log_p = torch.log(torch.maximum(p, floor))
    log_q = torch.log(torch.maximum(q, floor))
    term_p = rnd(q.pow(gamma_t) * log_p)
    term_n = rnd(p.pow(gamma_t) * log_q)
    loss = rnd(rnd(-flag_p * alpha_t) * term_p) + rnd(
        rnd(-flag_n * one_minus_alpha) * term_n)
    gterm_p = rnd(q.pow(gamma_t) * (q - gamma_t * p * log_p))
    gterm_n = rnd(p.pow(gamma_t) * (gamma_t * q * log_q - p))
    grad = rnd(rnd(-flag_p * alpha_t) * gterm_p) + rnd(
        rnd(-flag_n * one_minus_alpha) * gterm_n)
    return loss.to(T), grad.to(T)


class RecordedExtension:
    """mmcv's extension ``mmcv._ext`` with every op call recorded.

    With ``cuda_build=True`` the CUDA kernels of mmcv 2.1.0 that fx_mm
    reaches (:attr:`KERNELS`) are faked: same arguments and in-place
    outputs, the CUDA dispatch's dtype rule, and for the focal loss the
    kernel's own arithmetic in the input's precision. Every other op is
    recorded and runs mmcv's own code (the installed, CPU, build), which is
    what happens to all of them with ``cuda_build=False``.

    Attributes:
        calls (list[tuple[str, tuple[torch.dtype, ...]]]): Every call of a
            faked kernel: op name and the dtypes of its float tensors.
        other_ops (list[str]): Every other op of the extension called.
    """

    KERNELS = ('ms_deform_attn_forward', 'ms_deform_attn_backward',
               'sigmoid_focal_loss_forward', 'sigmoid_focal_loss_backward')

    def __init__(self, monkeypatch, cuda_build: bool = True) -> None:
        self.calls = []
        self.other_ops = []
        ext = importlib.import_module('mmcv._ext')
        for name in dir(ext):
            fn = getattr(ext, name)
            if name.startswith('_') or not callable(fn):
                continue
            if cuda_build and name in self.KERNELS:
                monkeypatch.setattr(ext, name, getattr(self, name))
            else:
                monkeypatch.setattr(ext, name, self._recorder(name, fn))

    def _recorder(self, name, fn):
        def record(*args, **kwargs):
            self.other_ops.append(name)
            return fn(*args, **kwargs)
        return record

    def _record(self, op, *tensors):
        self.calls.append((op, tuple(t.dtype for t in tensors
                                     if t.is_floating_point())))
        return _dispatch_dtype(op, *tensors)

    @property
    def ops(self):
        """set[str]: Every compiled op called (faked or not)."""
        return {op for op, _ in self.calls} | set(self.other_ops)

    @property
    def dtypes(self):
        """set[torch.dtype]: Every float dtype a faked kernel was given."""
        return {d for _, dtypes in self.calls for d in dtypes}

    # -- multi-scale deformable attention (ms_deform_attn_cuda.cu) --------
    @staticmethod
    def _deform_attn(value, shapes, locations, weights):
        from mmcv.ops.multi_scale_deform_attn import \
            multi_scale_deformable_attn_pytorch
        return multi_scale_deformable_attn_pytorch(
            value.double(), shapes, locations.double(), weights.double())

    def ms_deform_attn_forward(self, value, shapes, start, locations,
                               weights, im2col_step):
        dtype = self._record('ms_deform_attn_forward', value, locations,
                             weights)
        with torch.no_grad():
            out = self._deform_attn(value, shapes, locations, weights)
        return out.to(dtype).as_subclass(type(value))

    def ms_deform_attn_backward(self, value, shapes, start, locations,
                                weights, grad_output, grad_value, grad_loc,
                                grad_weight, im2col_step):
        self._record('ms_deform_attn_backward', value, locations, weights,
                     grad_output, grad_value, grad_loc, grad_weight)
        inputs = [t.detach().as_subclass(torch.Tensor).double()
                  .requires_grad_() for t in (value, locations, weights)]
        with torch.enable_grad():
            out = self._deform_attn(inputs[0], shapes, inputs[1], inputs[2])
            grads = torch.autograd.grad(
                out, inputs, grad_output.as_subclass(torch.Tensor).double())
        for buf, g in zip((grad_value, grad_loc, grad_weight), grads):
            buf.copy_(g)

    # -- sigmoid focal loss (focal_loss_cuda.cu) --------------------------
    def sigmoid_focal_loss_forward(self, input, target, weight, output,
                                   gamma, alpha):
        self._record('sigmoid_focal_loss_forward', input, weight, output)
        loss, _ = kernel_sigmoid_focal_loss(
            input.as_subclass(torch.Tensor), target, gamma, alpha)
        if weight.numel():
            loss = loss * weight[target][:, None]
        output.copy_(loss)

    def sigmoid_focal_loss_backward(self, input, target, weight, grad_input,
                                    gamma, alpha):
        self._record('sigmoid_focal_loss_backward', input, weight,
                     grad_input)
        _, grad = kernel_sigmoid_focal_loss(
            input.as_subclass(torch.Tensor), target, gamma, alpha)
        if weight.numel():
            grad = grad * weight[target][:, None]
        grad_input.copy_(grad)

