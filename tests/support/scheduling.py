"""The order in which a run's work is handed out to its test processes.

Under `--dist loadgroup`, pytest-xdist hands out the tests that share an `xdist_group` (each
browser module, the API fuzz, the cross-process tests) as one unit, and every other test as a
unit of its own, the next unit to whichever process is nearly done. By default it hands out the
groups with the most tests first and then the single tests: both processes then start with a
browser module, and one of them waits (about 10 s) while the other builds the demo world's
template that both need (tests.support.databases); and the fuzz, the longest unit (a minute or
more), is a "group of one" that starts wherever it falls among the single tests.

Here the longest work comes first (the longest-processing-time rule), so that what is left at
the end is short work both processes share, and the second process starts with work that needs
no demo world while the first builds it. Which work is long is known from what it does, not
timed: the fuzz first, then the tests marked `slow` (other processes, the demo world) and the
modules of races between threads (test_*concurrency*, test_*races*), then the browser modules
(most tests first), then the rest (modules with most tests first). Each module's and group's
tests stay together and in their order.
"""

from __future__ import annotations

import pytest

FIRST, SLOW, BROWSER, REST = range(4)


def group_of(item: pytest.Item) -> str:
    """What the order keeps together: the item's xdist_group (which pytest-xdist hands out
    whole), or else its module."""
    names = sorted(
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    )
    return "_".join(names) if names else item.nodeid.split("::")[0]


def _rank(item: pytest.Item, group: str) -> int:
    module = item.nodeid.split("::")[0]
    if group == "fuzz":
        return FIRST
    if module.startswith("tests/browser/"):
        return BROWSER
    if item.get_closest_marker("slow") or "concurrency" in module or "races" in module:
        return SLOW
    return REST


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder `items` in place, group by group, the longest groups first."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(group_of(item), []).append(item)
    ranks = {name: min(_rank(item, name) for item in members) for name, members in groups.items()}
    # sorted() is stable: groups of one rank and size keep the order they were collected in.
    order = sorted(groups, key=lambda name: (ranks[name], -len(groups[name])))
    items[:] = [item for name in order for item in groups[name]]


def keep_our_order(config: pytest.Config) -> None:
    """Have pytest-xdist (when it runs the tests) hand out the groups in the items' order."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
