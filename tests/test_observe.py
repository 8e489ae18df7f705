"""The mock observer: exact truth maps, flux-conserving images, noise presets."""

import astropy.units as u
import numpy as np
import pytest
from helpers_mock import small_config, small_universe
from numpy.testing import assert_allclose, assert_array_equal

from picasso.mock import observe as obs
from picasso.cutout import GalaxyCutout
from picasso.instrument import SDSS_PIXEL_SCALE, SDSS_SKY_RMS
from picasso.utils.optional_deps import HAS_DUST_EXTINCTION
from picasso.particles import HYDROGEN_MASS_FRACTION, GasCells, Particles, StarParticles
from picasso.properties import LOG10_EMPTY


def _toy_particles():
    """Three star particles and three gas cells at known places."""
    stars = StarParticles.from_arrays(
        np.array([[0.1, 0.1, 0.0], [0.15, 0.12, 1.0], [-2.0, 1.5, 0.0]]),
        np.array([1e6, 3e6, 2e6]),
        np.array([2e6, 5e6, 3e6]),
        np.array([1.0, 9.0, 4.0]),
        np.array([0.02, 0.01, 0.03]),
    )
    gas = GasCells.from_arrays(
        np.array([[0.1, 0.1, 0.0], [3.0, -3.0, 0.0], [-2.0, -2.0, 0.5]]),
        np.array([5e6, 1e6, 2e6]),
        np.array([0.01, 0.005, 0.02]),
        np.array([0.5, 0.0, 0.0]),
        np.array([0.9, 1e-4, 0.0]),
        np.array([0.3, 0.5, 0.4]),
        np.array([0.2, 0.0, 0.0]),
    )
    return Particles(stars, gas)


def test_projection_conserves_totals_exactly():
    galaxy = small_universe(4, companion_fraction=0.0).particles(2)
    half = 1.01 * max(
        np.abs(galaxy.stars.position_value[:, :2]).max(),
        np.abs(galaxy.gas.position_value[:, :2]).max(),
    )
    maps = obs.project_truth(galaxy, half * u.kpc, 40)
    assert_allclose(maps.total("stellar_mass"), galaxy.total_stellar_mass, rtol=1e-12)
    assert_allclose(maps.total("stellar_metal_mass"), galaxy.total_stellar_metal_mass, rtol=1e-12)
    assert_allclose(maps.total("sfr"), galaxy.total_sfr, rtol=1e-12)
    assert_allclose(maps.total("gas_mass"), galaxy.total_gas_mass, rtol=1e-12)
    assert_allclose(maps.total("gas_metal_mass"), galaxy.total_gas_metal_mass, rtol=1e-12)
    assert_allclose(maps.total("hi_mass"), galaxy.total_hi_mass, rtol=1e-12)
    assert_allclose(maps.total("stellar_age"), galaxy.mass_weighted_age, rtol=1e-12)


def test_kernel_truth_conserves_totals_and_fills_the_galaxy():
    galaxy = small_universe(4, companion_fraction=0.0).particles(2)
    smoothing = obs.smoothing_lengths(galaxy.stars.position_value, 16)
    extent = np.abs(galaxy.stars.position_value[:, :2]).max() + 4 * smoothing.max()
    half = 1.01 * max(extent, np.abs(galaxy.gas.position_value[:, :2]).max()
                      + 4 * galaxy.gas.smoothing_length_value.max())
    kernel = obs.project_truth(galaxy, half * u.kpc, 40, star_smoothing=smoothing)
    for name, total in (("stellar_mass", galaxy.total_stellar_mass),
                        ("stellar_metal_mass", galaxy.total_stellar_metal_mass),
                        ("sfr", galaxy.total_sfr), ("gas_mass", galaxy.total_gas_mass),
                        ("hi_mass", galaxy.total_hi_mass)):
        assert_allclose(kernel.total(name), total, rtol=2e-5)  # the FFT works in float32
    assert_allclose(kernel.total("stellar_age"), galaxy.mass_weighted_age, rtol=2e-5)
    # the mass is spread like the light: no empty pixel inside the half-mass radius
    nearest = obs.project_truth(galaxy, half * u.kpc, 40)
    y, x = (np.indices((40, 40)) - 19.5) * 2 * half / 40
    inside = np.hypot(x, y) < galaxy.stellar_half_mass_radius().to_value(u.kpc)
    assert not kernel.empty("stellar_mass")[inside].any()
    assert kernel.empty("stellar_mass").sum() <= nearest.empty("stellar_mass").sum()


