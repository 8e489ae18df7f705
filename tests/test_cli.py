import argparse

from picasso.cli import argument_flags, build_parser, name_flags


def test_messages_name_flags_not_python_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--target-psf", dest="target_psf")
    parser.add_argument("--size", type=int)
    flags = argument_flags(parser)
    flags["target_psf_fwhm"] = "--target-psf"
    assert name_flags("x.h5 already exists; pass overwrite=True to replace it", flags) == (
        "x.h5 already exists; pass --overwrite to replace it")
    assert name_flags("Choose target_psf_fwhm of at least 2 arcsec", flags) == (
        "Choose --target-psf of at least 2 arcsec")
    # ordinary words and keyword examples stay as they are
    text = "the image size differs; GalaxyCutout(..., size=64) and target_psf_fwhm_extra"
    assert name_flags(text, flags) == text


def test_every_command_records_its_flags():
    parser = build_parser()
    args = parser.parse_args(["predict", "default", "x.h5", "-o", "out.h5"])
    assert args.flags["overwrite"] == "--overwrite"
    assert args.flags["target_psf_fwhm"] == "--target-psf"
    args = parser.parse_args(["simulate", "-n", "1", "-o", "x.h5"])
    assert args.flags["galaxies"] == "--galaxies"
