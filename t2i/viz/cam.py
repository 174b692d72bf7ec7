"""Grad-CAM saliency of the SynthBirds attribute classifier: where in the image does it see "belly = red"?

    clf = load_attr_classifier("attr-classifier-synthbirds-64")
    cam = grad_cam(clf, image, "has_belly_color", "red")   # [H, W] in [0, 1], H x W = the image's size
    heatmap(image, cam).save("cam.png")

Grad-CAM (Selvaraju et al., ICCV 2017): A = the activations of the classifier's last conv block
(t2i.eval.attributes.AttrClassifier.features[-1], taken after its last ReLU and before its max-pool, so at
twice the pooled resolution); y = the logit of the chosen attribute value; weights a_k = mean over pixels of
dy/dA_k; CAM = ReLU(sum_k a_k A_k), upsampled bilinearly to the image and scaled to [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn


def to_classifier_input(image, size: int | None = None) -> Tensor:
    """PIL image / uint8 HWC array / [3, H, W] or [1, 3, H, W] tensor in [-1, 1] -> [1, 3, H, W] float in [-1, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        assert image.ndim == 3 and image.shape[2] == 3, image.shape
        image = torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 127.5 - 1.0
    x = image.detach().float()
    if x.dim() == 3:
        x = x[None]
    assert x.dim() == 4 and x.shape[:2] == (1, 3), x.shape
    if size is not None and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The module whose output Grad-CAM reads: the last ReLU of the classifier's last conv block."""
    block = model.features[-1]
    relus = [m for m in block.modules() if isinstance(m, nn.ReLU)]
    return relus[-1] if relus else block


def _value_index(model, group: str, value: str | None, logits: Tensor) -> int:
    groups = model.cfg.groups
    if value is None:
        return int(logits.argmax())
    if value not in groups[group]:
        raise ValueError(f"{group} has no value {value!r}; values: {', '.join(groups[group])}")
    return groups[group].index(value)


def grad_cam(model: nn.Module, image, group: str, value: str | None = None, layer: nn.Module | None = None,
             out_size: tuple[int, int] | None = None) -> np.ndarray:
    """Grad-CAM of `model` (an AttrClassifier) for attribute `group` = `value` (None: the predicted value).

    image: PIL image, HWC uint8 array or [1, 3, H, W] tensor in [-1, 1]; layer: default `last_conv_layer`;
    out_size: (H, W) of the map (default: the image's size). Returns float32 [H, W] in [0, 1] (all zero when
    nothing in the image speaks for the value).
    """
    if group not in model.cfg.groups:
        raise ValueError(f"the classifier has no attribute {group!r}; it knows: {', '.join(model.cfg.groups)}")
    x = to_classifier_input(image)
    if out_size is None:
        out_size = tuple(x.shape[-2:])
    dev = next(model.parameters()).device
    x = x.to(dev).requires_grad_(True)  # the classifier's weights are frozen: the graph hangs on the input
    layer = last_conv_layer(model) if layer is None else layer
    acts: list[Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, o: acts.append(o))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(x)[group]
            k = _value_index(model, group, value, logits[0])
            A = acts[-1]
            (grad,) = torch.autograd.grad(logits[0, k], A)
    finally:
        handle.remove()
        model.train(was_training)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # [1, C, 1, 1]
    cam = F.relu((weights * A.detach()).sum(1, keepdim=True))  # [1, 1, h, w]
    cam = F.interpolate(cam, size=out_size, mode="bilinear", align_corners=False)[0, 0]
    m = float(cam.max())
    cam = cam / m if m > 0 else torch.zeros_like(cam)
    return cam.clamp(0, 1).cpu().numpy().astype(np.float32)


@torch.no_grad()
def predict_probs(model: nn.Module, image) -> dict[str, list[tuple[str, float]]]:
    """group -> [(value, probability)] sorted by probability, for one image."""
    x = to_classifier_input(image).to(next(model.parameters()).device)
    out = {}
    for g, lg in model(x).items():
        p = lg[0].softmax(0).tolist()
        out[g] = sorted(zip(model.cfg.groups[g], p), key=lambda t: -t[1])
    return out


def heatmap(image: Image.Image, cam: np.ndarray, alpha: float = 0.55, cmap: str = "jet") -> Image.Image:
    """Blend a [0, 1] map (any size; resized) over an image with a matplotlib colour map; strong = opaque."""
    from matplotlib import colormaps

    image = image.convert("RGB")
    m = Image.fromarray((np.clip(cam, 0, 1) * 255).astype(np.uint8)).resize(image.size, Image.BILINEAR)
    m = np.asarray(m, dtype=np.float32) / 255.0
    colour = colormaps[cmap](m)[..., :3] * 255.0
    a = (alpha * (0.35 + 0.65 * m))[..., None]  # faint colour everywhere, opaque where the map is strong
    base = np.asarray(image, dtype=np.float32)
    return Image.fromarray((base * (1 - a) + colour * a).clip(0, 255).astype(np.uint8))