def test_empty_pixels_stay_empty_and_age_is_mass_weighted():
    maps = obs.project_truth(_toy_particles(), 4.0 * u.kpc, 16)  # 0.5 kpc pixels
    stellar = ~maps.empty("stellar_mass")
    assert stellar.sum() == 2  # two star particles share one pixel
    log10 = maps.to_log10()
    assert np.all(log10[:, ~stellar][:3] == LOG10_EMPTY)
    # the shared pixel holds 1e6 Msun at 1 Gyr and 3e6 Msun at 9 Gyr
    iy, ix = 8, 8
    assert_allclose(maps["stellar_age"][iy, ix].to_value(u.Gyr), (1e6 * 1 + 3e6 * 9) / 4e6)
    assert_allclose(maps["stellar_mass"][iy, ix].value * 0.25, 4e6)
    # SFR only where a cell forms stars; HI empty where a cell has no neutral gas
    assert (~maps.empty("sfr")).sum() == 1
    assert (~maps.empty("gas_mass")).sum() == 3
    assert (~maps.empty("hi_mass")).sum() == 2


def test_rebin_conserves_flux():
    image = np.random.default_rng(1).random((3, 37, 37))
    edges_in = np.linspace(-5, 5, 38)
    for n_out in (16, 64, 101):
        out = obs.rebin(image, edges_in, np.linspace(-5, 5, n_out + 1))
        assert_allclose(out.sum(axis=(1, 2)), image.sum(axis=(1, 2)), rtol=1e-12)
    with pytest.raises(ValueError):
        obs.rebin_matrix([0, 1, 1], [0, 1])


def test_psf_kernel_is_normalised():
    transfer = obs.psf_transfer((64, 64), 2.1)
    assert_allclose(transfer[0, 0].real, 1.0, rtol=1e-12)
    assert np.all(np.abs(transfer) <= 1.0 + 1e-9)


def test_rendering_conserves_flux():
    rng = np.random.default_rng(2)
    xy = rng.normal(0.0, 1.0, (500, 2))
    fluxes = rng.random((500, 5))
    smoothing = rng.uniform(0.05, 2.0, 500)
    config = small_config(image_size=64, noise="none", background_sources=False)
    image, variance, _ = obs.render_image(xy, fluxes, smoothing, 20.0, config, rng)
    assert_allclose(image.sum(axis=(1, 2)), fluxes.sum(axis=0), rtol=2e-4)
    assert np.all(variance == 0)
    # the PSF widens a point source to its FWHM
    point, _, _ = obs.render_image(
        np.zeros((1, 2)),
        np.ones((1, 5)),
        np.array([1e-4]),
        8.0,
        small_config(image_size=64, noise="none", background_sources=False),
        rng,
    )
    profile = point[2, 32, :] + point[2, 31, :]
    above = np.flatnonzero(profile >= profile.max() / 2)
    width = (above[-1] - above[0] + 1) * 16.0 / 64
    assert 0.75 < width < 1.5  # 1 kpc FWHM on 0.25 kpc pixels


def test_sdss_preset_noise_matches_real_frames():
    config = obs.ObservingConfig.sdss(image_size=96, background_sources=False,
                                      ingest_smoothing=False)
    native = config.kpc(SDSS_PIXEL_SCALE)
    half = 0.5 * 96 * native  # output pixels equal to the SDSS pixel
    image, variance, info = obs.render_image(
        np.zeros((1, 2)), np.zeros((1, 5)), np.ones(1), half, config, np.random.default_rng(3)
    )
    assert_allclose(info["native_pixel_kpc"], native)
    assert_allclose(image.std(axis=(1, 2)), list(SDSS_SKY_RMS.values()), rtol=0.05)
    assert_allclose(np.sqrt(variance[:, 10, 10]), list(SDSS_SKY_RMS.values()), rtol=1e-6)
    # on 4x smaller pixels the rms per pixel is 4x smaller (constant depth per area)
    config_fine = config.replace(native_pixel_scale=SDSS_PIXEL_SCALE / 4)
    _, _, info = obs.render_image(
        np.zeros((1, 2)),
        np.zeros((1, 5)),
        np.ones(1),
        half / 4,
        config_fine,
        np.random.default_rng(3),
    )
    assert_allclose(info["noise_rms_native"], np.array(list(SDSS_SKY_RMS.values())) / 4, rtol=1e-6)


