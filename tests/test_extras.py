"""A missing optional part names the extra to install."""

from __future__ import annotations

import pytest

from railguard import ConfigurationError
from railguard._extras import require


def test_installed_modules_pass() -> None:
    require("server", "json", "sqlite3")


def test_a_missing_module_names_the_extra() -> None:
    with pytest.raises(ConfigurationError) as info:
        require("server", "json", "surely_not_a_real_module_rg")
    assert "surely_not_a_real_module_rg" in str(info.value)
    assert "pip install 'railguard[server]'" in str(info.value)
