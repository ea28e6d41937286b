"""Where the repository and its build cache are: `.cache/` is shared with tools/*/build*.sh
and keyed by their inputs, so its layout must not change."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
