# Sphinx configuration for the picasso documentation (sphinx-astropy defaults).
import datetime
import os
import sys
from importlib import metadata

try:
    from sphinx_astropy.conf.v2 import *  # noqa: F401,F403
except ImportError:
    print("ERROR: the documentation requires the sphinx-astropy package to be installed")
    sys.exit(1)

project = "picasso"
author = "picasso developers"
copyright = f"{datetime.datetime.now().year}, {author}"

try:
    release = metadata.version("astro-picasso")
except metadata.PackageNotFoundError:
    release = "unknown"
version = release.split("+")[0]

extensions += ["sphinx_automodapi.smart_resolver"]  # noqa: F405

# The build must work offline: no intersphinx inventories are fetched when
# disable_intersphinx=1 is given on the command line (tox -e build_docs does).
intersphinx_mapping.update(  # noqa: F405
    {
        "astropy": ("https://docs.astropy.org/en/stable/", None),
        "photutils": ("https://photutils.readthedocs.io/en/stable/", None),
        "reproject": ("https://reproject.readthedocs.io/en/stable/", None),
        "torch": ("https://pytorch.org/docs/stable/", None),
    }
)

automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False
numpydoc_show_class_members = False
nitpicky = False

html_theme_options = {
    "github_url": "https://github.com/picasso-astro/picasso",
    "use_edit_page_button": False,
}
html_title = f"{project} v{release}"
htmlhelp_basename = project + "doc"
html_static_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_generated"]


def _write_bundled_model_card():
    """Render the bundled model's card from its own header for model_card.rst."""
    from picasso.nn.loading import default_model
    from picasso.studies.card import model_card

    target = os.path.join(os.path.dirname(__file__), "_generated", "bundled_model_card.rst")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as handle:
        handle.write(model_card(default_model(), format="rst", rst_underlines="-^",
                                title="The bundled model"))


_write_bundled_model_card()
os.environ.setdefault("MPLBACKEND", "agg")
