"""A missing optional part names the extra to install, with a command that works where Railguard runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from railguard import ConfigurationError
from railguard._extras import install_hint, require

CHECKOUT = Path(__file__).resolve().parents[1]


def test_installed_modules_pass() -> None:
    require("server", "json", "sqlite3")


def test_a_missing_module_names_the_extra_and_an_install_command_for_this_checkout() -> None:
    with pytest.raises(ConfigurationError) as info:
        require("server", "json", "surely_not_a_real_module_rg")
    message = str(info.value)
    assert "surely_not_a_real_module_rg" in message
    assert "'server' extra" in message
    # The tests run from a source checkout: `pip install 'railguard[server]'` would not install it.
    assert f"pip install -e '{CHECKOUT}[server]'" in message


def test_an_installed_package_gets_the_package_command(tmp_path: Path) -> None:
    assert install_hint("server", tmp_path) == "pip install 'railguard[server]'"
    assert install_hint("server", None) == "pip install 'railguard[server]'"
