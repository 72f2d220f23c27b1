"""Fixtures for the data_processing tests: the project's own parameters and raw files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recsys_kedro.datasets import RawCsvDataset

PARAMS_FILE = (
    Path(__file__).resolve().parents[3]
    / "conf"
    / "base"
    / "parameters_data_processing.yml"
)

EVENT_HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
REVIEW_HEADER = (
    "Unnamed: 0,author_id,rating,is_recommended,helpfulness,total_feedback_count,"
    "total_neg_feedback_count,total_pos_feedback_count,submission_time,review_text,"
    "review_title,skin_tone,eye_color,skin_type,hair_color,product_id,product_name,"
    "brand_name,price_usd"
)
PRODUCT_HEADER = (
    "product_id,product_name,brand_id,brand_name,loves_count,rating,reviews,size,"
    "variation_type,variation_value,variation_desc,ingredients,price_usd,value_price_usd,"
    "sale_price_usd,limited_edition,new,online_only,out_of_stock,sephora_exclusive,"
    "highlights,primary_category,secondary_category,tertiary_category,child_count,"
    "child_max_price,child_min_price"
)


@pytest.fixture(scope="session")
def params() -> dict:
    """``params:data_processing`` exactly as the project ships it."""
    return yaml.safe_load(PARAMS_FILE.read_text())["data_processing"]


@pytest.fixture
def raw_files(spark, tmp_path: Path):
    """Writes ``{file name: text}`` into a folder and reads it as the pipeline does."""

    def make(
        folder: str,
        files: dict[str, str],
        pattern: str = "*.csv",
        multiline: bool = False,
    ):
        root = tmp_path / folder
        root.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / name).write_text(text)
        return RawCsvDataset(
            path=str(root), pattern=pattern, multiline=multiline
        ).load()

    return make
