import pytest
import torch
from numpy.testing import assert_allclose

from picasso.nn.loss import authors_two_term_loss, gaussian_nll, masked_squared_error
from picasso.properties import LOG10_EMPTY


def _batch():
    truth = torch.full((1, 2, 4, 4), LOG10_EMPTY)
    truth[0, 0, :2, :2] = 7.0  # 4 known pixels
    truth[0, 1, 0, 0] = -2.0  # 1 known pixel
    prediction = torch.zeros_like(truth)
    return prediction, truth


def test_paper_loss_by_hand():
    prediction, truth = _batch()
    # known: 4 * 7**2 + 2**2; empty: 27 pixels at (-100)**2 weighted 1e-6
    expected = 4 * 49 + 4 + 1e-6 * 27 * 100**2
    assert_allclose(masked_squared_error(prediction, truth, reduction="sum").item(), expected,
                    rtol=1e-6)
    assert_allclose(masked_squared_error(prediction, truth).item(), expected / 32, rtol=1e-6)


def test_empty_pixels_are_ignored_up_to_their_tiny_weight():
    prediction, truth = _batch()
    known = truth > LOG10_EMPTY / 2
    changed = prediction.clone()
    changed[~known] = 50.0  # wildly wrong on empty pixels only
    base = masked_squared_error(prediction, truth, empty_weight=0.0)
    assert masked_squared_error(changed, truth, empty_weight=0.0) == base
    # a perfect prediction on known pixels costs nothing, whatever it does elsewhere
    perfect = torch.where(known, truth, torch.full_like(truth, 3.0))
    assert masked_squared_error(perfect, truth, empty_weight=0.0) == 0
    # the gradient on empty pixels is 1e-6 of what it would be on known ones
    perfect.requires_grad_(True)
    masked_squared_error(perfect, truth, reduction="sum").backward()
    assert_allclose(perfect.grad[~known].numpy(), 2e-6 * (3.0 - LOG10_EMPTY), rtol=1e-5)
    assert torch.all(perfect.grad[known] == 0)


def test_authors_two_term_mean():
    prediction, truth = _batch()
    expected = (4 * 49 + 4) / 5 + 1e-6 * 100**2
    assert_allclose(authors_two_term_loss(prediction, truth).item(), expected, rtol=1e-6)


def test_gaussian_nll():
    prediction, truth = _batch()
    log_sigma = torch.full_like(truth, 0.5)
    known = truth > LOG10_EMPTY / 2
    squared = (truth - prediction) ** 2
    expected = (0.5 * squared[known] * torch.exp(torch.tensor(-1.0)) + 0.5).sum() + \
        1e-6 * squared[~known].sum()
    assert_allclose(gaussian_nll(prediction, log_sigma, truth, reduction="sum").item(),
                    expected.item(), rtol=1e-6)
    # at fixed error the best sigma is the error itself
    error = torch.tensor(0.3)
    sigmas = torch.linspace(0.05, 1.0, 200)
    values = [gaussian_nll(error.view(1, 1, 1, 1), torch.log(s).view(1, 1, 1, 1),
                           torch.zeros(1, 1, 1, 1)).item() for s in sigmas]
    assert_allclose(sigmas[int(torch.tensor(values).argmin())].item(), 0.3, atol=0.01)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="differs from truth shape"):
        masked_squared_error(torch.zeros(1, 7, 4, 4), torch.zeros(1, 6, 4, 4))