def test_ingest_smoothing_gives_the_noise_of_an_sdss_cutout(tmp_path):
    # Noise-only SDSS frames cut as a user would (adaptive resampling, every band matched
    # to the widest PSF): the sdss preset's mock noise must be as strong per output pixel.
    from helpers_sdss import write_sdss_frame

    from picasso.io import sdss

    for seed, band in enumerate("ugriz"):
        write_sdss_frame(tmp_path, band, shape=(300, 300), noise_seed=seed)
    frames = sdss.FrameSet.read(tmp_path, cache=False)
    native_rms = [float(np.std(frames.frames(band)[0]._image)) for band in "ugriz"]
    redshift, size = 0.1, 64
    cutout = sdss.cutout_from_frames(frames, 150.0 * u.deg, 2.0 * u.deg, redshift, size=size,
                                     field=70 * u.arcsec)
    real = cutout.flux.to_value(u.nanomaggy).std(axis=(1, 2))

    def mock_noise(smoothed):
        config = obs.ObservingConfig.sdss(
            redshift=redshift, image_size=size, background_sources=False,
            psf_fwhm=cutout.psf_fwhm.max(), sky_rms=tuple(native_rms),
            cosmology=cutout.cosmology, ingest_smoothing=smoothed,
        )
        half = 0.5 * size * cutout.pixel_scale_kpc.to_value(u.kpc)
        image, variance, _ = obs.render_image(np.zeros((1, 2)), np.zeros((1, 5)), np.ones(1),
                                              half, config, np.random.default_rng(4))
        return image.std(axis=(1, 2)), np.sqrt(variance[:, size // 2, size // 2])

    smoothed, smoothed_rms = mock_noise(True)
    assert_allclose(smoothed, real, rtol=0.15)
    assert_allclose(smoothed_rms, smoothed, rtol=0.2)
    white, _ = mock_noise(False)
    assert np.all(white > 1.5 * real)


def test_same_seed_same_pair_and_metadata():
    galaxy = small_universe(6).particles(1)
    config = small_config()
    prepared = obs.prepare(galaxy, config)
    first = obs.observe(prepared, config, seed=5, direction=[0.3, 0.2, 0.9])
    second = obs.observe(prepared, config, seed=5, direction=[0.3, 0.2, 0.9])
    other = obs.observe(prepared, config, seed=6, direction=[0.3, 0.2, 0.9])
    assert_array_equal(first[0].flux.value, second[0].flux.value)
    assert_array_equal(first[1].to_log10(), second[1].to_log10())
    assert not np.array_equal(first[0].flux.value, other[0].flux.value)
    cutout, truth = first
    assert cutout.flux.unit == u.nanomaggy and cutout.shape == (32, 32)
    assert_allclose(truth.meta["fov"], 10 * truth.meta["r_half_3d"])
    assert_allclose(cutout.pixel_scale_kpc.to_value(u.kpc), truth.meta["fov"].value / 32)
    # the recorded half-mass radius is the particles' projected one in this view
    n_main = galaxy.meta["n_main_stars"]
    viewed = galaxy.rotated(galaxy.view_rotation([0.3, 0.2, 0.9]))
    main = Particles(viewed.stars[:n_main])
    assert truth.r_half.kind == "mass_projected"
    assert_allclose(
        truth.r_half.value.value, main.stellar_half_mass_radius(projected=True).value, rtol=1e-9
    )
    assert_allclose(cutout.r_half.value, truth.meta["r_half_3d"])


def test_mock_cutouts_fit_a_model_of_their_size():
    from picasso.nn.model import FIELD_OF_VIEW_R_HALF, Model
    from picasso.nn.unet import UNet, UNetConfig

    config = small_config()
    cutout, _ = obs.observe(obs.prepare(small_universe(6).particles(1), config), config, seed=5)
    # the field spans ten of the 3-D half-mass radii the cutout records, as a model expects
    assert cutout.r_half.kind == "mass_3d"
    assert_allclose(cutout.field_of_view, FIELD_OF_VIEW_R_HALF * cutout.r_half.value)
    model = Model(UNet(UNetConfig(depth=2, base_width=2)), image_size=32)
    image = model.input_flux(cutout)
    assert image.shape == (5, 32, 32)
    # a cutout cut to the wrong field is refused, naming the radius kind
    narrow = GalaxyCutout(cutout.flux, pixel_scale=0.6 * cutout.pixel_scale_kpc, redshift=0.05,
                          r_half=cutout.r_half)
    with pytest.raises(ValueError, match=r"spans 6 times its 3-D stellar half-mass radius"):
        model.input_flux(narrow)


def test_four_views_face_on_and_edge_on():
    galaxy = small_universe(8).particles(0)
    pairs = obs.observe_views(galaxy, small_config(), seed=1, views=4)
    assert len(pairs) == 4
    assert_allclose(pairs[0][1].meta["inclination"], 0.0, atol=1e-6)
    assert_allclose(pairs[1][1].meta["inclination"], 90.0, atol=1e-6)
    # the stellar mass in the field is the same particle set seen from elsewhere
    totals = [truth.total("stellar_mass").value for _, truth in pairs]
    assert max(totals) <= galaxy.total_stellar_mass.value * (1 + 1e-12)


def test_paper_snr_preset():
    galaxy = small_universe(9, companion_fraction=0.0).particles(3)
    config = small_config(image_size=48, background_sources=False)
    prepared = obs.prepare(galaxy, config)
    noisy, truth = obs.observe(prepared, config, seed=2)
    clean, _ = obs.observe(prepared, config.replace(noise="none"), seed=2)
    noise = (noisy.flux - clean.flux).value
    assert noise.std() > 0
    rms = np.array(noisy.meta["noise_rms_native"])
    assert np.all(rms > 0)
    assert_allclose(noisy.variance.value[:, 0, 0] > 0, True)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(noise="poisson"), ValueError),
        (dict(psf_fwhm=1.0), TypeError),
        (dict(native_pixel_scale=-1 * u.kpc), ValueError),
        (dict(bands=("u", "x")), ValueError),
        (dict(dust_per_hydrogen=-1.0), ValueError),
    ],
)
def test_bad_config(kwargs, error):
    with pytest.raises(error):
        obs.ObservingConfig(**kwargs)


