"""The prompt-conditioned DCGAN: the condition is a sentence embedding of a phrase that names the emoji.

Each label (an emoji) carries PHRASINGS sentence embeddings of different phrases for it (text/phrases.py), held
in a `phrases` buffer that travels with the weights, so a text model answers `--label` without the text encoder.
In training each image takes a random phrasing, so the model learns the language around an emoji, not an id.

The text reaches the networks through a phrase memory (cross-attention): the sentence embedding is the query, the
training phrasings are the keys (cosine at temperature ROUTE_TEMPERATURE), and each emoji's value is a learned
vector. A prompt becomes the blend of the learned vectors of the emojis whose phrasings it resembles. In training
the phrasing drawn is masked out of the keys (leave-one-out), so the condition is always reached through the other
ways of saying that emoji, as an unseen paraphrase is at inference. A learned linear map from the 384-d embedding
instead (the design before) left G unable to tell its 311 emojis apart: the phrasings of one emoji sit as far apart
in that space as those of two others, and prompt fidelity top-5 stayed at 0.08 (docs/RESULTS.md, "Text models").

G: the blend goes through conditioning augmentation (StackGAN: a learned mean and log-variance, a sample from that
Gaussian, and a KL term toward N(0, I) that `take_kl()` hands over after each training forward), and the sample is
concatenated to z before the DCGAN generator stack. At inference the mean is taken. `embedding=` feeds G a point of
that conditioning space directly (interpolation, encoding, prompts). D: its own blend of its own learned vectors,
spread over the image as channels and concatenated, as the report's conditional D does with its label embedding."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dcgan import Discriminator, Generator

PHRASINGS = 8
INITIAL_LOGVAR = -4.0  # the conditioning noise's starting log-variance (std 0.135)
ROUTE_TEMPERATURE = 0.05  # the phrase memory's softmax temperature on cosines, chosen on the training phrasings alone
                          # (leave-one-out): 0.05 and 0.07 tie on the log-likelihood of the own emoji (-1.36, -1.34),
                          # and 0.05 keeps more weight on it (64% against 55%; experiments/route_temperature.py)
KL_WEIGHT = 0.05  # the conditioning-augmentation KL term's weight. StackGAN's 2 pins the noise at std 1 per dimension,
                  # which drowned the differences between emojis (docs/RESULTS.md, "Text models"); at 0.05 a prior


class ConditioningAugmentation(nn.Module):
    """The phrase memory's blend (N, in_dim) -> (sample, mean, log-variance), each (N, embed_dim). Linear, and the
    noise starts small (std e^-2): StackGAN's ReLU keeps the log-variance >= 0, the noise at std >= 1 per
    dimension, and at first the means of different emojis differ by less than that noise, so G learns to ignore
    the condition and never gives the noise a reason to shrink (docs/RESULTS.md, "Text models")."""

    def __init__(self, in_dim: int, embed_dim: int):
        super().__init__()
        self.fc = nn.Linear(in_dim, 2 * embed_dim)
        with torch.no_grad():
            self.fc.bias[embed_dim:].fill_(INITIAL_LOGVAR)

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.fc(t).chunk(2, dim=1)
        if not self.training:
            return mu, mu, logvar
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp(), mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), averaged over the batch and the dimensions (StackGAN)."""
    return (-0.5 * (1 + logvar - mu.square() - logvar.exp())).mean()


def memory_weights(queries: torch.Tensor, keys: torch.Tensor, n_classes: int, temperature: float = ROUTE_TEMPERATURE,
          exclude: torch.Tensor | None = None) -> torch.Tensor:
    """The phrase memory's weights: standardized queries (N, D) against standardized keys (n_classes * K, D), emoji
    by emoji -> (N, n_classes), each row summing to 1: a softmax of the cosines over every key, summed per emoji.
    `exclude` (N,) masks one key per row (leave-one-out)."""
    s = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T / temperature
    if exclude is not None:
        s = s.scatter(1, exclude[:, None], -1e4)
    return s.float().softmax(dim=-1).view(len(queries), n_classes, -1).sum(-1)


