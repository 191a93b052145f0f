"""GloResNet's encoder and head: a 3D ResNet-10 with MedicalNet-compatible state-dict keys.

Architecture (METHOD.md table; paper Eq. 5-7): stem Conv3d(1, 64, 7, stride 2, pad 3, no bias) + BN
+ ReLU + MaxPool3d(3, 2, 1); four stages of one BasicBlock each with 64, 128, 256, 512 channels and
strides 1, 2, 2, 2 (no dilation); type-"B" shortcuts (1x1x1 conv + BN) where the shape changes;
global average pooling -> 512-D feature -> Linear(512, 2). 14,356,546 parameters.

Optional segmentation decoder (``seg_classes > 0``; issue 28, not in the paper): a U-Net style
decoder (Ronneberger et al., MICCAI 2015; the encoder-with-skips layout of MONAI's
``FlexibleUNet``) that upsamples ``layer4`` back to the input grid, concatenating at each scale
the encoder's stem, ``layer1``, ``layer2`` and ``layer3`` outputs and, at full resolution, the
input itself; it predicts per-voxel logits of the tissue and injury classes
(:data:`model.segmentation.SEG_CLASSES`). Its parameters live under ``decoder.`` so the encoder
keeps MedicalNet's keys, and ``forward`` still returns only the classification logits (TTA and
Grad-CAM are unchanged); :meth:`ResNet3d.forward_with_segmentation` returns both.

Parameter names match MedicalNet (``conv1``, ``bn1``, ``layer1.0.conv1`` ...,
``layer2.0.downsample.0/1``) so its encoder weights load key-for-key
(:func:`model.checkpoint.load_medicalnet_encoder`).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Number of parameters of :func:`resnet10` with two classes (METHOD.md).
RESNET10_PARAMETERS = 14_356_546


class BasicBlock(nn.Module):
    """Two 3x3x3 convolutions with BN, identity or type-B (1x1x1 conv + BN) shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv3d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm3d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


#: Decoder widths of new weights, and of cards that do not record theirs (the first decoder, seg1).
DEFAULT_WIDTHS = (128, 64, 48, 32, 16)
LEGACY_WIDTHS = (128, 64, 32, 16, 8)


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class SegDecoder(nn.Module):
    """U-Net decoder over the ResNet-10 stages (stem /2, layer1 /4, layer2 /8, layer3 /16, layer4 /32).

    ``widths`` are the output channels of the five up-steps, coarse to fine; the model card records
    them (``segmentation.widths``). Measured (``tests/benchmarks/bench_decoder_fit``): with 8
    channels at the input grid and 16 at /2 (:data:`LEGACY_WIDTHS`, run seg1) the decoder could not
    separate ventricles, cortex or cerebellum even on its own training batch; 32 and 16 fit them
    (:data:`DEFAULT_WIDTHS`).

    ``forward(x, skips)`` takes the input (N, 1, X, Y, Z) and the five encoder outputs and returns
    logits (N, n_classes, X, Y, Z) float32.
    """

    def __init__(self, n_classes: int, in_channels: int = 1, widths: tuple = ()):
        super().__init__()
        w = tuple(int(v) for v in (widths or DEFAULT_WIDTHS))
        if len(w) != 5 or min(w) < 1:
            raise ValueError(f"decoder widths must be 5 positive numbers, got {widths!r}")
        self.widths = w
        self.stem_reduce = nn.Conv3d(64, 16, 1)  # the /2 stem output is large: reduce before concatenating
        self.up4 = _conv_bn_relu(512 + 256, w[0])  # layer4 up to /16, with layer3
        self.up3 = _conv_bn_relu(w[0] + 128, w[1])  # /8, with layer2
        self.up2 = _conv_bn_relu(w[1] + 64, w[2])  # /4, with layer1
        self.up1 = _conv_bn_relu(w[2] + 16, w[3])  # /2, with the stem
        self.up0 = _conv_bn_relu(w[3] + in_channels, w[4])  # input grid, with the input
        self.out = nn.Conv3d(w[4], n_classes, 1)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[2:], mode="trilinear", align_corners=False)

    def forward(self, x: torch.Tensor, skips: tuple) -> torch.Tensor:
        stem, l1, l2, l3, l4 = skips
        d = self.up4(torch.cat([self._up(l4, l3), l3], 1))
        d = self.up3(torch.cat([self._up(d, l2), l2], 1))
        d = self.up2(torch.cat([self._up(d, l1), l1], 1))
        d = self.up1(torch.cat([self._up(d, stem), self.stem_reduce(stem)], 1))
        d = self.up0(torch.cat([self._up(d, x), x], 1))
        return self.out(d)


