"""DINO decoder that owns the box branch it refines its references with."""
from mmcv.cnn import Linear
from mmdet.models.layers import DinoTransformerDecoder
from torch import nn


class RefiningDinoTransformerDecoder(DinoTransformerDecoder):
    """mmdet's DINO decoder holding its own refinement branches.

    mmdet refines each layer's reference boxes with the head's
    ``reg_branches`` -- the same layers that predict the output boxes. The
    Foundation X reference code (IDEA DINO) gives its decoder a separate box
    MLP (``transformer.decoder.<d>.bbox_embed``, one module for all layers)
    and a class layer (``.class_embed``) that its configuration never calls;
    both belong to the decoder there, and paper Table 9 counts them in each
    localization decoder (9,608,978). Here they are ``reg_branches`` and
    ``cls_branches`` of the decoder (each ``num_layers`` references to one
    module, listed under every index in the state dict as in the
    reference's), and :meth:`forward` refines with them whatever branches
    the detector passes.

    Args:
        num_classes (int): Outputs of the (unused) class layer.
        num_reg_fcs (int): Hidden layers of the box MLP. Defaults to 2.
        **kwargs: mmdet's DinoTransformerDecoder arguments.
    """

    def __init__(self, num_classes: int, num_reg_fcs: int = 2,
                 **kwargs) -> None:
        self.num_classes = num_classes
        self.num_reg_fcs = num_reg_fcs
        super().__init__(**kwargs)

    def _init_layers(self) -> None:
        """mmdet's layers, then the shared box MLP and class layer."""
        super()._init_layers()
        reg = []
        for _ in range(self.num_reg_fcs):
            reg += [Linear(self.embed_dims, self.embed_dims), nn.ReLU()]
        reg = nn.Sequential(*reg, Linear(self.embed_dims, 4))
        cls = Linear(self.embed_dims, self.num_classes)
        self.reg_branches = nn.ModuleList([reg] * self.num_layers)
        self.cls_branches = nn.ModuleList([cls] * self.num_layers)

    def forward(self, *args, reg_branches=None, **kwargs):
        """mmdet's forward, refining with this decoder's ``reg_branches``
        (the detector's ``reg_branches`` argument is ignored)."""
        return super().forward(*args, reg_branches=self.reg_branches, **kwargs)
