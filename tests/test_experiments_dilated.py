"""The small-object segmentation experiment: its data, its three networks, its metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convref import arith, data, experiments


def test_dots_and_frames_labels_the_frames_inside_and_the_dots():
    images, labels, kinds = data.dots_and_frames(40, size=20, noise=0.0, seed=3)
    assert images.shape == (40, 1, 20, 20) and images.dtype == np.float32
    np.testing.assert_array_equal(labels, (kinds > 0).astype(np.int64))
    for image, kind in zip(images[:, 0], kinds):
        rows, cols = np.nonzero(kind == 2)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        side = bottom - top + 1
        assert 9 <= side <= 11 and right - left + 1 == side
        assert (kind[top : bottom + 1, left : right + 1] == 2).all()  # a full square
        # drawn: the outline is bright, the inside is not (no noise here)
        outline = np.zeros_like(kind, dtype=bool)
        outline[top : bottom + 1, left : right + 1] = True
        outline[top + 1 : bottom, left + 1 : right] = False
        assert (image[outline] >= 1).all()
        assert (image[top + 1 : bottom, left + 1 : right] == 0).all()
        # dots: 2x2 bright squares, four pixels each
        dots = kind == 1
        assert dots.sum() % 4 == 0 and (image[dots] == 1).all()
        assert (image[kind == 0] == 0).all()


def test_dots_and_frames_refuses_bad_arguments():
    with pytest.raises(ValueError, match="size must be an int >= frame_sides"):
        data.dots_and_frames(2, size=12)
    with pytest.raises(ValueError, match="frame_sides must be two ints"):
        data.dots_and_frames(2, frame_sides=(5, 4))
    with pytest.raises(ValueError, match="n must be a positive int"):
        data.dots_and_frames(0)


@pytest.mark.parametrize(
    "kind, field", [("plain", 9), ("dilated", 17), ("strided", 23)]
)
def test_segmenters_have_their_stated_fields_and_equal_parameters(kind, field):
    specs = [
        arith.ConvSpec(3, stride=stride, dilation=dilation)
        for stride, dilation in experiments.SEGMENTER_KINDS[kind]
    ]
    assert arith.receptive_field(specs).size == field
    model = experiments.segmenter(kind, width=8)
    params = sum(p.numel() for p in model.parameters())
    # four 3x3 layers without bias, their batch norms, the 1x1 classifier with bias
    assert params == 9 * 8 + 3 * 9 * 64 + 4 * 2 * 8 + (8 * 2 + 2)
    out = model(torch.zeros(2, 1, 20, 20))
    assert out.shape == (2, 2, 20, 20)


def test_the_measured_field_of_the_dilated_segmenter():
    """Autograd agrees with the formula: an output reads a 17 x 17 window, no more."""
    torch.manual_seed(0)
    model = experiments.segmenter("dilated").double().eval()
    x = torch.randn(1, 1, 40, 40, dtype=torch.float64, requires_grad=True)
    model(x)[0, 1, 20, 20].backward()
    rows = np.nonzero(x.grad[0, 0].abs().sum(1).numpy())[0]
    assert rows.min() == 20 - 8 and rows.max() == 20 + 8


def test_recall_by_kind_counts_pixels_by_hand():
    kinds = np.array([[[0, 1, 1, 2], [0, 2, 2, 2]]])  # 2 background, 2 dots, 4 frame

    class Fixed(torch.nn.Module):
        def forward(self, x):  # object: 1 of 2 background, 1 of 2 dot, 3 of 4 frame
            said = torch.tensor([[[1, 1, 0, 1], [0, 1, 1, 0]]])
            return torch.stack([1 - said, said], 1).float()

    scores = experiments.recall_by_kind(
        Fixed(), np.zeros((1, 1, 2, 4), np.float32), kinds
    )
    assert scores == {"background": 0.5, "dots": 0.5, "frames": 0.75}


def test_segmenter_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        experiments.segmenter("pooled")
