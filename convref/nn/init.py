"""Weight initialisation schemes: the source article's random, Xavier and He, and PyTorch's default.

What sets the signal's scale through a deep stack is the weights' variance, chosen from the
layer's fan-in and fan-out, not the shape of their distribution: Glorot and Bengio drew
uniform weights, He et al. Gaussian ones, and PyTorch has both shapes of each. Here
``"random"``, ``"xavier"`` and ``"he"`` draw zero-mean Gaussians; ``"pytorch"`` is PyTorch's
default for its convolutions (``kaiming_uniform_`` with ``a = sqrt(5)``), uniform with
variance ``1 / (3 fan_in)``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

__all__ = [
    "INIT_SCHEMES",
    "fans",
    "init_std",
    "init_weight_",
    "bilinear_kernel",
    "bilinear_",
    "pytorch_default_",
]

#: The schemes, with the paper each comes from.
INIT_SCHEMES = {
    "random": "fixed small standard deviation 0.01 (Krizhevsky et al. 2012)",
    "xavier": "std = sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010)",
    "he": "std = sqrt(2 / fan_in), for ReLU (He et al. 2015)",
    "pytorch": "uniform, std = 1 / sqrt(3 fan_in): PyTorch's default kaiming_uniform_(a=sqrt(5))",
}


def fans(weight_shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out of a weight ``(C_out, C_in / groups, kh, kw)`` or ``(out, in)``.

    Fan-in is the number of inputs one output sums over (``C_in / groups * kh * kw``);
    fan-out the number of outputs one input reaches (``C_out * kh * kw``), the
    convention of :func:`torch.nn.init.xavier_normal_`.

    Parameters
    ----------
    weight_shape : tuple of int
        Shape of the weight, at least two dimensions: ``(C_out, C_in / groups, kh, kw)``
        for a convolution, ``(out, in)`` for a linear layer.

    Returns
    -------
    (int, int)
        ``(fan_in, fan_out)``.
    """
    if len(weight_shape) < 2:
        raise ValueError(
            f"weight_shape must have at least 2 dimensions, got {tuple(weight_shape)}"
        )
    receptive = math.prod(weight_shape[2:])
    return weight_shape[1] * receptive, weight_shape[0] * receptive


def init_std(weight_shape: tuple[int, ...], scheme: str) -> float:
    """Standard deviation that ``scheme`` gives a weight of this shape.

    Parameters
    ----------
    weight_shape : tuple of int
        ``(C_out, C_in / groups, kh, kw)``.
    scheme : {"random", "xavier", "he", "pytorch"}
        See :data:`INIT_SCHEMES`.

    Returns
    -------
    float
    """
    fan_in, fan_out = fans(weight_shape)
    if scheme == "random":
        return 0.01
    if scheme == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    if scheme == "pytorch":
        # uniform on (-b, b) with b = 1 / sqrt(fan_in): variance b^2 / 3
        return 1.0 / math.sqrt(3.0 * fan_in)
    raise ValueError(f"scheme must be one of {sorted(INIT_SCHEMES)}, got {scheme!r}")


def init_weight_(
    weight: torch.Tensor, scheme: str, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Fill ``weight`` in place with values of mean 0 and the scheme's standard deviation.

    Gaussian values, except for ``"pytorch"``: uniform ones, as PyTorch draws them.

    Parameters
    ----------
    weight : torch.Tensor
        A convolution's weight ``(C_out, C_in / groups, kh, kw)`` (or a linear layer's
        ``(out, in)``), overwritten.
    scheme : {"random", "xavier", "he", "pytorch"}
        Chooses the standard deviation, :func:`init_std`.
    generator : torch.Generator, optional
        Source of the random numbers (for reproducible draws).

    Returns
    -------
    torch.Tensor
        ``weight`` itself, same shape.
    """
    std = init_std(tuple(weight.shape), scheme)
    with torch.no_grad():
        if scheme == "pytorch":  # PyTorch's own draw, as pytorch_default_ makes it
            return nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        return weight.normal_(0.0, std, generator=generator)


def bilinear_kernel(
    kernel_size: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""The ``kernel_size x kernel_size`` kernel with which a transposed convolution upsamples bilinearly.

    With stride ``s`` and ``kernel_size = 2s`` (padding ``s // 2``), a transposed convolution
    whose kernel is this tent function interpolates linearly between input pixels in each
    direction -- the initialisation of the upsampling layers in FCN (Long et al. 2015):

    .. math::

        K[u, v] = \Big(1 - \frac{|u - c|}{f}\Big)\Big(1 - \frac{|v - c|}{f}\Big), \qquad
        f = \lceil k / 2 \rceil, \quad c = \frac{k - 1}{2}

    Parameters
    ----------
    kernel_size : int
        Side ``k`` of the kernel.
    dtype : torch.dtype
        Of the result.

    Returns
    -------
    torch.Tensor
        Shape ``(k, k)``.
    """
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, int)
        or kernel_size < 1
    ):
        raise ValueError(f"kernel_size must be an int >= 1, got {kernel_size!r}")
    factor = (kernel_size + 1) // 2
    center = (kernel_size - 1) / 2
    taps = 1 - (torch.arange(kernel_size, dtype=torch.float64) - center).abs() / factor
    return torch.outer(taps, taps).to(dtype)


def bilinear_(weight: torch.Tensor) -> torch.Tensor:
    """Fill a transposed convolution's weight so that it upsamples each channel bilinearly.

    Channel ``c`` gets :func:`bilinear_kernel` from input channel ``c`` and zero from the
    others, so the layer acts on every channel separately.

    Parameters
    ----------
    weight : torch.Tensor
        A transposed convolution's weight ``(C, C / groups, k, k)`` with a square kernel,
        overwritten.

    Returns
    -------
    torch.Tensor
        ``weight`` itself, same shape.
    """
    channels, group_out, kh, kw = weight.shape
    if kh != kw:
        raise ValueError(
            f"weight must have a square kernel, got weight of shape {tuple(weight.shape)}"
        )
    if (
        group_out < 1 or channels % group_out
    ):  # C_out = C_in needs C / groups == weight.shape[1]
        raise ValueError(
            f"weight must map C channels to C channels, shape (C, C / groups, k, k), got {tuple(weight.shape)}"
        )
    kernel = bilinear_kernel(kh, weight.dtype).to(weight.device)
    with torch.no_grad():
        weight.zero_()
        for c in range(channels):
            weight[c, c % group_out] = (
                kernel  # within its group, input c feeds output c
            )
    return weight


def pytorch_default_(
    weight: torch.Tensor, bias: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """PyTorch's default initialisation of its convolution layers, draw for draw.

    Kaiming-uniform with ``a = sqrt(5)`` for the weight, and a bias uniform in
    ``(-1/sqrt(fan_in), 1/sqrt(fan_in))``, where ``fan_in`` counts dimension 1 of the stored
    weight times the kernel: ``C_in / groups * k`` for a convolution, ``C_out / groups * k`` for a
    transposed one (as PyTorch does).

    Parameters
    ----------
    weight : torch.Tensor
        A convolution's weight ``(C_out, C_in / groups, kh, kw)`` or a transposed
        convolution's ``(C_in, C_out / groups, kh, kw)``, overwritten.
    bias : torch.Tensor, optional
        Its bias ``(C_out,)``, overwritten when given.

    Returns
    -------
    torch.Tensor
        ``weight`` itself, same shape.
    """
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(weight[0].numel())
        nn.init.uniform_(bias, -bound, bound)
    return weight
