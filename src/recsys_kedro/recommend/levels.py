"""Engagement levels: how far an event type goes towards a sale (0 view, 1 cart,
2 remove_from_cart, 3 purchase by default; ``feature_engineering.engagement_levels`` in
the parameters may merge or reorder them). feature_engineering labels events with them;
engagement and eda name them."""

from __future__ import annotations

from collections.abc import Mapping

EVENT_TYPES = ("view", "cart", "remove_from_cart", "purchase")
DEFAULT_LEVELS: dict[str, int] = {
    "view": 0,
    "cart": 1,
    "remove_from_cart": 2,
    "purchase": 3,
}


def level_names(levels: Mapping[str, int] | None = None) -> dict[int, str]:
    """Engagement level -> readable name (event types sharing a level joined by '+').

    Args:
        levels: Event type -> level; ``None``: :data:`DEFAULT_LEVELS`.

    Returns:
        E.g. ``{0: "view", 1: "cart", 2: "remove_from_cart", 3: "purchase"}``.
    """
    names: dict[int, list[str]] = {}
    for event_type, level in (levels or DEFAULT_LEVELS).items():
        names.setdefault(level, []).append(event_type)
    return {level: "+".join(types) for level, types in sorted(names.items())}
