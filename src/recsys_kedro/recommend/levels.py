"""Engagement levels: how far an event type goes towards a sale (0 view, 1 cart,
2 remove_from_cart, 3 purchase by default; ``engagement_levels`` in ``parameters.yml``
may merge or reorder them). feature_engineering labels events with them; engagement and
eda name them."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ConfigDict, Field, RootModel, model_validator

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


class EngagementLevels(RootModel[dict[str, int]]):
    """``params:engagement_levels``: event type -> level, one entry per event type."""

    model_config = ConfigDict(frozen=True)
    root: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_LEVELS))

    @model_validator(mode="after")
    def _check(self) -> EngagementLevels:
        missing = [t for t in EVENT_TYPES if t not in self.root]
        unknown = sorted(set(self.root) - set(EVENT_TYPES))
        if missing or unknown:
            raise ValueError(
                f"engagement_levels needs exactly the event types {list(EVENT_TYPES)}: "
                f"missing {missing}, unknown {unknown}"
            )
        if any(level < 0 for level in self.root.values()):
            raise ValueError("engagement levels must not be negative")
        return self

    def names(self) -> dict[int, str]:
        """Level -> readable name (see :func:`level_names`)."""
        return level_names(self.root)