def test_config_round_trips_through_its_record():
    import json

    for config in (obs.ObservingConfig.paper(), obs.ObservingConfig.sdss(dust=True, redshift=0.08)):
        record = json.loads(json.dumps(config.to_dict()))
        assert record["cosmology"] == "Planck18"
        assert obs.ObservingConfig.from_dict(record) == config
    with pytest.raises(ValueError, match="unknown observing setting"):
        obs.ObservingConfig.from_dict({"exposure": 54})
    with pytest.raises(ValueError, match="unknown cosmology"):
        obs.ObservingConfig.from_dict({"cosmology": "Einstein-de Sitter"})


def test_bad_inputs():
    with pytest.raises(ValueError):
        obs.ObservingConfig.preset("hst")
    with pytest.raises(TypeError):
        obs.prepare("galaxy")
    with pytest.raises(ValueError):
        obs.prepare(Particles())


@pytest.mark.skipif(not HAS_DUST_EXTINCTION, reason="dust needs the dust_extinction package")
def test_dust_dims_blue_light_more_and_edge_on_discs_most():
    galaxy = small_universe(3, companion_fraction=0.0).particles(1)
    config = small_config(noise="none", background_sources=False)
    prepared = obs.prepare(galaxy, config)
    viewed = galaxy.rotated(galaxy.view_rotation([1.0, 0.0, 0.0]))
    transmission, a_v = obs.attenuation(viewed, 20.0, config.replace(dust=True))
    assert np.all((transmission > 0) & (transmission <= 1))
    assert np.all(transmission[:, 0] <= transmission[:, -1])  # u dimmed more than z
    faces = []
    for direction in ([0.0, 0.0, 1.0], [1.0, 0.0, 0.0]):
        clean, _ = obs.observe(prepared, config, direction=direction)
        dusty, _ = obs.observe(prepared, config.replace(dust=True), direction=direction)
        faces.append(dusty.flux.value.sum() / clean.flux.value.sum())
        assert dusty.meta["light_weighted_a_v"] >= 0
    assert faces[1] <= faces[0] < 1.0


def _write_frames(directory, shifts, size=200):
    """SDSS frames with the measured noise and one star, offset per band."""
    from astropy.io import fits
    from helpers_sdss import write_sdss_frame

    rng = np.random.default_rng(4)
    for k, band in enumerate("ugriz"):
        dx, dy = shifts[k]
        path, _ = write_sdss_frame(directory, band, run=1, camcol=1, field=1, shape=(size, size))
        image = rng.normal(0.0, list(SDSS_SKY_RMS.values())[k], (size, size)).astype(np.float32)
        image[int(140 + dy), int(60 + dx)] += 50.0  # the same star in every band
        with fits.open(path, mode="update") as hdul:
            hdul[0].data = image
            hdul[0].header["CRPIX1"] += dx
            hdul[0].header["CRPIX2"] += dy


