"""Root pytest hooks, for tests/ and the doctests of augbench/ alike.

The synonym ops read the WordNet database of the Debian package ``wordnet-base``: every test
and doctest of them (their node ids name a synonym op) skips, with the command that installs
it, when the files are missing, except under ``AUGBENCH_REQUIRE_WORDNET=1`` (set by
``.ci/run``, which installs the package), where their failure shows that it is missing.
"""

from __future__ import annotations

import os
import re

import pytest

from augbench.text.wordnet import wordnet_folder

_NEEDS_WORDNET = re.compile("synonym", re.IGNORECASE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if (wordnet_folder() / "data.noun").is_file() or os.environ.get("AUGBENCH_REQUIRE_WORDNET") == "1":
        return
    skip = pytest.mark.skip(reason="WordNet files missing: apt-get install wordnet-base")
    for item in items:
        if _NEEDS_WORDNET.search(item.nodeid):
            item.add_marker(skip)
