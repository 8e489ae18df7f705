"""
Small helpers every layer of picasso uses: atomic file writes, FITS metadata,
conversions between angles and lengths at a redshift, optional dependencies
and the package version.
"""
