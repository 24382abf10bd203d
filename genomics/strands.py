"""Both DNA strands: reverse-complement augmentation for training and strand averaging at test time."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genomics.tokens import reverse_complement_tokens


def random_reverse_complement(
    tokens: Tensor, mask: Tensor, complement: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """``tokens`` (B, T) with each row, independently with probability 1/2, replaced by its reverse complement."""
    flip = torch.rand(tokens.shape[0], 1, generator=generator, device=tokens.device) < 0.5
    return torch.where(flip, reverse_complement_tokens(tokens, mask, complement), tokens)


class StrandAveraged(nn.Module):
    """A classifier (tokens, mask) → logits whose eval-mode output averages the class probabilities of a sequence and
    of its reverse complement, returned as logits (log of the mean probabilities); in training mode it is ``model``."""

    def __init__(self, model: nn.Module, complement: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("complement", complement.clone(), persistent=False)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        if self.training:
            return self.model(tokens, mask)
        reverse = reverse_complement_tokens(tokens, mask, self.complement)
        both = torch.stack([self.model(tokens, mask).log_softmax(-1), self.model(reverse, mask).log_softmax(-1)])
        return torch.logsumexp(both, dim=0) - math.log(2.0)