def test_real_sky_frames_are_aligned_and_keep_their_noise(tmp_path):
    _write_frames(tmp_path, shifts=[(3, -2), (1, 4), (0, 0), (-2, 1), (5, 3)])
    sky = obs.load_sky_frames(str(tmp_path), columns=(0, 200))
    star = [np.unravel_index(np.argmax(plane), plane.shape) for plane in sky]
    assert len(set(star)) == 1  # aligned across bands
    config = obs.ObservingConfig.sdss(image_size=64, sky_frames=str(tmp_path), sky_columns=(0, 200))
    assert config.noise == "none" and not config.background_sources
    native = config.kpc(SDSS_PIXEL_SCALE)
    images = [
        obs.render_image(
            np.zeros((1, 2)),
            np.zeros((1, 5)),
            np.ones(1),
            32 * native,
            config,
            np.random.default_rng(seed),
        )[0]
        for seed in range(6)
    ]
    noise = np.stack(images)
    noise = noise[noise.max(axis=(2, 3))[:, 2] < 5]  # patches without the star
    assert_allclose(noise.std(axis=(0, 2, 3)), list(SDSS_SKY_RMS.values()), rtol=0.1)
    with pytest.raises(FileNotFoundError):
        obs.load_sky_frames(str(tmp_path / "missing"))


def test_sdss_preset_has_dust_and_the_paper_none():
    assert obs.ObservingConfig.sdss().dust and not obs.ObservingConfig.paper().dust
    assert not obs.ObservingConfig.sdss(dust=False).dust
    from picasso.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["simulate", "-n", "1", "-o", "x.h5"]).dust is None
    assert parser.parse_args(["simulate", "-n", "1", "-o", "x.h5", "--no-dust"]).dust is False
    with pytest.raises(ValueError):
        obs.ObservingConfig(dust_reference_metallicity=0.0)


@pytest.mark.skipif(not HAS_DUST_EXTINCTION, reason="dust needs the dust_extinction package")
def test_sdss_dust_dims_star_forming_galaxies_as_much_as_real_ones():
    """Effective A_V of the integrated light of star-forming galaxies: ~0.3-1 mag in reality."""
    from picasso.mock.populations import stellar_fluxes
    from picasso.particles import weighted_half_radius

    universe = small_universe(7, mass_range=[10**10.0, 10**10.7] * u.Msun, companion_fraction=0.0)
    config = obs.ObservingConfig.sdss()
    attenuations = []
    for index in range(60):
        props = universe.properties(index)
        if props.quenched:
            continue
        galaxy = universe.particles(index, properties=props)
        rng = universe.rng(index, 2)
        direction = rng.normal(size=3)
        viewed = galaxy.rotated(galaxy.view_rotation(direction / np.linalg.norm(direction)))
        radius = weighted_half_radius(
            np.linalg.norm(galaxy.stars.position_value, axis=1), galaxy.stars.mass_value
        )
        _, a_v = obs.attenuation(viewed, 5.0 * radius, config)
        light = stellar_fluxes(galaxy.stars).value[:, 2]
        attenuations.append(-2.5 * np.log10(np.sum(light * 10 ** (-0.4 * a_v)) / light.sum()))
        if len(attenuations) == 15:
            break
    assert 0.25 < np.median(attenuations) < 1.0


