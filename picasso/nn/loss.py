r"""
Training losses in log10 space with the empty-pixel weighting of PICASSO.

The paper's loss (Buck & Wolf, eq. 1) is

.. math::

    L = \sum_{i,j} w_{ij} \, (\log_{10} y_{ij} - f(x)_{ij})^2,
    \qquad w_{ij} = 1 \text{ (known pixel)}, \; 10^{-6} \text{ (empty pixel)},

over pixels ``i`` and property channels ``j``, with empty truth set to
:math:`y = 10^{-100}` (the sentinel `~picasso.properties.LOG10_EMPTY`).
`masked_squared_error` computes it (``reduction="sum"``) or the same sum
divided by the number of elements (``reduction="mean"``, same minimum, a
step size independent of the image size).

The authors' code instead averages the two pixel sets separately,
``mean_known(err**2) + 1e-6 * mean_empty(err**2)`` (`authors_two_term_loss`).
With :math:`N_k` known and :math:`N_e` empty elements in a batch,

.. math::

    L_\mathrm{paper} = N_k \, \mathrm{MSE}_k + 10^{-6} N_e \, \mathrm{MSE}_e,
    \qquad
    L_\mathrm{code} = \mathrm{MSE}_k + 10^{-6} \, \mathrm{MSE}_e,

so the two agree up to a factor :math:`N_k` on the known term, and the
code's empty-pixel weight is larger by :math:`N_k / N_e` relative to the
paper's (about 3 for stellar maps with 25% known pixels, about 100 for SFR
maps with <1% known). Each batch re-weights the code's two terms by its own
counts, and a property with few known pixels (SFR) counts as much as one
with many in the code, while the paper weighs every known pixel equally.
picasso follows the paper by default.

`gaussian_nll` is the heteroscedastic variant: on known pixels the negative
log likelihood of a Gaussian with a predicted per-pixel sigma (in dex), on
empty pixels the paper's down-weighted squared error (a sentinel has no
meaningful scatter to learn).

A per-pixel loss in log space is minimised by the mean of log10 over what the
network cannot tell apart -- roughly the log-average over the PSF footprint --
which lies below the linear mean where mass is concentrated below the PSF
scale (edge-on discs, bulge centres): summed masses come out low.
`block_sum_loss` is the term that keeps them right: the squared difference of
log10 of the predicted and true mass summed in square blocks of 2, 4, ..., N
pixels (linear sums, computed as log-sum-exp of the log maps). Added to the
per-pixel loss with a weight per property (`TrainConfig.block_weights
<picasso.nn.TrainConfig>`), it makes totals unbiased at every scale while the
per-pixel term keeps the dynamic range.
"""

import math

import torch

from .transforms import EMPTY_THRESHOLD

__all__ = [
    "EMPTY_WEIGHT",
    "LOG_SIGMA_RANGE",
    "masked_squared_error",
    "authors_two_term_loss",
    "gaussian_nll",
    "block_sum_loss",
    "LOSSES",
]

#: Weight of empty pixels in the paper's loss.
EMPTY_WEIGHT = 1e-6

#: ln(sigma / dex) is clamped to this range in `gaussian_nll`
#: (sigma from 0.001 to ~150 dex) to keep the likelihood finite.
LOG_SIGMA_RANGE = (-6.9, 5.0)

_REDUCTIONS = ("mean", "sum")


