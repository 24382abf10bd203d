"""``TitansPF``: the Titans backbone as a pytorch-forecasting model, for ``TimeSeriesDataSet`` users.

    encoder window (B, L, targets ‖ encoder covariates) → patches → linear embedding (+ static covariates) → Titans
    → flatten → linear → (B, H, hidden) ‖ known future covariates (B, H, ·) → MLP per step → (B, H, Σ output_size)

Group ids, static and time-varying (known and unknown) real and categorical covariates, target normalisers and
pytorch-forecasting's losses (point losses, ``QuantileLoss``, ``MultiLoss`` for several targets) all come from the
dataset through ``TitansPF.from_dataset``; ``predict``, ``plot_prediction`` and ``plot_prediction_actual_by_variable``
work as for pytorch-forecasting's own models. The encoder and prediction lengths must be fixed, as for its N-HiTS
and TiDE, since the head is linear over the patches of one lookback.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from dataclasses import fields
from typing import Any

import torch
from pytorch_forecasting.data import TimeSeriesDataSet
from pytorch_forecasting.data.encoders import NaNLabelEncoder
from pytorch_forecasting.metrics import MAE, MAPE, RMSE, SMAPE, MultiHorizonMetric
from pytorch_forecasting.models.base import BaseModelWithCovariates
from pytorch_forecasting.models.nn.embeddings import MultiEmbedding
from torch import Tensor, nn

from titans_ts.backbones import Titans
from titans_ts.config import TitansConfig

_COVARIATE_LISTS = (
    "static_categoricals",
    "static_reals",
    "time_varying_categoricals_encoder",
    "time_varying_categoricals_decoder",
    "time_varying_reals_encoder",
    "time_varying_reals_decoder",
    "x_reals",
    "x_categoricals",
    "embedding_paddings",
)
_COVARIATE_MAPS = ("categorical_groups", "embedding_sizes", "embedding_labels")


class TitansPF(BaseModelWithCovariates):
    """Titans for pytorch-forecasting; build it with ``TitansPF.from_dataset(dataset, config=TitansConfig(...), ...)``.

    Args:
        context_length, prediction_length: L and H, set by ``from_dataset``.
        config: the Titans backbone, a ``TitansConfig`` or its ``to_dict()`` (default: ``TitansConfig()``); the hparams
            (and so checkpoints) hold it as that plain dict, and ``self.config`` as the ``TitansConfig``. Its dropout
            also applies before the head.
        patch_len, stride: patching of the encoder window; one token holds all targets and covariates of its patch.
        hidden_size: width per forecast step before the known future covariates join, and of the output MLP.
        output_size: outputs per target, set by ``from_dataset`` from the loss (e.g. the number of quantiles).
        loss: a pytorch-forecasting metric (default MAE); ``QuantileLoss`` gives prediction intervals.
        the covariate lists and embedding maps: set by ``from_dataset`` (``BaseModelWithCovariates``).
        **kwargs: ``BaseModel`` arguments (learning_rate, optimizer, reduce_on_plateau_patience, ...).
    """

    def __init__(
        self,
        context_length: int,
        prediction_length: int,
        config: TitansConfig | Mapping[str, Any] | None = None,
        patch_len: int = 8,
        stride: int = 4,
        hidden_size: int = 32,
        output_size: int | list[int] = 1,
        loss: MultiHorizonMetric | None = None,
        logging_metrics: nn.ModuleList | None = None,
        static_categoricals: list[str] | None = None,
        static_reals: list[str] | None = None,
        time_varying_categoricals_encoder: list[str] | None = None,
        time_varying_categoricals_decoder: list[str] | None = None,
        categorical_groups: dict[str, list[str]] | None = None,
        time_varying_reals_encoder: list[str] | None = None,
        time_varying_reals_decoder: list[str] | None = None,
        embedding_sizes: dict[str, tuple[int, int]] | None = None,
        embedding_paddings: list[str] | None = None,
        embedding_labels: dict[str, Any] | None = None,
        x_reals: list[str] | None = None,
        x_categoricals: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if not 1 <= patch_len <= context_length or stride < 1:
            raise ValueError(
                f"need 1 ≤ patch_len ≤ context_length {context_length} and stride ≥ 1; "
                f"got patch_len {patch_len}, stride {stride}"
            )
        loose = [name for name in kwargs if name in {spec.name for spec in fields(TitansConfig)}]
        if loose:
            raise TypeError(f"TitansPF takes the backbone as config=TitansConfig(...), not {', '.join(loose)}")
        backbone = config if isinstance(config, TitansConfig) else TitansConfig(**(config or {}))
        config = backbone.to_dict()  # what save_hyperparameters records: plain types, rebuilt on loading a checkpoint
        self.save_hyperparameters(ignore=["loss", "logging_metrics"])
        for name in _COVARIATE_LISTS + _COVARIATE_MAPS:
            if self.hparams[name] is None:
                self.hparams[name] = {} if name in _COVARIATE_MAPS else []
        metrics = nn.ModuleList([SMAPE(), MAE(), RMSE(), MAPE()]) if logging_metrics is None else logging_metrics
        super().__init__(loss=MAE() if loss is None else loss, logging_metrics=metrics, **kwargs)
        hp = self.hparams
        self.embeddings = MultiEmbedding(
            embedding_sizes=hp.embedding_sizes,
            categorical_groups=hp.categorical_groups,
            embedding_paddings=hp.embedding_paddings,
            x_categoricals=hp.x_categoricals,
        )
        self.n_patches = -(-(context_length - patch_len) // stride) + 1
        width = len(self.target_names) + self.encoder_covariate_size
        self.config = backbone
        self.embed = nn.Linear(patch_len * width, backbone.d_model)
        self.static = nn.Linear(self.static_size, backbone.d_model) if self.static_size else None
        self.backbone = Titans(backbone)
        self.head = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Dropout(backbone.dropout),
            nn.Linear(self.n_patches * backbone.d_model, prediction_length * hidden_size),
        )
        outputs = sum(output_size) if isinstance(output_size, (list, tuple)) else output_size
        self.output = nn.Sequential(
            nn.Linear(hidden_size + self.decoder_covariate_size, hidden_size),
            nn.GELU(),
            nn.Linear(hidden_size, outputs),
        )

    @property
    def encoder_covariate_size(self) -> int:
        """Width of the time-varying encoder covariates (targets excluded, categoricals embedded)."""
        reals = set(self.hparams.time_varying_reals_encoder) - set(self.target_names)
        return len(reals) + sum(self.embeddings.output_size[n] for n in self.hparams.time_varying_categoricals_encoder)

    @property
    def decoder_covariate_size(self) -> int:
        """Width of the known future covariates (categoricals embedded)."""
        reals = set(self.hparams.time_varying_reals_decoder) - set(self.target_names)
        return len(reals) + sum(self.embeddings.output_size[n] for n in self.hparams.time_varying_categoricals_decoder)

    @property
    def static_size(self) -> int:
        """Width of the static covariates (categoricals embedded)."""
        return len(self.hparams.static_reals) + sum(
            self.embeddings.output_size[name] for name in self.hparams.static_categoricals
        )

    def forward(self, x: dict[str, Tensor]) -> dict[str, Any]:
        """A batch of ``TimeSeriesDataSet`` → the network output with ``prediction`` in the target's units."""
        hp = self.hparams
        encoder = self.extract_features(x, self.embeddings, period="encoder")
        parts = [x["encoder_cont"][..., self.target_positions]]
        parts += [encoder[name] for name in self.encoder_variables if name not in self.target_names]
        tokens = self.embed(_patches(torch.cat(parts, dim=-1), hp.patch_len, hp.stride, self.n_patches))
        if self.static is not None:
            tokens = tokens + self.static(torch.cat([encoder[n][:, 0] for n in self.static_variables], dim=-1))[:, None]
        steps = self.head(self.backbone(tokens)[0]).view(tokens.shape[0], hp.prediction_length, hp.hidden_size)
        if self.decoder_covariate_size:
            decoder = self.extract_features(x, self.embeddings, period="decoder")
            known = [decoder[name] for name in self.decoder_variables if name not in self.target_names]
            steps = torch.cat([steps, *known], dim=-1)
        prediction = self.output(steps)
        if isinstance(hp.output_size, (list, tuple)):
            prediction = list(prediction.split(list(hp.output_size), dim=-1))
        return self.to_network_output(prediction=self.transform_output(prediction, target_scale=x["target_scale"]))

    @classmethod
    def from_dataset(cls, dataset: TimeSeriesDataSet, **kwargs: Any) -> TitansPF:
        """A model for ``dataset``: its lengths, covariates, normaliser and (from ``loss``) output sizes; ``kwargs``
        are hyperparameters (``config``, ``patch_len``, ..., ``BaseModel``'s). ValueError for a categorical target,
        variable lengths, or a target not among the dataset's reals (put it in ``time_varying_unknown_reals``)."""
        if isinstance(dataset.target_normalizer, NaNLabelEncoder):
            raise ValueError("TitansPF forecasts real-valued targets; the target is categorical")
        if dataset.min_encoder_length != dataset.max_encoder_length or dataset.randomize_length is not None:
            raise ValueError("TitansPF needs a fixed encoder length: min_encoder_length = max_encoder_length")
        if dataset.min_prediction_length != dataset.max_prediction_length:
            raise ValueError("TitansPF needs a fixed prediction length: min_prediction_length = max_prediction_length")
        missing = [name for name in dataset.target_names if name not in dataset.reals]
        if missing:
            raise ValueError(f"target(s) {', '.join(missing)} must be in time_varying_unknown_reals of the dataset")
        new_kwargs = copy(kwargs)
        new_kwargs.update(context_length=dataset.max_encoder_length, prediction_length=dataset.max_prediction_length)
        new_kwargs.update(cls.deduce_default_output_parameters(dataset, kwargs, MAE()))
        return super().from_dataset(dataset, **new_kwargs)


def _patches(x: Tensor, patch_len: int, stride: int, n_patches: int) -> Tensor:
    """(B, L, W) → (B, n_patches, patch_len·W), the start padded with the first step so the last patch ends at L."""
    span = (n_patches - 1) * stride + patch_len
    padded = torch.cat([x[:, :1].expand(-1, span - x.shape[1], -1), x], dim=1)
    return padded.unfold(1, patch_len, stride).flatten(2)
