"""Optional dependencies: a missing package is named once, with how to install it."""

import importlib.util

import pytest

from picasso.mock.build import build_dataset
from picasso.mock.observe import ObservingConfig
from picasso.utils import optional_deps
from picasso.utils.optional_deps import require


def hide(monkeypatch, name):
    """Make ``name`` look uninstalled to `require`."""
    real = importlib.util.find_spec
    monkeypatch.setattr(optional_deps.importlib.util, "find_spec",
                        lambda module, *args: None if module == name else real(module, *args))


def test_require_names_the_package_and_the_extra(monkeypatch):
    require("numpy")  # installed: nothing happens
    hide(monkeypatch, "zarr")
    with pytest.raises(ImportError, match=r"authors' zarr.*pip install zarr.*astro-picasso\[all\]"):
        require("zarr")


def test_a_dusty_build_without_dust_extinction_fails_in_the_parent(monkeypatch, tmp_path):
    hide(monkeypatch, "dust_extinction")
    config = ObservingConfig.sdss(image_size=16, dust=True)
    with pytest.raises(ImportError, match="dust_extinction.*pip install dust-extinction"):
        build_dataset(tmp_path / "x.h5", 1, image_size=16, config=config, processes=2,
                      progress=False)
    # nothing was started or written
    assert not list(tmp_path.iterdir())