def _check(prediction, truth, reduction):
    if prediction.shape != truth.shape:
        raise ValueError(
            f"prediction shape {tuple(prediction.shape)} differs from truth shape "
            f"{tuple(truth.shape)}"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _weights(truth, empty_weight):
    known = truth > EMPTY_THRESHOLD
    return known, torch.where(known, 1.0, float(empty_weight)).to(truth.dtype)


def masked_squared_error(prediction, truth, *, empty_weight=EMPTY_WEIGHT, reduction="mean"):
    """
    The paper's weighted squared error in log10 space.

    Parameters
    ----------
    prediction : `torch.Tensor`
        Predicted log10 maps, ``(batch, properties, ny, nx)``.
    truth : `torch.Tensor`
        log10 truth with `~picasso.properties.LOG10_EMPTY` in empty pixels.
    empty_weight : float
        Weight of empty pixels (1e-6 in the paper).
    reduction : {'mean', 'sum'}
        ``'sum'`` is eq. 1 of the paper; ``'mean'`` divides it by the number
        of elements.

    Returns
    -------
    loss : `torch.Tensor`
        Scalar.
    """
    _check(prediction, truth, reduction)
    truth = truth.float()
    _, weight = _weights(truth, empty_weight)
    total = (weight * (truth - prediction.float()) ** 2).sum()
    return total if reduction == "sum" else total / truth.numel()


def authors_two_term_loss(prediction, truth, *, empty_weight=EMPTY_WEIGHT, reduction="mean"):
    """
    The authors' code: mean squared error over known pixels plus
    ``empty_weight`` times the mean over empty pixels.

    Parameters
    ----------
    prediction, truth : `torch.Tensor`
        As in `masked_squared_error`.
    empty_weight : float
    reduction : {'mean'}
        Only ``'mean'`` is defined for this loss.

    Returns
    -------
    loss : `torch.Tensor`
        Scalar; a term whose pixel set is empty in the batch contributes 0.
    """
    _check(prediction, truth, "mean")
    if reduction != "mean":
        raise ValueError("the authors' two-term loss is a mean; use reduction='mean'")
    truth = truth.float()
    known = truth > EMPTY_THRESHOLD
    squared = (truth - prediction.float()) ** 2
    n_known = known.sum()
    n_empty = known.numel() - n_known
    known_term = torch.where(known, squared, 0.0).sum() / n_known.clamp(min=1)
    empty_term = torch.where(known, 0.0, squared).sum() / n_empty.clamp(min=1)
    return known_term + empty_weight * empty_term


def gaussian_nll(prediction, log_sigma, truth, *, empty_weight=EMPTY_WEIGHT, reduction="mean"):
    """
    Heteroscedastic loss: Gaussian negative log likelihood on known pixels.

    Per known element ``0.5 * ((truth - prediction) / sigma)**2 + ln(sigma)``
    (the constant ``0.5 ln(2 pi)`` dropped), with ``sigma = exp(log_sigma)``
    in dex; per empty element ``empty_weight * (truth - prediction)**2`` as in
    the paper, so empty pixels do not inflate the predicted sigma.

    Parameters
    ----------
    prediction : `torch.Tensor`
        Predicted log10 maps.
    log_sigma : `torch.Tensor`
        Predicted ln(sigma / dex), same shape; clamped to `LOG_SIGMA_RANGE`.
    truth : `torch.Tensor`
        log10 truth with the empty sentinel.
    empty_weight : float
    reduction : {'mean', 'sum'}

    Returns
    -------
    loss : `torch.Tensor`
        Scalar.
    """
    _check(prediction, truth, reduction)
    _check(log_sigma, truth, reduction)
    truth = truth.float()
    known = truth > EMPTY_THRESHOLD
    log_sigma = log_sigma.float().clamp(*LOG_SIGMA_RANGE)
    squared = (truth - prediction.float()) ** 2
    nll = 0.5 * squared * torch.exp(-2.0 * log_sigma) + log_sigma
    total = torch.where(known, nll, empty_weight * squared).sum()
    return total if reduction == "sum" else total / truth.numel()


def block_sum_loss(prediction, truth, weights, *, min_block=2):
    """
    Mass-conserving term: log10 of block sums, predicted against true, at every scale.

    For block sizes ``s = min_block, 2 min_block, ...`` up to the image side,
    the predicted and the true surface densities are summed (linearly) over
    every ``s x s`` block; the term is the mean over scales and over blocks
    with any true mass of ``(log10 S_pred - log10 S_true)**2``, weighted per
    property. Empty truth pixels hold no mass; every predicted pixel counts,
    as it does when a prediction is summed over an aperture.

    Parameters
    ----------
    prediction : `torch.Tensor`
        Predicted log10 maps, ``(batch, properties, ny, nx)``.
    truth : `torch.Tensor`
        log10 truth with `~picasso.properties.LOG10_EMPTY` in empty pixels.
    weights : sequence of float
        Weight of the term for every property channel (0: none).
    min_block : int
        Side of the smallest block in pixels.

    Returns
    -------
    loss : `torch.Tensor`
        Scalar (0 when every weight is 0).
    """
    _check(prediction, truth, "mean")
    weights = torch.as_tensor(weights, dtype=torch.float32, device=prediction.device)
    if weights.shape != (prediction.shape[1],):
        raise ValueError(f"need one block weight per property ({prediction.shape[1]}), got "
                         f"{tuple(weights.shape)}")
    channels = torch.nonzero(weights > 0).flatten()
    if channels.numel() == 0:
        return prediction.sum() * 0.0
    ln10 = math.log(10.0)
    pred = prediction.float()[:, channels] * ln10
    known = truth[:, channels] > EMPTY_THRESHOLD
    true = torch.where(known, truth.float()[:, channels] * ln10, float("-inf"))
    side = min(prediction.shape[-2:])
    terms = []
    size = int(min_block)
    while size <= side:
        # ln of the sum over each block: ln(size**2 * mean(exp(x))) through a stable pooling
        pred_sum = _log_block_sum(pred, size)
        true_sum = _log_block_sum(true, size)
        has_mass = torch.isfinite(true_sum)
        squared = torch.where(has_mass, (pred_sum - torch.where(has_mass, true_sum, 0.0)) ** 2,
                              0.0) / ln10**2
        per_channel = squared.sum(dim=(0, 2, 3)) / has_mass.sum(dim=(0, 2, 3)).clamp(min=1)
        terms.append(per_channel)
        size *= 2
    per_channel = torch.stack(terms).mean(0)
    return (weights[channels] * per_channel).sum() / len(weights)


def _log_block_sum(log_values, size):
    """ln of the sum of ``exp(log_values)`` over ``size x size`` blocks (``-inf``: empty)."""
    batch, channels, ny, nx = log_values.shape
    blocks = log_values.reshape(batch, channels, ny // size, size, nx // size, size)
    return torch.logsumexp(blocks.permute(0, 1, 2, 4, 3, 5).reshape(
        batch, channels, ny // size, nx // size, size * size), dim=-1)


#: Loss names accepted by the trainer.
LOSSES = {
    "paper": masked_squared_error,
    "authors": authors_two_term_loss,
    "gaussian_nll": gaussian_nll,
}
