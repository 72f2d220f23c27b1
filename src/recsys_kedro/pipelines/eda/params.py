"""Typed parameters of the eda pipeline (``parameters_eda.yml``)."""

from __future__ import annotations

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
