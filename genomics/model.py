"""``TitansClassifierNet``: nucleotide embeddings → a Titans backbone → pooling over the real tokens → class logits."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genomics.tokens import PAD
from titans_ts import Titans, TitansConfig

POOLINGS = ("mean", "last", "attention")


class MaskedPooling(nn.Module):
    """(B, T, D) features and a (B, T) prefix mask → (B, D): the mean over real tokens ("mean"), the last real token
    ("last"; with a causal backbone it has seen the whole sequence), or a softmax-weighted sum with learned scores over
    real tokens ("attention")."""

    def __init__(self, how: str, d_model: int) -> None:
        super().__init__()
        if how not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {how!r}")
        self.how = how
        self.score = nn.Linear(d_model, 1) if how == "attention" else None

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        if self.how == "last":
            last = mask.sum(dim=1) - 1
            return features[torch.arange(features.shape[0], device=features.device), last]
        if self.score is None:
            weights = mask.to(features.dtype) / mask.sum(dim=1, keepdim=True)
        else:
            weights = self.score(features).squeeze(-1).masked_fill(~mask, float("-inf")).softmax(dim=1)
        return torch.einsum("bt,btd->bd", weights, features)


class TitansClassifierNet(nn.Module):
    """tokens (B, T) int64 and mask (B, T) bool (True on real tokens, right padding) → logits (B, n_classes).

    The backbone is causal, so the features of real tokens never see the padding after them: the output does not
    depend on how much padding follows.
    """

    def __init__(self, vocab_size: int, n_classes: int, config: TitansConfig, pooling: str = "mean") -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, config.d_model, padding_idx=PAD)
        self.backbone = Titans(config)
        self.pooling = MaskedPooling(pooling, config.d_model)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.d_model, n_classes))

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        features, _ = self.backbone(self.embedding(tokens))  # the state after the padding: of no use here
        return self.head(self.pooling(features, mask))


class TokenProbabilities(nn.Module):
    """tokens (B, T) int64, right-padded with PAD → class probabilities (B, n_classes) of ``classifier`` (tokens,
    mask) → logits, with the mask read from the tokens (``tokens != PAD``): the one-input form a classifier is
    served in."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, tokens: Tensor) -> Tensor:
        return self.classifier(tokens, tokens != PAD).softmax(dim=-1)
