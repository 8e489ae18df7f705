"""
A small crop of a real SDSS field shipped with picasso, to try the real-data path offline.

Five 192 x 192 pixel parts of the frames of run 2583, camcol 2, field 136
(``picasso/data/sdss_crop``; its README states which rows and columns and what
was kept consistent) around one small galaxy, `EXAMPLE_GALAXY`.
"""

from pathlib import Path

import astropy.units as u

from .frames import FrameSet

__all__ = ["EXAMPLE_FRAMES", "EXAMPLE_GALAXY", "example_frames"]

#: Directory of the shipped crop (five ``frame-*-002583-2-0136.fits.bz2`` files).
EXAMPLE_FRAMES = Path(__file__).resolve().parents[2] / "data" / "sdss_crop"

#: The galaxy on the crop. Its redshift is NOT measured: 0.05 is an assumption for examples.
EXAMPLE_GALAXY = {"ra": 323.3807 * u.deg, "dec": -0.6825 * u.deg, "redshift": 0.05}


def example_frames(cache=None):
    """
    The shipped crop, read (five bands; each file is decompressed once per process).

    Parameters
    ----------
    cache : `FrameCache` or False, optional
        As for `read_frame`.

    Returns
    -------
    frames : `FrameSet`

    Examples
    --------
    >>> from picasso import GalaxyCutout
    >>> from picasso.io.sdss import EXAMPLE_GALAXY, example_frames
    >>> cutout = GalaxyCutout.from_sdss_frames(example_frames(), size=64, **EXAMPLE_GALAXY)
    >>> cutout.shape
    (64, 64)
    """
    if not EXAMPLE_FRAMES.is_dir():
        raise FileNotFoundError(
            f"the SDSS crop shipped with picasso is missing ({EXAMPLE_FRAMES}); reinstall picasso"
        )
    return FrameSet.read(EXAMPLE_FRAMES, cache=cache)
