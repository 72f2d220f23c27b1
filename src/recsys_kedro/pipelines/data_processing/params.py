"""Typed parameters of the data_processing pipeline.

They are checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs, so a
typo in ``parameters_data_processing.yml`` fails the run at once with the key's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys_kedro.raw_schemas import EVENT_COLUMNS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventsParams(_Strict):
    """How the event logs are read and checked."""

    columns: list[str] = Field(default_factory=lambda: list(EVENT_COLUMNS))
    event_types: list[str] = Field(
        default_factory=lambda: ["view", "cart", "remove_from_cart", "purchase"]
    )
    time_format: str = "yyyy-MM-dd HH:mm:ss"
    time_min: datetime = datetime(2019, 1, 1)
    time_max: datetime = datetime(2031, 1, 1)
    price_max: float = Field(
        100_000.0, gt=0, description="Prices above it are quarantined (price_above_max)"
    )
    required: list[str] = Field(
        default_factory=lambda: [
            "event_time",
            "event_type",
            "product_id",
            "price",
            "user_id",
            "user_session",
        ]
    )

    @model_validator(mode="after")
    def _check(self) -> EventsParams:
        if sorted(self.columns) != sorted(EVENT_COLUMNS):
            raise ValueError(
                f"events.columns must name the 9 columns of the public dataset "
                f"{EVENT_COLUMNS}, got {self.columns}"
            )
        if self.time_min >= self.time_max:
            raise ValueError("events.time_min must be before events.time_max")
        unknown = sorted(set(self.required) - set(EVENT_COLUMNS))
        if unknown:
            raise ValueError(f"events.required names unknown columns {unknown}")
        return self


class TableParams(_Strict):
    """A table read through a column mapping (source name -> canonical name)."""

    column_mapping: dict[str, str] = Field(default_factory=dict)
    columns: list[str]
    required: list[str]

    @model_validator(mode="after")
    def _check(self) -> TableParams:
        unknown = sorted(set(self.required) - set(self.columns))
        if unknown:
            raise ValueError(f"required columns {unknown} are not in columns")
        bad_targets = sorted(set(self.column_mapping.values()) - set(self.columns))
        if bad_targets:
            raise ValueError(
                f"column_mapping maps to {bad_targets}, which are not canonical columns "
                f"{self.columns}"
            )
        return self


class ReviewsParams(TableParams):
    """How review exports are read: Sephora's by default, others through the mapping."""

    rating_min: int = 1
    rating_max: int = 5
    date_format: str = "yyyy-MM-dd"


class DataProcessingParams(_Strict):
    """All parameters of the pipeline (``params:data_processing``)."""

    invalid_text: Literal["quarantine", "keep"] = Field(
        "quarantine",
        description=(
            "Rows holding undecodable bytes (U+FFFD) or control characters: "
            "quarantined (invalid_encoding, control_character), or kept in the clean "
            "table with invalid_text = true; counted per file either way"
        ),
    )
    events: EventsParams = Field(default_factory=EventsParams)
    reviews: ReviewsParams
    products: TableParams
