"""Engagement level names."""

from recsys_kedro.recommend.levels import level_names


def test_default_and_merged_levels_are_named():
    assert level_names() == {
        0: "view",
        1: "cart",
        2: "remove_from_cart",
        3: "purchase",
    }
    merged = {"view": 0, "cart": 1, "remove_from_cart": 1, "purchase": 2}
    assert level_names(merged) == {0: "view", 1: "cart+remove_from_cart", 2: "purchase"}
