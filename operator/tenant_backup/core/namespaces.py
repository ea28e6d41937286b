"""Pure: which namespaces the operator serves, from the `--namespace` values it was started
with, in Kopf's syntax: each value is an exact name or comma-separated globs (`*`, `?`), read
left to right, where `!glob` excludes; a value starting with an exclusion includes everything
first, and a later inclusive glob takes back only what an exclusion took from the first
glob's match. A namespace is served if one value matches it; no value serves every one."""

from collections.abc import Sequence
from fnmatch import fnmatchcase

PATTERN_CHARACTERS = "*?[!,"


def exact(values: Sequence[str]) -> bool:
    """Whether every value is one plain namespace name (so each can be listed on its own)."""
    return all(not any(c in value for c in PATTERN_CHARACTERS) for value in values)


def served(namespace: str, values: Sequence[str]) -> bool:
    """Whether `namespace` is one of those the values name (no value: every one)."""
    return not values or any(_matches(namespace, value) for value in values)


def _matches(namespace: str, value: str) -> bool:
    globs = [glob.strip() for glob in value.split(",")]
    if globs[0].startswith("!"):
        globs.insert(0, "*")
    initially = matched = fnmatchcase(namespace, globs[0])
    for glob in globs[1:]:
        if glob.startswith("!"):
            matched = matched and not fnmatchcase(namespace, glob.lstrip("!"))
        elif initially and fnmatchcase(namespace, glob):
            matched = True
    return matched
