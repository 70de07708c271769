"""Scalarizations against hand-computed values."""
import math

import pytest
import torch

from polarlab.harmonizer.scalarize import scalarize, source_losses

# losses l_ij; the 100.0 sits where the source abstained and must be ignored
LOSSES = torch.tensor([[1.0, 2.0, 3.0],
                       [0.5, 100.0, 4.0],
                       [100.0, 100.0, 100.0]])
MASK = torch.tensor([[True, True, True],
                     [True, False, True],
                     [False, False, False]])
W = torch.tensor([1.0, 0.5, 2.0])
# row 0: w*l = [1, 1, 6];  row 1: w*l = [0.5, -, 8];  row 2: every source abstained -> 0
EXPECTED = {
    "linear": [1 + 1 + 6, 0.5 + 8, 0.0],                          # 8, 8.5
    "square": [8.0 ** 2, 8.5 ** 2, 0.0],                          # 64, 72.25
    "2norm": [math.sqrt(1 + 1 + 36), math.sqrt(0.25 + 64), 0.0],  # sqrt(38), sqrt(64.25)
    "max": [6.0, 8.0, 0.0],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_scalarization_hand_values(kind):
    out = scalarize(kind, LOSSES, MASK, W)
    assert out.shape == (3,)
    assert torch.allclose(out, torch.tensor(EXPECTED[kind]), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_gradients_finite_and_zero_on_all_abstain_rows(kind):
    losses = LOSSES.clone().requires_grad_(True)
    scalarize(kind, losses, MASK, W).sum().backward()
    g = losses.grad
    assert torch.isfinite(g).all()
    assert (g[~MASK] == 0).all()           # abstained entries get no gradient


def test_max_gradient_only_on_worst_source():
    losses = LOSSES.clone().requires_grad_(True)
    scalarize("max", losses, MASK, W).sum().backward()
    # row 0: w*l = [1, 1, 6] -> only source 2 carries gradient, d/dl = w_2 = 2
    assert losses.grad[0].tolist() == [0.0, 0.0, 2.0]


def test_source_losses_cross_entropy_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])        # softmax = [0.25, 0.75]
    votes = torch.tensor([[1, 0, -1]])
    losses, mask = source_losses(logits, votes)
    assert mask.tolist() == [[True, True, False]]
    assert torch.allclose(losses, torch.tensor([[-math.log(0.75), -math.log(0.25), 0.0]]), atol=1e-6)


def test_unknown_scalarization():
    with pytest.raises(ValueError, match="unknown scalarization"):
        scalarize("cube", LOSSES, MASK, W)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_class_aggregated_form_equals_per_source_form(kind):
    """Training uses the O(b k) class-aggregated form; it must equal the per-source definition."""
    from polarlab.harmonizer.scalarize import class_aggregate, scalarize_by_class
    g = torch.Generator().manual_seed(0)
    votes = torch.randint(-1, 4, (60, 7), generator=g)
    votes[0] = -1                                        # a row where every source abstains
    w = torch.rand(7, generator=g)
    w[2] = 0.0
    logits = torch.randn(60, 4, generator=g)
    per_source = scalarize(kind, *source_losses(logits, votes), w)
    nll = -torch.log_softmax(logits, dim=1)
    agg = class_aggregate(kind, votes, w, 4)
    assert torch.allclose(scalarize_by_class(kind, nll, agg), per_source, atol=1e-5)
    assert torch.allclose(scalarize_by_class(kind, nll.t(), agg.t(), dim=0), per_source, atol=1e-5)
    assert per_source[0] == 0.0
