"""Classification metrics from a confusion table (small: classes x classes), shared by
the sentiment evaluation (nlp) and the engagement model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def classification_metrics(
    confusion: Mapping[tuple[str, str], int], classes: Sequence[str]
) -> dict[str, float]:
    """Accuracy, macro-F1 and per-class precision, recall and F1.

    A prediction outside ``classes`` (e.g. "neutral" when the truth is positive or
    negative) counts as a miss for its true class and as no class's prediction.

    Args:
        confusion: ``(true class, predicted class) -> count``.
        classes: The true classes; macro-F1 averages over these.

    Returns:
        ``accuracy``, ``macro_f1``, ``n`` and ``precision_<c>``, ``recall_<c>``,
        ``f1_<c>`` per class (0 where undefined, e.g. a class never predicted).
    """
    n = sum(count for (truth, _), count in confusion.items() if truth in classes)
    correct = sum(confusion.get((c, c), 0) for c in classes)
    out: dict[str, float] = {
        "n": float(n),
        "accuracy": correct / n if n else 0.0,
    }
    f1s = []
    for c in classes:
        tp = confusion.get((c, c), 0)
        predicted = sum(v for (t, p), v in confusion.items() if p == c and t in classes)
        actual = sum(v for (t, _), v in confusion.items() if t == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        out[f"precision_{c}"] = precision
        out[f"recall_{c}"] = recall
        out[f"f1_{c}"] = f1
        f1s.append(f1)
    out["macro_f1"] = sum(f1s) / len(f1s) if f1s else 0.0
    return out


def majority_baseline(
    class_counts: Mapping[str, int], classes: Sequence[str]
) -> dict[str, float]:
    """Metrics of always predicting the most frequent class.

    Args:
        class_counts: True class -> count.
        classes: The classes.

    Returns:
        As :func:`classification_metrics`.
    """
    majority = max(classes, key=lambda c: (class_counts.get(c, 0), c))
    confusion = {(c, majority): class_counts.get(c, 0) for c in classes}
    return classification_metrics(confusion, classes)


def class_prior_baseline(
    class_counts: Mapping[str, int], classes: Sequence[str]
) -> dict[str, float]:
    """Expected metrics of predicting at random with the true class shares.

    With shares ``p_c``: expected accuracy = sum p_c^2, and for every class precision =
    recall = F1 = p_c, so macro-F1 = 1 / (number of classes).

    Args:
        class_counts: True class -> count.
        classes: The classes.

    Returns:
        As :func:`classification_metrics`.
    """
    n = sum(class_counts.get(c, 0) for c in classes)
    shares = {c: class_counts.get(c, 0) / n if n else 0.0 for c in classes}
    out: dict[str, float] = {
        "n": float(n),
        "accuracy": sum(p * p for p in shares.values()),
    }
    for c, p in shares.items():
        out[f"precision_{c}"] = p
        out[f"recall_{c}"] = p
        out[f"f1_{c}"] = p
    out["macro_f1"] = sum(shares.values()) / len(classes) if classes else 0.0
    return out
