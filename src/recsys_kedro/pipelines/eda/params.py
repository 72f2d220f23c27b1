"""Typed parameters of the eda pipeline (``parameters_eda.yml``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EdaParams(BaseModel):
    """What the pictures show and where the report finds them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_brands: int = Field(20, ge=1, le=100)
    pictures_href: str = Field(
        "eda",
        min_length=1,
        description="The pictures' folder relative to the report (the catalog writes "
        "them to data/08_reporting/eda/, the report to data/08_reporting/).",
    )


def parse_params(params: Mapping[str, Any] | EdaParams) -> EdaParams:
    """Validates ``params:eda``.

    Args:
        params: The raw mapping (or an already parsed object).

    Returns:
        The typed parameters.
    """
    if isinstance(params, EdaParams):
        return params
    return EdaParams.model_validate(params)


# The model of `params:eda`, found by recsys_kedro.parameters (no hand-kept list).
MODEL = EdaParams
