"""The public names: ``importer`` offers exactly what ``importer.api`` defines, each one real."""

from __future__ import annotations

import importer
import importer.api


def test_the_package_and_the_api_list_the_same_names():
    assert importer.__all__ == importer.api.__all__
    for name in importer.__all__:
        assert getattr(importer, name) is getattr(importer.api, name), name
