"""The prompt-conditioned DCGAN: the condition is a sentence embedding of a phrase that names the emoji.

Each label (an emoji) carries PHRASINGS sentence embeddings of different phrases for it (text/phrases.py), held
in a `phrases` buffer that travels with the weights, so a text model answers `--label` without the text encoder.
In training each image takes a random phrasing, so the model learns the language around an emoji, not an id.

G: the text vector goes through conditioning augmentation (StackGAN: a learned mean and log-variance, a sample
from that Gaussian, and a KL term toward N(0, I) that `take_kl()` hands over after each training forward), and the
sample is concatenated to z before the DCGAN generator stack. At inference the mean is taken. `embedding=` feeds G a point of
that conditioning space directly (interpolation, encoding, prompts). D: the text vector, projected to embed_dim,
spread over the image as channels and concatenated, as the report's conditional D does with its label embedding."""
from __future__ import annotations

import torch
from torch import nn

from .dcgan import Discriminator, Generator

PHRASINGS = 8
INITIAL_LOGVAR = -4.0  # the conditioning noise's starting log-variance (std 0.135)
KL_WEIGHT = 0.05     # the conditioning-augmentation KL term's weight. StackGAN's 2 pins the noise at std 1 per dimension,
                     # which drowned the differences between emojis (docs/RESULTS.md, "Text models"); at 0.05 it stays a prior


class ConditioningAugmentation(nn.Module):
    """text (N, text_dim) -> (sample, mean, log-variance), each (N, embed_dim). Linear, and the noise starts small
    (std e^-2): StackGAN's ReLU keeps the log-variance >= 0, the noise at std >= 1 per dimension, and at first the
    means of different emojis differ by less than that noise, so G learns to ignore the condition and never
    gives the noise a reason to shrink (docs/RESULTS.md, "Text models")."""

    def __init__(self, text_dim: int, embed_dim: int):
        super().__init__()
        self.fc = nn.Linear(text_dim, 2 * embed_dim)
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


def pick_phrases(phrases: torch.Tensor, labels: torch.Tensor, training: bool) -> torch.Tensor:
    """Each label's text vector: a random phrasing in training, phrasing 0 (the annotation) otherwise."""
    k = torch.randint(phrases.shape[1], (len(labels),), device=labels.device) if training else \
        torch.zeros(len(labels), dtype=torch.long, device=labels.device)
    return phrases[labels, k]


class PhraseBook(nn.Module):
    """The `phrases` buffer (n_classes, PHRASINGS, text_dim) and the standardization of text vectors: sentence
    embeddings of emoji phrases share most of their direction (cosine 0.3-0.6 between unrelated emojis), so each is
    centred on the training phrases' mean and scaled to unit RMS before the networks see it; what tells emojis
    apart is then most of the signal. The mean and scale are fixed when the phrases are set, and kept by a
    fine-tune (the weights were learned on them)."""

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

    def text_of(self, labels: torch.Tensor) -> torch.Tensor:
        return self.standardize(pick_phrases(self.phrases, labels, self.training))


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
        self.ca = ConditioningAugmentation(text_dim, embed_dim)
        self.net = Generator(z_dim, size, channels, base, max_channels, in_dim=z_dim + embed_dim, attention=attention)
        self.kl = torch.zeros(())

    def take_kl(self) -> torch.Tensor:
        """The KL term of the last training forward, handed to the loss once and cleared, so that G holds no
        autograd graph between steps (it is deep-copied for sampling and EMA)."""
        kl, self.kl = self.kl, torch.zeros((), device=self.kl.device)
        return kl

    def condition(self, text: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings (N, text_dim) -> their conditioning means (N, embed_dim): a prompt's point."""
        return self.ca(self.standardize(text.to(self.ca.fc.weight.dtype)))[1]

    @property
    def embed(self) -> _Table:
        with torch.no_grad():
            return _Table(self.condition(self.phrases[:, 0]))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                embedding: torch.Tensor | None = None) -> torch.Tensor:
        if embedding is None:
            c, mu, logvar = self.ca(self.text_of(labels))
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
        self.project = nn.Sequential(nn.Linear(text_dim, embed_dim), nn.LeakyReLU(0.2))
        self.net = Discriminator(size, channels, base, max_channels, extra_channels=embed_dim, norm=norm,
                                 attention=attention)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        e = self.project(self.text_of(labels).to(x.dtype))
        e = e[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        xe = torch.cat([x, e], dim=1)
        if x.is_contiguous(memory_format=torch.channels_last):
            xe = xe.contiguous(memory_format=torch.channels_last)
        return self.net(xe)
