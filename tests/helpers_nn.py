"""Tiny synthetic pair datasets and models for the picasso.nn tests."""

import astropy.units as u
import numpy as np

from picasso.io.dataset import DatasetWriter
from picasso.properties import BANDS, LOG10_EMPTY, PROPERTIES

PROPS = ("stellar_mass", "sfr")


def make_pairs(path, *, n_galaxies=12, views=2, size=16, seed=0, properties=PROPS):
    """
    Write a small pair dataset whose truth is a simple function of the image.

    Each galaxy is a Gaussian blob; stellar mass surface density follows the
    noiseless r-band flux (log10 Sigma = log10 f_r + 0.5) and is empty in the
    faint outskirts, SFR follows the u/r colour and is empty outside the core,
    so a network can learn the relation quickly.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    with DatasetWriter(path, image_size=size, properties=properties,
                       attrs={"seed": seed}) as writer:
        for galaxy in range(n_galaxies):
            amplitude = 10 ** rng.uniform(0, 2)
            width = rng.uniform(2, 4)
            colour = rng.uniform(0.3, 1.0, len(BANDS.names))
            for view in range(views):
                axis_ratio = rng.uniform(0.5, 1)
                profile = amplitude * np.exp(-0.5 * (x**2 + (y / axis_ratio) ** 2) / width**2)
                image = colour[:, None, None] * profile + rng.normal(0, 0.01, (5, size, size))
                inside = profile > 0.05 * amplitude
                mass = np.where(inside, np.log10(colour[2] * profile + 1e-3) + 0.5, LOG10_EMPTY)
                sfr = np.where(profile > 0.3 * amplitude, np.log10(colour[0] / colour[2]) - 0.5,
                               LOG10_EMPTY)
                maps = {"stellar_mass": mass, "sfr": sfr}
                truth = np.stack([maps.get(name, np.full_like(mass, LOG10_EMPTY))
                                  for name in properties])
                row = {"galaxy_id": 100 + galaxy, "view": view, "pixel_scale_kpc": 0.5 * u.kpc,
                       "redshift": 0.05, "r_half_kpc": 0.8 * u.kpc, "seed": seed}
                for name in properties:
                    unit = PROPERTIES[name].total_unit
                    row[f"total_{name}"] = (
                        (10 ** (amplitude if name == "stellar_mass" else 0.0)) * unit
                    )
                writer.append_arrays(image.astype(np.float32), truth.astype(np.float32), row)
    return path


def tiny_config(properties=PROPS, **kwargs):
    """A U-Net small enough to train in a second on a CPU."""
    from picasso.nn.unet import UNetConfig

    return UNetConfig(depth=2, base_width=4, properties=properties, **kwargs)


def ddp_worker(rank, world_size, port, data_path, output_dir, train_settings):
    """One process of a data-parallel run, set up as torchrun would."""
    import os

    import torch

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from safetensors.torch import save_file

    from picasso.io.dataset import PairDataset
    from picasso.nn.train import TrainConfig, Trainer

    trainer = Trainer(PairDataset(data_path), output_dir, model_config=tiny_config(),
                      config=TrainConfig(**train_settings), progress=False)
    trainer.fit()
    save_file({k: v.contiguous() for k, v in trainer.network.state_dict().items()},
              os.path.join(output_dir, f"rank{rank}.safetensors"))


def straight_and_interrupted(pairs, directory, settings):
    """
    Train ``settings["epochs"]`` epochs straight, and one epoch of the same run "killed" after it.

    Returns the fitted straight trainer, the one-epoch trainer and the run resumed from its
    checkpoint (not yet fitted).
    """
    from picasso.nn.train import TrainConfig, Trainer

    straight = Trainer(pairs, directory / "straight", model_config=tiny_config(),
                       config=TrainConfig(**settings), progress=False)
    straight.fit()
    first = Trainer(pairs, directory / "resumed", model_config=tiny_config(),
                    config=TrainConfig(**{**settings, "epochs": 1}), progress=False)
    first.fit()
    resumed = Trainer.resume(pairs, directory / "resumed", progress=False,
                             epochs=settings["epochs"])
    return straight, first, resumed
