import torch
import torch.nn.functional as F
from torch import nn

from gankit import Architecture, GankitError, Loss, UnsupportedRequest


class Generator(nn.Module):
    """G(z, label): the label's embedding is concatenated to the noise."""

    def __init__(self, z_dim, num_classes, shape, hidden, embedding):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embedding) if num_classes else None
        width = z_dim + (embedding if num_classes else 0)
        numel = int(torch.Size(shape).numel())
        self.net = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, numel), nn.Tanh(), nn.Unflatten(1, shape)
        )

    def forward(self, z, label=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(label)], 1)
        return self.net(z)


class ProjectionDiscriminator(nn.Module):
    """D(x, label) = w . h(x) + embed(label) . h(x) (Miyato & Koyama 2018)."""

    def __init__(self, numel, num_classes, hidden):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(numel, hidden), nn.LeakyReLU(0.2))
        self.score = nn.Linear(hidden, 1)
        self.embed = nn.Embedding(num_classes, hidden) if num_classes else None

    def forward(self, x, label=None):
        h = self.features(x)
        scores = self.score(h).squeeze(1)
        if self.embed is not None:
            scores = scores + (self.embed(label) * h).sum(1)
        return scores


class CondMLP(Architecture):
    def __init__(self, config):
        self.config = config

    def build(self, request):
        inputs = list(request.inputs.items())
        classes = [f for _, f in inputs[1:] if f.kind == "class"]
        if len(classes) != len(inputs) - 1 or len(classes) > 1:
            raise UnsupportedRequest(f"it conditions on one class label at most, not {request.describe()}")
        num_classes = classes[0].num_classes if classes else None
        first = inputs[0][1]
        cfg = self.config
        if request.role == "generator" and first.kind == "noise":
            (out,) = request.outputs.values()
            return Generator(first.shape[0], num_classes, out.shape, cfg.hidden, cfg.embedding)
        if request.role == "discriminator" and first.kind in ("image", "points") and len(request.outputs) == 1:
            return ProjectionDiscriminator(first.numel, num_classes, cfg.hidden)
        raise UnsupportedRequest(f"it builds generators and discriminators, not {request.describe()}")


class RelativisticStandard(Loss):
    """RSGAN (Jolicoeur-Martineau 2019): each real should score above its paired fake, and G wants
    the opposite, so G's loss needs the real scores as well."""

    needs_real_scores = True

    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores, fake_scores):
        return F.softplus(-(real_scores - fake_scores)).mean()

    def generator_loss(self, fake_scores, real_scores=None):
        if real_scores is None:
            raise GankitError("loss 'rsgan' needs the real scores in G's step; this scheme did not pass them")
        return F.softplus(-(fake_scores - real_scores)).mean()