class PhraseBook(nn.Module):
    """The `phrases` buffer (n_classes, PHRASINGS, text_dim) and the standardization of text vectors: sentence
    embeddings of emoji phrases share most of their direction (cosine 0.3-0.6 between unrelated emojis), so each is
    centred on the training phrases' mean and scaled to unit RMS before the networks see it; what tells emojis
    apart is then most of the signal. The mean and scale are fixed when the phrases are set, and kept by a
    fine-tune (the weights were learned on them). The phrases are also the phrase memory's keys (`route`)."""

    def _init_phrases(self, n_classes: int, text_dim: int) -> None:
        self.register_buffer("phrases", torch.zeros(n_classes, PHRASINGS, text_dim))
        self.register_buffer("text_mean", torch.zeros(text_dim))
        self.register_buffer("text_scale", torch.ones(()))

    @torch.no_grad()
    def set_phrases(self, phrases: torch.Tensor) -> None:
        flat = phrases.flatten(0, 1).float()
        self.phrases.copy_(phrases)
        self.text_mean.copy_(flat.mean(0))
        self.text_scale.copy_((flat - flat.mean(0)).square().mean().sqrt().clamp_min(1e-6))

    def standardize(self, text: torch.Tensor) -> torch.Tensor:
        return (text - self.text_mean.to(text.dtype)) / self.text_scale.to(text.dtype)

    def route(self, text: torch.Tensor, exclude: torch.Tensor | None = None,
              temperature: float = ROUTE_TEMPERATURE) -> torch.Tensor:
        """Sentence embeddings (N, text_dim) -> (N, n_classes) weights summing to 1 over this model's emojis
        (`memory_weights`). `exclude` (N,) masks one phrasing (its flat index, label * PHRASINGS + k) per row."""
        keys = self.standardize(self.phrases.flatten(0, 1).to(text.dtype))
        return memory_weights(self.standardize(text), keys, self.phrases.shape[0], temperature, exclude)

    def label_weights(self, labels: torch.Tensor) -> torch.Tensor:
        """Each label's routing: in training a random phrasing of it, routed without itself; otherwise phrasing 0
        (the annotation)."""
        p = self.phrases.shape[1]
        if not self.training:
            return self.route(self.phrases[labels, 0])
        flat = labels * p + torch.randint(p, (len(labels),), device=labels.device)
        return self.route(self.phrases.flatten(0, 1)[flat], exclude=flat)

    @torch.no_grad()
    def load_trained(self, state: dict[str, torch.Tensor]) -> None:
        """A trained text model's weights into this one, which keeps its own phrases (a fine-tune's data) and the
        trained standardization. Each emoji's value starts where the trained model's memory puts its phrasings:
        an emoji it learned gets its own value back, a new one the blend of those it resembles (text64's "hamster"
        starts among mouse, mouse face, poodle and cat)."""
        old_phrases, old_values = state["phrases"].float(), state["values"].float()
        missing, unexpected = self.load_state_dict({k: v for k, v in state.items() if k not in ("phrases", "values")},
                                                   strict=False)
        if unexpected or set(missing) != {"phrases", "values"}:
            raise RuntimeError(f"missing {missing}, unexpected {unexpected}")
        if old_phrases.shape == self.phrases.shape and torch.allclose(old_phrases, self.phrases.float(), atol=2e-3):
            self.values.copy_(old_values)      # the same emojis: a continuation
            return
        w = memory_weights(self.standardize(self.phrases.flatten(0, 1).float()),
                           self.standardize(old_phrases.flatten(0, 1)), len(old_values))
        self.values.copy_(w.view(self.phrases.shape[0], self.phrases.shape[1], -1).mean(1) @ old_values)


class _Table:
    """`G.embed.weight` of a text model: each label's conditioning mean (phrasing 0), as latent tools read it."""

    def __init__(self, weight: torch.Tensor):
        self.weight = weight


class TextGenerator(PhraseBook):
    def __init__(self, n_classes: int, z_dim: int = 100, embed_dim: int = 128, size: int = 64, channels: int = 4,
                 base: int = 64, max_channels: int = 512, attention: bool = False, text_dim: int = 384):
        super().__init__()
        if n_classes < 1:
            raise ValueError("a text generator needs at least one emoji")
        self.n_classes, self.z_dim, self.embed_dim, self.text_dim = n_classes, z_dim, embed_dim, text_dim
        self.size, self.channels = size, channels
        self._init_phrases(n_classes, text_dim)
        self.values = nn.Parameter(torch.randn(n_classes, embed_dim))   # each emoji's point, N(0, 1) as cond128's table
        self.ca = ConditioningAugmentation(embed_dim, embed_dim)
        self.net = Generator(z_dim, size, channels, base, max_channels, in_dim=z_dim + embed_dim, attention=attention)
        self.kl = torch.zeros(())

    def take_kl(self) -> torch.Tensor:
        """The KL term of the last training forward, handed to the loss once and cleared, so that G holds no
        autograd graph between steps (it is deep-copied for sampling and EMA)."""
        kl, self.kl = self.kl, torch.zeros((), device=self.kl.device)
        return kl

    def condition(self, text: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings (N, text_dim) -> their conditioning means (N, embed_dim): a prompt's point."""
        w = self.route(text.to(self.values.dtype))
        return self.ca(w.to(self.values.dtype) @ self.values)[1]

    @property
    def embed(self) -> _Table:
        with torch.no_grad():
            return _Table(self.condition(self.phrases[:, 0]))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                embedding: torch.Tensor | None = None) -> torch.Tensor:
        if embedding is None:
            c, mu, logvar = self.ca(self.label_weights(labels).to(self.values.dtype) @ self.values)
            if self.training:
                self.kl = kl_divergence(mu.float(), logvar.float())
        else:
            c = embedding
        return self.net(torch.cat([z.flatten(1), c.to(z.dtype)], dim=1))


class TextDiscriminator(PhraseBook):
    """D conditioned on the text vector of the image's label (a random phrasing in training)."""

    def __init__(self, n_classes: int, embed_dim: int = 128, size: int = 64, channels: int = 4, base: int = 64,
                 max_channels: int = 512, norm: str = "batch", attention: bool = False, text_dim: int = 384):
        super().__init__()
        self.n_classes, self.size, self.channels = n_classes, size, channels
        self._init_phrases(n_classes, text_dim)
        self.values = nn.Parameter(torch.randn(n_classes, embed_dim))
        self.net = Discriminator(size, channels, base, max_channels, extra_channels=embed_dim, norm=norm,
                                 attention=attention)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        e = (self.label_weights(labels).to(self.values.dtype) @ self.values).to(x.dtype)
        e = e[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        xe = torch.cat([x, e], dim=1)
        if x.is_contiguous(memory_format=torch.channels_last):
            xe = xe.contiguous(memory_format=torch.channels_last)
        return self.net(xe)
