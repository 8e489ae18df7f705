import pytest
import torch

from picasso.nn.unet import UNet, UNetConfig
from picasso.properties import BANDS, PROPERTIES

TINY = UNetConfig(depth=2, base_width=4)


def test_paper_configuration_has_28_9_million_parameters():
    network = UNet()
    assert network.config == UNetConfig()
    assert network.config.widths == (64, 128, 256, 512, 1024)
    # features 64..1024, bilinear + 1x1 up, 1x1 head 64 -> 7
    assert network.n_parameters == 28_944_327


@pytest.mark.parametrize("size", [(16, 16), (32, 32), (64, 48)])
def test_output_shape(size):
    network = UNet(TINY)
    out = network(torch.zeros(2, 5, *size))
    assert out.shape == (2, 7, *size)


def test_fewer_bands_fewer_properties_and_uncertainty_head():
    config = UNetConfig(depth=2, base_width=4, in_bands=("g", "r"), properties=("sfr",),
                        heteroscedastic=True)
    network = UNet(config)
    out = network(torch.randn(3, 2, 16, 16))
    assert out.shape == (3, 2, 16, 16)
    mean, log_sigma = network.split_output(out)
    assert mean.shape == log_sigma.shape == (3, 1, 16, 16)


def test_bad_sizes_and_channels_are_refused():
    network = UNet(TINY)
    with pytest.raises(ValueError, match="not divisible by 2\\*\\*depth = 4"):
        network(torch.zeros(1, 5, 18, 16))
    with pytest.raises(ValueError, match="takes 5 input planes"):
        network(torch.zeros(1, 3, 16, 16))


def test_config_round_trip_and_validation():
    config = UNetConfig(depth=3, base_width=8, in_bands=["r", "i"], properties=["gas_mass"])
    assert UNetConfig.from_dict(config.to_dict()) == config
    assert UNetConfig().in_bands == BANDS.names
    assert UNetConfig().properties == PROPERTIES.names
    with pytest.raises(ValueError, match="unknown band"):
        UNetConfig(in_bands=("r", "y"))
    with pytest.raises(ValueError, match="positive integer"):
        UNetConfig(depth=0)
    with pytest.raises(ValueError, match="unknown UNet configuration key"):
        UNetConfig.from_dict({"depth": 2, "dropout": 0.1})