@pytest.mark.skipif(not HAS_DUST_EXTINCTION, reason="dust needs the dust_extinction package")
def test_molecular_clouds_hide_light_without_reddening_it():
    """A star behind one gas cell: atomic gas is a screen, molecular gas opaque clouds."""
    star = StarParticles.from_arrays(
        np.array([[0.0, 0.0, -1.0]]), np.array([1e6]), np.array([1e6]), np.array([1.0]),
        np.array([0.02]),
    )
    config = small_config(dust=True, molecular_cloud_surface_density=50.0)
    half, n_cells = 2.0, 4
    area = (2 * half / n_cells * 1e3) ** 2  # pc^2 of one dust cell
    hydrogen = 20.0  # Msun / pc^2 of neutral hydrogen in front of the star
    transmissions = {}
    for molecular in (0.0, 1.0):
        gas = GasCells.from_arrays(
            np.array([[0.1, 0.1, 0.0]]),
            np.array([hydrogen * area / HYDROGEN_MASS_FRACTION]),
            np.array([config.dust_reference_metallicity]),
            np.array([0.0]),
            np.array([1.0]),
            np.array([0.3]),
            np.array([molecular]),
        )
        transmission, _ = obs.attenuation(
            Particles(star, gas), half, config, n_cells=n_cells, resolution=0.0
        )
        transmissions[molecular] = transmission[0]
    from dust_extinction.parameter_averages import G23

    from picasso.properties import BANDS

    wavelength = u.Quantity([BANDS[b].effective_wavelength for b in config.bands])
    ratios = np.asarray(G23(Rv=3.1)(wavelength / (1 + config.redshift)))
    # atomic: a screen, A_band = 0.066 mag per Msun/pc^2 x A_band / A_V
    assert_allclose(transmissions[0.0], 10 ** (-0.4 * config.dust_per_hydrogen * hydrogen * ratios),
                    rtol=1e-6)
    cloud_av = config.dust_per_hydrogen * config.molecular_cloud_surface_density
    expected = np.exp(-(hydrogen / 50.0) * (1 - 10 ** (-0.4 * cloud_av * ratios)))
    assert_allclose(transmissions[1.0], expected, rtol=1e-6)
    # the clouds dim about as much but redden far less than a screen of the same gas
    colour = -2.5 * np.log10(transmissions[1.0][0] / transmissions[1.0][2])
    screen_colour = -2.5 * np.log10(transmissions[0.0][0] / transmissions[0.0][2])
    assert colour < 0.1 * screen_colour


@pytest.mark.skipif(not HAS_DUST_EXTINCTION, reason="dust needs the dust_extinction package")
def test_dust_follows_metals_times_the_dust_to_metals_ratio():
    """Halving a cell's dust-to-metals ratio dims like halving its metals; none leaves it clear."""
    star = StarParticles.from_arrays(
        np.array([[0.0, 0.0, -1.0]]), np.array([1e6]), np.array([1e6]), np.array([1.0]),
        np.array([0.02]),
    )
    config = small_config(dust=True)

    def transmission(metallicity, dust_to_metals):
        gas = GasCells.from_arrays(
            np.array([[0.1, 0.1, 0.0]]), np.array([1e7]), np.array([metallicity]),
            np.array([0.0]), np.array([1.0]), np.array([0.3]), np.array([0.4]),
            np.array([dust_to_metals]),
        )
        return obs.attenuation(Particles(star, gas), 2.0, config, n_cells=4, resolution=0.0)[0]

    reference = config.dust_reference_metallicity
    assert np.all(transmission(reference, 1.0) < 0.99)
    assert_allclose(transmission(reference, 0.5), transmission(0.5 * reference, 1.0), rtol=1e-12)
    assert_allclose(transmission(reference, 0.0), 1.0)


@pytest.mark.skipif(not HAS_DUST_EXTINCTION, reason="dust needs the dust_extinction package")
def test_inclined_star_forming_discs_dim_as_much_as_real_ones():
    """At an axis ratio of ~0.2 SDSS spirals lose 0.5-0.62 mag more r light than face-on."""
    from picasso.mock.populations import stellar_fluxes
    from picasso.mock.universe import Universe
    from picasso.particles import weighted_half_radius

    # the universe's own particle numbers: fewer gas cells change the dust columns
    universe = Universe(3, mass_range=[10**10.0, 10**10.5] * u.Msun, companion_fraction=0.0)
    config = obs.ObservingConfig.sdss()
    inclined = np.radians(80.0)
    dimming = []
    index = 0
    while len(dimming) < 12:
        props = universe.properties(index)
        index += 1
        if props.quenched or props.early_type:
            continue
        galaxy = universe.particles(index - 1, properties=props)
        light = stellar_fluxes(galaxy.stars).value[:, 2]
        half = 5.0 * weighted_half_radius(
            np.linalg.norm(galaxy.stars.position_value, axis=1), galaxy.stars.mass_value
        )
        a_r = []
        for direction in ([0.0, 0.0, 1.0], [np.sin(inclined), 0.0, np.cos(inclined)]):
            viewed = galaxy.rotated(galaxy.view_rotation(direction, [0.0, 1.0, 0.3]))
            transmission, _ = obs.attenuation(viewed, half, config)
            a_r.append(-2.5 * np.log10(np.sum(light * transmission[:, 2]) / light.sum()))
        dimming.append(a_r[1] - a_r[0])
    assert 0.3 < np.median(dimming) < 0.72  # 0.82 with the dust of the whole atomic disc
