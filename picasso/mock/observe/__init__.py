"""
Observing particles: exact truth maps and mock SDSS ugriz images.

One galaxy, given as `~picasso.particles.Particles`, becomes a pair:

* **truth** `~picasso.PropertyMaps`: every particle's mass, metal mass, age,
  SFR, gas and HI mass is deposited into the pixel that holds its centre
  (nearest grid point, `numpy.bincount`), so totals are conserved exactly and
  pixels without particles stay empty, as in the PICASSO training data.
* **image** `~picasso.GalaxyCutout`: every star particle shines with the light
  of a Bruzual & Charlot (2003) simple stellar population of its age and
  metallicity observed at the galaxy's redshift (`picasso.mock.populations`,
  so cosmological dimming and the k-correction are in the fluxes), spread over
  a region set by the distance to its 16th nearest neighbour as in the SUNRISE
  set-up of Torrey et al. (2015); the image is convolved with the PSF, binned
  to the native pixel, given sky noise and background sources, and resampled
  flux-conservingly to ``N x N`` pixels spanning 10 stellar half-mass radii.

The default `ObservingConfig` is the paper's (Buck & Wolf, Sect. 2): FWHM
1 kpc Gaussian PSF, 0.24 kpc pixels, S/N 25 per galaxy pixel, z = 0.05, no
dust. `ObservingConfig.sdss` has the real depth of SDSS frames instead, and
dust (`attenuation`).

Rendering
---------
Each particle's emission region is a Gaussian with the second moment of a
cubic-spline kernel whose support is the 16-neighbour radius (sigma = 0.274
r16). Particles are grouped by that width (groups a factor 1.4 apart) and
deposited per group; each group is convolved in Fourier space with its
Gaussian and the PSF (a normalised `astropy.convolution` kernel), which
conserves flux exactly for sources away from the field edge. When the output
pixels are coarser than the native pixels the image is rendered straight on
the output grid (the native binning is then a no-op up to sub-pixel
positions); otherwise it is rendered on the native grid and rebinned with
exact pixel-overlap weights.
"""

from .config import ObservingConfig
from .dust import attenuation, relative_dust_to_gas
from .galaxy import PreparedGalaxy, disc_geometry, observe, observe_views, prepare
from .grid import SPLINE_SIGMA_PER_SUPPORT, psf_transfer, rebin, rebin_matrix, smoothing_lengths
from .render import ingest_noise_sigma, render_image, render_particles
from .sky import load_sky_frames
from .truth import project_truth

__all__ = [
    "ObservingConfig",
    "PreparedGalaxy",
    "prepare",
    "observe",
    "observe_views",
    "disc_geometry",
    "project_truth",
    "render_image",
    "ingest_noise_sigma",
    "render_particles",
    "attenuation",
    "relative_dust_to_gas",
    "load_sky_frames",
    "smoothing_lengths",
    "rebin_matrix",
    "rebin",
    "psf_transfer",
    "SPLINE_SIGMA_PER_SUPPORT",
]
