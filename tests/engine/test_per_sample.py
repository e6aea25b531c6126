"""StepContext.score: real and fake batches through D in one call only when that computes the same."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrizations

from gankit.engine.per_sample import scores_each_sample_alone
from tests.step_contexts import step_context


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0))


class _MinibatchMean(nn.Module):
    """A custom layer that mixes samples (as minibatch standard deviation does)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(0)


def test_only_torch_layers_that_treat_samples_apart_qualify():
    assert scores_each_sample_alone(_mlp())
    convs = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.SiLU(), nn.InstanceNorm2d(4), nn.Flatten())
    assert scores_each_sample_alone(convs)
    mixing = [
        nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)),  # batch statistics
        nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.5)),  # random numbers per call
        nn.Sequential(nn.Conv2d(1, 4, 3), nn.InstanceNorm2d(4, track_running_stats=True)),  # state per call
        nn.Sequential(parametrizations.spectral_norm(nn.Linear(6, 4))),  # a power iteration per call
        nn.Sequential(torch.nn.utils.spectral_norm(nn.Linear(6, 4))),  # the same, as a hook
        nn.Sequential(nn.Linear(6, 4), _MinibatchMean()),  # anything not known
    ]
    assert not any(scores_each_sample_alone(net) for net in mixing)
    hooked = _mlp()
    hooked[1].register_forward_hook(lambda module, args, out: out * 2)
    assert not scores_each_sample_alone(hooked)


def test_score_calls_a_per_sample_network_once_with_the_same_values():
    d = _mlp()
    calls = []
    forward = d.forward
    d.forward = lambda x: calls.append(len(x)) or forward(x)  # counts calls; no hook, same class
    t = step_context([], d)
    real, fake = torch.randn(5, 2, 3), torch.randn(3, 2, 3)
    real_scores, fake_scores = t.score(d, real, fake)
    assert calls == [8]
    torch.testing.assert_close(real_scores, forward(real))
    torch.testing.assert_close(fake_scores, forward(fake))
    (real_scores.mean() - fake_scores.mean()).backward()  # gradients reach the weights through the split
    assert all(p.grad is not None for p in d.parameters())


def test_score_calls_a_batch_norm_network_once_per_batch():
    d = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 1), nn.Flatten(0))
    twin = nn.Sequential(*[m for m in d])  # the same modules, so the same weights
    t = step_context([], d)
    real, fake = torch.randn(5, 2, 3), torch.randn(3, 2, 3)
    torch.manual_seed(0)
    scores = t.score(d, real, fake)
    stats = d[2].running_mean.clone()
    d[2].reset_running_stats()
    expected = twin(real), twin(fake)  # batch statistics of each batch alone, running stats updated twice
    assert all(torch.equal(a, b) for a, b in zip(scores, expected, strict=True))
    assert torch.equal(stats, d[2].running_mean)


def test_score_stops_stacking_a_network_whose_output_does_not_split():
    heads = nn.Sequential(nn.Flatten(), nn.Linear(6, 4))
    heads.forward = lambda x: (calls.append(len(x)), nn.Sequential.forward(heads, x).unbind(1))[1]  # a tuple
    calls: list[int] = []
    t = step_context([], heads)
    real, fake = torch.randn(5, 2, 3), torch.randn(3, 2, 3)
    first = t.score(heads, real, fake)
    assert calls == [8, 5, 3]  # tried stacked once, then one call per batch
    assert [len(out) for out in first] == [4, 4] and len(first[0][0]) == 5
    calls.clear()
    t.score(heads, real, fake)
    assert calls == [5, 3]
    assert not scores_each_sample_alone(heads)