class ResNet3d(nn.Module):
    """3D ResNet for single-channel volumes.

    Parameters
    ----------
    layers : sequence of 4 int
        Blocks per stage ((1, 1, 1, 1) for ResNet-10).
    num_classes : int
    in_channels : int
    seg_classes : int
        Output classes of the segmentation decoder (:class:`SegDecoder`); 0 = none (the paper's network).
    seg_widths : tuple of 5 int, optional
        The decoder's widths (:data:`DEFAULT_WIDTHS` when empty).

    Notes
    -----
    ``forward(x)`` takes (N, C, X, Y, Z) float32 and returns logits (N, num_classes).
    ``forward_features`` returns the pooled 512-D feature (N, 512); ``forward_head`` maps it to logits.
    """

    def __init__(
        self, layers=(1, 1, 1, 1), num_classes: int = 2, in_channels: int = 1, seg_classes: int = 0, seg_widths=()
    ):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv3d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], stride=1)
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(512 * BasicBlock.expansion, num_classes)
        self.num_features = 512 * BasicBlock.expansion
        self.seg_classes = int(seg_classes)
        self.decoder = SegDecoder(self.seg_classes, in_channels, seg_widths) if self.seg_classes else None
        #: When a list, every forward pass appends its segmentation logits here (no grad).
        self.captured_segmentation: list | None = None
        self.reset_parameters()

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        mods = [BasicBlock(self.in_planes, planes, stride)]
        self.in_planes = planes
        mods += [BasicBlock(planes, planes, 1) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Kaiming-normal convolutions, unit BN, head weights N(0, 0.01) and zero bias (Eq. 8)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.reset_head(generator)

    def reset_head(self, generator: torch.Generator | None = None) -> None:
        """Fresh classification head: weights N(0, 0.01), bias 0 (paper Eq. 8)."""
        nn.init.normal_(self.fc.weight, 0.0, 0.01, generator=generator)
        nn.init.zeros_(self.fc.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, X, Y, Z) -> pooled features (N, 512).

        While :attr:`captured_segmentation` is a list (see :func:`model.inference.segmentation_capture`)
        and the network has a decoder, each call also appends the decoder's logits (N, K, X, Y, Z),
        computed without gradients, so that one pass (e.g. Grad-CAM's) gives both outputs.
        """
        stem = self.relu(self.bn1(self.conv1(x)))
        l1 = self.layer1(self.maxpool(stem))
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        if self.decoder is not None and self.captured_segmentation is not None:
            with torch.no_grad():
                self.captured_segmentation.append(self.decoder(x, (stem, l1, l2, l3, l4)).detach())
        return torch.flatten(self.avgpool(l4), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 512) -> logits (N, num_classes)."""
        return self.fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_with_segmentation(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, X, Y, Z) -> (classification logits (N, 2), segmentation logits (N, K, X, Y, Z)).

        Raises
        ------
        RuntimeError
            When the network has no decoder (``seg_classes == 0``).
        """
        if self.decoder is None:
            raise RuntimeError("this network has no segmentation decoder (seg_classes = 0)")
        stem = self.relu(self.bn1(self.conv1(x)))
        l1 = self.layer1(self.maxpool(stem))
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        logits = self.forward_head(torch.flatten(self.avgpool(l4), 1))
        return logits, self.decoder(x, (stem, l1, l2, l3, l4))


def resnet10(num_classes: int = 2, in_channels: int = 1, seg_classes: int = 0, seg_widths=()) -> ResNet3d:
    """ResNet-10 of GloResNet (METHOD.md): one BasicBlock per stage, 14,356,546 parameters, plus
    a :class:`SegDecoder` (``seg_widths``) when ``seg_classes > 0``."""
    return ResNet3d(
        (1, 1, 1, 1), num_classes=num_classes, in_channels=in_channels, seg_classes=seg_classes, seg_widths=seg_widths
    )


#: Architectures a model card may name, and their factories.
ARCHITECTURES = {"resnet10": resnet10}


def encoder_keys(model: nn.Module) -> list[str]:
    """State-dict keys of the encoder (everything except the ``fc`` head and the ``decoder``)."""
    return [k for k in model.state_dict() if not k.startswith(("fc.", "decoder."))]
