"""
Training: galaxy-level split, the paper's schedule, checkpoints and resume,
mixed precision and data-parallel training with ``torchrun``.

One `Trainer` holds the whole training state (network, optimiser, scheduler,
epoch, step, best validation loss, history, random-number-generator states)
and a checkpoint is exactly that state, so ``resume`` continues a killed run
to the same weights an uninterrupted run reaches (bit for bit on a CPU; on a
GPU to rounding, as CUDA's gradient kernels are not bitwise deterministic
between any two runs). Data order and
augmentation are functions of (seed, epoch, sample), not of a generator's
running state, so they too are identical after a resume, in any number of
data-loader workers.

The input pipeline feeds a GPU at the network's rate: one data loader per
run whose persistent workers read whole batches (one HDF5 call per run of
consecutive rows), while flux scaling, the logarithm and the symmetries of
the square are computed on the device for the whole batch, on a side CUDA
stream one batch ahead (`NetworkDataset.raw_batch`, `NetworkDataset.finish_batch`).
Training runs in bf16 autocast (float32 weights, output layers and loss)
where the device computes in bf16 natively.

Multi-GPU and multi-node training use `torch.distributed`: launch the same
command with ``torchrun --nproc_per_node N picasso train ...``; every
process trains on its shard (`~torch.utils.data.DistributedSampler`),
gradients are averaged by `~torch.nn.parallel.DistributedDataParallel`, and
process 0 writes logs, checkpoints and the model.
"""

import csv
import io
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..properties import PROPERTIES
from ..utils.atomic import atomic_path
from .diagnostics import STATISTICS_KEY, training_statistics
from .loss import EMPTY_WEIGHT, LOSSES, block_sum_loss
from .model import Model, native_bf16
from .model_file import MODEL_FILENAME
from .transforms import (
    DEFAULT_FLUX_FLOOR,
    EMPTY_THRESHOLD,
    InputTransform,
    d4_transform,
    pair_redshifts,
    random_symmetry,
    select_band_channels,
)
from .unet import UNet, UNetConfig

__all__ = [
    "TrainConfig",
    "PRESETS",
    "preset",
    "Split",
    "split_by_galaxy",
    "NetworkDataset",
    "Trainer",
    "CHECKPOINT_FILENAME",
]

log = logging.getLogger(__name__)

#: Name of the resumable training state inside the output directory.
CHECKPOINT_FILENAME = "checkpoint.pt"

_PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """
    Training settings; the defaults are the paper's.

    Parameters
    ----------
    epochs : int
        Number of passes over the training set (13).
    batch_size : int
        Images per optimiser step, per process (16).
    learning_rate : float
        Adam step size (1e-5).
    weight_decay : float
        Adam weight decay (0 in the paper; the authors' code used 5e-4).
    milestones : tuple of int
        Epochs after which the learning rate is multiplied by ``gamma``
        ((8, 10): x0.1 after epochs 8 and 10).
    gamma : float
        Learning-rate factor at each milestone.
    loss : {'paper', 'authors', 'gaussian_nll'}
        See `picasso.nn.loss`; ``'gaussian_nll'`` needs a heteroscedastic
        network.
    empty_weight : float
        Weight of empty truth pixels (1e-6).
    augment : bool
        Random symmetries of the square on training images.
    keep_bands : tuple of str or None
        Zero every input channel except these (the authors' band studies);
        `None` keeps all.
    flux_floor : float
        Floor of the input normalisation, in the dataset's flux unit.
    reference_redshift : float, 'median' or None
        Redshift every input is moved to (`picasso.nn.transforms.distance_factor`)
        so the model serves galaxies at any distance: ``'median'`` (default)
        takes the median redshift of the training pairs, or no reference when
        some pair has no redshift; `None` feeds the observed flux per kpc2.
    seed : int
        Seeds the weights, the data order and the augmentation.
    test_every : int
        Every ``test_every``-th galaxy by stellar mass goes to the test set.
    validation_fraction : float
        Fraction of the remaining galaxies, again spread evenly in stellar
        mass, that goes to validation.
    num_workers : int or None
        Data-loader worker processes, which read (and on a CPU also
        normalise and augment) whole batches; they start once per run.
        `None`: on a GPU one per usable core less one, at most 8 (per
        process); on a CPU none, the network having the cores.
    precision : {'auto', 'fp32', 'bf16'}
        bf16 autocast for the network, with float32 weights (the optimiser's
        master copy), float32 output layers and the loss in float32.
        ``'auto'`` chooses bf16 on GPUs that support it and on CPUs with
        native bf16 instructions (AVX512-BF16 or AMX), where it trained the
        default recipe's network 1.5-2x faster (``benchmarks/bench_pipeline.py``),
        and float32 on other CPUs, where bf16 is emulated and slower.
    channels_last : bool or None
        Memory format of the network. `None` chooses channels-last on GPUs,
        with bf16 on CPUs, and in float32 on CPUs for networks narrower than
        the paper's: on the development CPU (``benchmarks/bench_pipeline.py``,
        one thread, 64 x 64) bf16 with channels-last trained the width-16
        network 1.5x and the width-64 one 1.2x faster than bf16 in NCHW; in
        float32 channels-last helped the width-16 network only.
    device : str or None
        ``'cpu'``, ``'cuda'``, ...; `None` picks CUDA when available.
    checkpoint_every : int
        Also write the checkpoint every this many steps within an epoch (0:
        only at the end of each epoch).
    compile : bool
        Compile the network with `torch.compile`.
    time_budget : float or None
        Stop after the first step past this many seconds of training (then
        validate and save as after a full epoch): a fixed wall-clock budget,
        as ``picasso demo`` trains, instead of a fixed number of epochs. Runs
        with a budget are not reproducible step for step.
    floor_at_zero : bool
        Normalise the input so that empty sky is 0
        (`~picasso.nn.transforms.InputTransform`); runs recorded before this
        setting existed resume without it.
    block_weights : dict
        Weight of the mass-conserving block-sum term of the loss per property
        (`picasso.nn.loss.block_sum_loss`); properties not named get none.
    init_output_bias : bool
        Start the output layer's bias at the mean log10 of the training
        truth, so the network predicts plausible values from its first step.
    """

    epochs: int = 13
    batch_size: int = 16
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    milestones: tuple = (8, 10)
    gamma: float = 0.1
    loss: str = "paper"
    empty_weight: float = EMPTY_WEIGHT
    augment: bool = True
    keep_bands: tuple | None = None
    flux_floor: float = DEFAULT_FLUX_FLOOR
    reference_redshift: float | str | None = "median"
    seed: int = 0
    test_every: int = 5
    validation_fraction: float = 0.2
    num_workers: int | None = None
    precision: str = "auto"
    channels_last: bool | None = None
    device: str | None = None
    checkpoint_every: int = 0
    compile: bool = False
    time_budget: float | None = None
    floor_at_zero: bool = True
    block_weights: dict = field(default_factory=dict)
    init_output_bias: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "test_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be at least 1")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {self.loss!r}")
        if self.num_workers is not None and int(self.num_workers) < 0:
            raise ValueError("TrainConfig.num_workers must be None or at least 0")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be in (0, 1)")
        if not self.learning_rate > 0:
            raise ValueError("learning_rate must be positive")
        if self.reference_redshift is not None and self.reference_redshift != "median":
            value = float(self.reference_redshift)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"reference_redshift must be 'median', None or a positive redshift, got "
                    f"{self.reference_redshift!r}"
                )
            object.__setattr__(self, "reference_redshift", value)
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if self.keep_bands is not None:
            object.__setattr__(self, "keep_bands", tuple(self.keep_bands))
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be a positive number of seconds, got "
                             f"{self.time_budget!r}")

    def to_dict(self):
        """dict: JSON-ready form."""
        config = asdict(self)
        config["milestones"] = list(self.milestones)
        if self.keep_bands is not None:
            config["keep_bands"] = list(self.keep_bands)
        return config

    @classmethod
    def from_dict(cls, config):
        """
        Build from `to_dict` output; unknown keys raise `ValueError`.

        Settings written before ``reference_redshift``, ``floor_at_zero``,
        ``block_weights`` and ``init_output_bias`` existed had none of them,
        so a missing key reads as what those runs did.
        """
        known = {item.name for item in fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown training setting(s) {sorted(unknown)}")
        before = {"reference_redshift": None, "floor_at_zero": False, "block_weights": {},
                  "init_output_bias": False}
        return cls(**{**before, **config})


#: Named (architecture, training settings) pairs: ``'paper'`` is the paper's
#: model and schedule; ``'small'`` is a narrow network with a faster schedule
#: that trains on a CPU.
PRESETS = {
    "paper": (UNetConfig(), TrainConfig()),
    "small": (
        UNetConfig(depth=4, base_width=16),
        TrainConfig(epochs=6, batch_size=8, learning_rate=3e-4, milestones=(4, 5)),
    ),
}


def preset(name, **overrides):
    """
    A preset's architecture and training settings, with overrides.

    Parameters
    ----------
    name : str
        A key of `PRESETS`.
    **overrides
        Fields of `UNetConfig` or `TrainConfig` to change.

    Returns
    -------
    model_config : `~picasso.nn.UNetConfig`
    train_config : `TrainConfig`
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets are {', '.join(PRESETS)}")
    model_config, train_config = PRESETS[name]
    model_fields = {item.name for item in fields(UNetConfig)}
    train_fields = {item.name for item in fields(TrainConfig)}
    unknown = set(overrides) - model_fields - train_fields
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}")
    model_config = replace(model_config,
                           **{k: v for k, v in overrides.items() if k in model_fields})
    train_config = replace(train_config,
                           **{k: v for k, v in overrides.items() if k in train_fields})
    return model_config, train_config


@dataclass(frozen=True)
class Split:
    """
    Pairs of a dataset assigned to training, validation and test, by galaxy.

    Attributes
    ----------
    train, validation, test : `numpy.ndarray` of int
        Pair positions in the dataset.
    test_galaxies, validation_galaxies : tuple of int
        Galaxy ids in each held-out set (every view of a galaxy shares its
        split).
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    test_galaxies: tuple
    validation_galaxies: tuple

    def to_dict(self):
        """dict: JSON-ready record of the split (galaxy ids and pair counts)."""
        return {
            "method": "galaxies sorted by total stellar mass; every test_every-th to test, "
                      "then evenly spaced validation_fraction of the rest to validation",
            "n_pairs": {"train": int(self.train.size), "validation": int(self.validation.size),
                        "test": int(self.test.size)},
            "test_galaxies": [int(g) for g in self.test_galaxies],
            "validation_galaxies": [int(g) for g in self.validation_galaxies],
        }


def _evenly_spaced(n, fraction):
    """Positions (of ``n`` sorted items) that take every 1/fraction-th, from the 1/fraction-th."""
    position = np.arange(n)
    return np.flatnonzero(np.floor((position + 1) * fraction) > np.floor(position * fraction))


def split_by_galaxy(galaxy_ids, stellar_mass, *, test_every=5, validation_fraction=0.2):
    """
    The paper's stratified split, made by galaxy so views never leak.

    Galaxies are sorted by total stellar mass; every ``test_every``-th
    (the 5th, 10th, ...) goes to the test set, then an evenly spaced
    ``validation_fraction`` of the remaining galaxies (again in mass order)
    to validation, the rest to training. All views of a galaxy land in the
    same set.

    Parameters
    ----------
    galaxy_ids : array-like of int
        Galaxy of every pair.
    stellar_mass : array-like or `~astropy.units.Quantity`
        Total stellar mass of every pair (views of a galaxy may differ
        slightly: their mean is used).
    test_every : int
    validation_fraction : float

    Returns
    -------
    split : `Split`

    Raises
    ------
    ValueError
        If there are too few galaxies for non-empty training, validation
        and test sets.
    """
    galaxy_ids = np.asarray(galaxy_ids, dtype=np.int64)
    stellar_mass = np.asarray(getattr(stellar_mass, "value", stellar_mass), dtype=float)
    if galaxy_ids.shape != stellar_mass.shape or galaxy_ids.ndim != 1:
        raise ValueError("galaxy_ids and stellar_mass must be 1-d and of equal length")
    unique, inverse = np.unique(galaxy_ids, return_inverse=True)
    mean_mass = np.bincount(inverse, weights=stellar_mass) / np.bincount(inverse)
    order = np.argsort(mean_mass, kind="stable")
    test_positions = _evenly_spaced(unique.size, 1.0 / test_every)
    test_galaxies = unique[order[test_positions]]
    rest = np.delete(order, test_positions)
    validation_positions = _evenly_spaced(rest.size, validation_fraction)
    validation_galaxies = unique[rest[validation_positions]]
    n_train = rest.size - validation_positions.size
    if test_galaxies.size == 0 or n_train == 0 or (
        validation_fraction > 0 and validation_galaxies.size == 0
    ):
        raise ValueError(
            f"{unique.size} galaxies are too few to split into training, validation and test "
            f"sets (test_every={test_every}, validation_fraction={validation_fraction}); "
            "use a larger dataset"
        )
    is_test = np.isin(galaxy_ids, test_galaxies)
    is_validation = np.isin(galaxy_ids, validation_galaxies)
    return Split(
        train=np.flatnonzero(~is_test & ~is_validation),
        validation=np.flatnonzero(is_validation),
        test=np.flatnonzero(is_test),
        test_galaxies=tuple(int(g) for g in np.sort(test_galaxies)),
        validation_galaxies=tuple(int(g) for g in np.sort(validation_galaxies)),
    )


class NetworkDataset(Dataset):
    """
    Pairs in network space: normalised images and log10 targets as tensors.

    Items are made in two steps, which a training input pipeline runs in two
    places: `raw_batch` reads the pairs of a batch (in a data-loader worker),
    `finish_batch` turns them into network inputs (on the device, where the
    logarithm and the symmetries cost least). ``dataset[i]`` is both steps
    for a batch of one, so an item and the same pair in a batch are equal.

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset` or similar
        Anything with ``len``, items ``{'image', 'truth'}`` and ``bands``,
        ``properties`` and ``pixel_scale_kpc`` (one per pair) attributes;
        a ``read_batch`` method (as `~picasso.io.dataset.PairDataset` has)
        is used when there is one.
    indices : sequence of int, optional
        Positions in ``pairs`` to use; all by default.
    transform : `~picasso.nn.transforms.InputTransform`, optional
        The input contract (its bands are the network's, in order); by
        default flux per kpc2 of all the pairs' bands, no reference redshift.
    properties : sequence of str, optional
        Properties the network predicts, in order; ``pairs.properties`` by
        default.
    augment : bool
        Apply a random symmetry of the square, drawn from
        (``seed``, epoch, pair) so it is reproducible (`set_epoch`).
    seed : int
    """

    def __init__(self, pairs, indices=None, *, transform=None, properties=None, augment=False,
                 seed=0):
        self.pairs = pairs
        self.indices = np.arange(len(pairs)) if indices is None else np.asarray(indices, int)
        self.source_bands = tuple(pairs.bands)
        if transform is None:
            transform = InputTransform(bands=self.source_bands,
                                       flux_unit=getattr(pairs, "flux_unit", "nanomaggy"))
        self.transform = transform
        source_properties = tuple(pairs.properties)
        self.properties = PROPERTIES.validate(properties or source_properties)
        missing = [name for name in self.properties if name not in source_properties]
        if missing:
            raise ValueError(
                f"the dataset has no truth for {', '.join(missing)} (it has "
                f"{', '.join(source_properties)})"
            )
        self._property_index = [source_properties.index(name) for name in self.properties]
        # fail early on bands the data lacks
        select_band_channels(np.zeros((len(self.source_bands), 1, 1)), self.source_bands,
                             transform.bands)
        self._scale = transform.pair_scales(pairs, self.indices).astype(np.float32)
        self._conditions = (transform.pair_conditions(pairs, self.indices).astype(np.float32)
                            if transform.conditions else None)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch):
        """Choose the epoch whose augmentation draws `__getitem__` uses."""
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, item):
        if not -len(self) <= item < len(self):
            raise IndexError(f"item {item} out of range for {len(self)} pairs")
        image, truth = self.finish_batch(self.raw_batch([item]))
        return image[0], truth[0]

    def symmetries(self, items, epoch=None):
        """
        The symmetry of the square (0-7) each of ``items`` gets in ``epoch``.

        Parameters
        ----------
        items : sequence of int
            Positions in this dataset.
        epoch : int, optional
            The current one (`set_epoch`) by default.

        Returns
        -------
        k : `numpy.ndarray` of int64
            A function of (``seed``, epoch, pair) only; zeros without ``augment``.
        """
        epoch = self.epoch if epoch is None else int(epoch)
        index = self.indices[np.asarray(items, dtype=np.int64)]
        if not self.augment:
            return np.zeros(index.size, dtype=np.int64)
        return np.array([random_symmetry(self.seed, epoch, int(i)) for i in index],
                        dtype=np.int64)

    def raw_batch(self, items, epoch=None):
        """
        Read a batch: the pairs' flux and truth, and what `finish_batch` needs.

        Parameters
        ----------
        items : sequence of int
            Positions in this dataset.
        epoch : int, optional
            Epoch of the augmentation draws (`set_epoch`'s by default).

        Returns
        -------
        raw : dict of `torch.Tensor`
            ``"flux"`` (float32, the network's bands as stored), ``"truth"``
            (float32 log10 targets), ``"scale"`` (to flux per kpc2, one per
            pair), ``"conditions"`` (raw condition values, ``(n, 0)`` when
            none) and ``"symmetry"`` (int64 index, `symmetries`).
        """
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        index = self.indices[items]
        if hasattr(self.pairs, "read_batch"):
            read = self.pairs.read_batch(index)
            flux, truth = read["image"], read["truth"]
        else:
            read = [self.pairs[int(i)] for i in index]
            flux = np.stack([np.asarray(pair["image"], dtype=np.float32) for pair in read])
            truth = np.stack([np.asarray(pair["truth"], dtype=np.float32) for pair in read])
        flux = select_band_channels(np.asarray(flux, dtype=np.float32), self.source_bands,
                                    self.transform.bands)
        truth = np.asarray(truth, dtype=np.float32)
        if self._property_index != list(range(truth.shape[1])):
            truth = truth[:, self._property_index]
        conditions = (self._conditions[items] if self._conditions is not None
                      else np.zeros((items.size, 0), dtype=np.float32))
        return {
            "flux": torch.from_numpy(np.ascontiguousarray(flux)),
            "truth": torch.from_numpy(np.ascontiguousarray(truth)),
            "scale": torch.from_numpy(self._scale[items]),
            "conditions": torch.from_numpy(np.ascontiguousarray(conditions)),
            "symmetry": torch.from_numpy(self.symmetries(items, epoch)),
        }

    def finish_batch(self, raw, device=None, memory_format=torch.contiguous_format):
        """
        Network inputs and targets from a `raw_batch`, computed on ``device``.

        Flux per kpc2 (moved to the reference redshift), the condition planes,
        the transform's logarithm (`InputTransform.normalise`) and each pair's
        symmetry of the square, as tensor operations on the whole batch.

        Parameters
        ----------
        raw : dict
            `raw_batch` output (on the CPU, pinned or not).
        device : `torch.device` or str, optional
            Where to compute; where ``raw`` is by default. Copies to it do not
            block.
        memory_format : `torch.memory_format`
            Layout of the returned images (``torch.channels_last`` for a
            channels-last network).

        Returns
        -------
        images : `torch.Tensor`
            ``(n, channels, N, N)`` network inputs.
        truth : `torch.Tensor`
            ``(n, n_properties, N, N)`` log10 targets.
        """
        device = raw["flux"].device if device is None else torch.device(device)
        flux = raw["flux"].to(device, non_blocking=True)
        truth = raw["truth"].to(device, non_blocking=True)
        scale = raw["scale"].to(device, non_blocking=True)
        flux = flux * scale[:, None, None, None]
        conditions = raw["conditions"]
        if conditions.shape[1]:
            planes = conditions.to(device, non_blocking=True)[:, :, None, None]
            flux = torch.cat([flux, planes.expand(-1, -1, *flux.shape[-2:])], dim=1)
        images = self.transform.normalise(flux)
        return _apply_symmetries(images, truth, raw["symmetry"], memory_format)


def _apply_symmetries(images, truth, symmetry, memory_format=torch.contiguous_format):
    """Apply symmetry ``symmetry[i]`` (on the CPU) to pair ``i`` of a batch, on its device."""
    symmetry = torch.as_tensor(symmetry).cpu()
    kinds = torch.unique(symmetry).tolist()
    if kinds == [0] or not kinds:
        return images.contiguous(memory_format=memory_format), truth
    out_images = torch.empty_like(images, memory_format=memory_format)
    out_truth = torch.empty_like(truth)
    for k in kinds:
        where = torch.nonzero(symmetry == k).reshape(-1).to(images.device, non_blocking=True)
        out_images[where] = d4_transform(images.index_select(0, where), int(k))
        out_truth[where] = d4_transform(truth.index_select(0, where), int(k))
    return out_images, out_truth


class _BatchPlan(Sampler):
    """
    The batches a loader reads on its next pass, as ``(split, epoch, positions)`` keys.

    The trainer sets the plan before each pass (an epoch's training order from
    a given step, or the validation set), so one loader with persistent
    workers serves every epoch of both sets: its workers start once per run.
    """

    def __init__(self):
        self.batches = []

    def set(self, split, epoch, positions, batch_size):
        positions = [int(p) for p in positions]
        self.batches = [(split, int(epoch), tuple(positions[start:start + batch_size]))
                        for start in range(0, len(positions), batch_size)]

    def __iter__(self):
        return iter(list(self.batches))

    def __len__(self):
        return len(self.batches)


class _PairBatches(Dataset):
    """
    Whole batches of the training and validation pairs for a loader (``batch_size=None``).

    A key ``(split, epoch, positions)`` gives that split's `NetworkDataset.raw_batch`
    (to be finished on the device) or, with ``finish``, the finished batch
    (for a CPU run: the loader's workers then do that work too).
    """

    def __init__(self, datasets, finish, memory_format):
        self.datasets = datasets
        self.finish = finish
        self.memory_format = memory_format

    def __len__(self):
        return sum(len(data) for data in self.datasets.values())

    def __getitem__(self, key):
        split, epoch, positions = key
        data = self.datasets[split]
        raw = data.raw_batch(positions, epoch)
        if self.finish:
            return data.finish_batch(raw, memory_format=self.memory_format)
        return raw


def _native_bf16_cpu():
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX), so autocast pays."""
    return native_bf16("cpu") is not None


def _heads_in_float32(network):
    """
    Run the output convolutions of ``network`` in float32 under autocast.

    The targets are log10 values near 7-9, where bf16's 8-bit significand
    would round every prediction to 0.03-0.06 dex; the 1x1 heads cost little
    in float32. The weights (and so the state dict) are unchanged.
    """
    for name in ("head", "log_sigma_head"):
        module = getattr(network, name, None)
        if module is None or getattr(module, "_picasso_float32", False):
            continue
        plain = module.forward

        def forward(x, _plain=plain):
            with torch.autocast(x.device.type, enabled=False):
                return _plain(x.float())

        module.forward = forward
        module._picasso_float32 = True


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _rng_states():
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    states = {
        "python": list(random.getstate()[1]) + [random.getstate()[0], random.getstate()[2]],
        "numpy": json.dumps(numpy_state),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states):
    python = states["python"]
    random.setstate((python[-2], tuple(python[:-2]), python[-1]))
    numpy_state = json.loads(states["numpy"])
    numpy_state["state"]["key"] = np.array(numpy_state["state"]["key"], dtype=np.uint32)
    np.random.set_state(numpy_state)
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _write_atomic_bytes(path, data):
    with atomic_path(path, overwrite=True) as tmp_path:
        with open(tmp_path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def _dataset_summary(pairs):
    attrs = getattr(pairs, "attrs", {}) or {}

    def text(value):
        return value.decode() if isinstance(value, bytes) else value

    summary = {
        "n_pairs": len(pairs),
        "bands": list(pairs.bands),
        "properties": list(pairs.properties),
        "flux_unit": str(getattr(pairs, "flux_unit", "")),
        "image_size": int(getattr(pairs, "image_size", 0)),
    }
    if getattr(pairs, "path", None) is not None:
        # the file's name only: a model file travels, the build machine's paths do not
        summary["file"] = Path(pairs.path).name
    for key in ("seed", "generator", "picasso_version"):
        if key in attrs:
            value = text(attrs[key])
            summary[key] = value.item() if hasattr(value, "item") else value
    return summary


class Trainer:
    """
    Train a U-Net on a pair dataset with the paper's recipe.

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset` or similar
        Training pairs with a ``table`` holding ``galaxy_id`` and
        ``total_stellar_mass`` (for the split), ``bands``, ``properties``,
        ``flux_unit`` and ``image_size``.
    output_dir : str or path-like
        Where the model (``model.safetensors``, best on validation), the
        checkpoint, the logs (``log.csv``, ``log.json``) and the split
        (``split.json``) go.
    model_config : `~picasso.nn.UNetConfig`, optional
        Default: the paper's, with the dataset's bands and properties.
    config : `TrainConfig`, optional
        Default: the paper's schedule.
    progress : bool
        Show tqdm progress bars (process 0 only).

    Notes
    -----
    In a ``torchrun`` launch (``WORLD_SIZE`` > 1) the trainer joins the
    process group (NCCL on GPUs, gloo on CPUs) unless one exists already.
    """

    def __init__(self, pairs, output_dir, *, model_config=None, config=None, progress=True):
        self.pairs = pairs
        self.output_dir = Path(output_dir)
        self.config = config if config is not None else TrainConfig()
        if model_config is None:
            model_config = UNetConfig(in_bands=tuple(pairs.bands),
                                      properties=tuple(pairs.properties))
        self.model_config = model_config
        if self.config.loss == "gaussian_nll" and not model_config.heteroscedastic:
            raise ValueError("loss 'gaussian_nll' needs UNetConfig(heteroscedastic=True)")
        if self.config.keep_bands is not None:
            missing = set(self.config.keep_bands) - set(model_config.in_bands)
            if missing:
                raise ValueError(f"keep_bands {sorted(missing)} are not network input bands")
        self.image_size = int(pairs.image_size)
        if self.image_size % model_config.divisor:
            raise ValueError(
                f"image size {self.image_size} is not divisible by 2**depth = "
                f"{model_config.divisor}; choose a smaller depth or resample the dataset"
            )
        self.progress = progress
        self._setup_distributed()
        if self.world_size > 1 and self.config.time_budget is not None:
            raise ValueError("time_budget stops each process on its own clock; use it with one "
                             "process, or set epochs for a distributed run")
        self._setup_device()

        table = pairs.table
        for column in ("galaxy_id", "total_stellar_mass"):
            if column not in table.colnames:
                raise ValueError(
                    f"the galaxy split needs a {column!r} column in the dataset table; this "
                    f"dataset has {', '.join(table.colnames)}"
                )
        self.split = split_by_galaxy(
            np.asarray(table["galaxy_id"]), table["total_stellar_mass"],
            test_every=self.config.test_every,
            validation_fraction=self.config.validation_fraction,
        )
        self.transform = InputTransform(
            bands=model_config.in_bands, flux_unit=pairs.flux_unit,
            flux_floor=self.config.flux_floor, reference_redshift=self._reference_redshift(),
            keep_bands=self.config.keep_bands, conditions=model_config.conditions,
            floor_at_zero=self.config.floor_at_zero,
        )
        common = dict(transform=self.transform, properties=model_config.properties,
                      seed=self.config.seed)
        self.train_data = NetworkDataset(pairs, self.split.train, augment=self.config.augment,
                                         **common)
        self.validation_data = NetworkDataset(pairs, self.split.validation, augment=False,
                                              **common)

        unknown = set(self.config.block_weights) - set(model_config.properties)
        if unknown:
            raise ValueError(f"block_weights names properties the network does not predict: "
                             f"{sorted(unknown)}")
        self._block_weights = ([float(self.config.block_weights.get(name, 0.0))
                                for name in model_config.properties]
                               if any(self.config.block_weights.values()) else None)
        torch.manual_seed(self.config.seed)
        self.network = UNet(model_config)
        if self.config.init_output_bias:
            self._initialise_output_bias()
        self.network = self.network.to(self.device)
        if self.channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
        if self.precision == "bf16":
            _heads_in_float32(self.network)
        self.model = self.network
        if self.world_size > 1:
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.network, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.config.compile:
            self.model = torch.compile(self.model)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate,
                                          weight_decay=self.config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(self.config.milestones), gamma=self.config.gamma
        )
        self.loss_function = LOSSES[self.config.loss]
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.best_metric = float("inf")
        self.best_epoch = None
        self.history = []
        self._running = {"loss_sum": 0.0, "n_images": 0, "seconds": 0.0}
        self._loader = None
        self._loader_data = None
        self._plan = None

    # -- set-up -----------------------------------------------------------------------------

    def _setup_distributed(self):
        self._owns_process_group = False
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() and self.config.device != "cpu" \
                else "gloo"
            dist.init_process_group(backend)
            self._owns_process_group = True
        if dist.is_available() and dist.is_initialized():
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        else:
            self.rank, self.world_size = 0, 1

    def _setup_device(self):
        name = self.config.device
        if name is None:
            name = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(name)
        if device.type == "cuda" and device.index is None:
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            available = torch.cuda.device_count()
            if local_rank >= available:
                raise RuntimeError(
                    f"this process is local rank {local_rank} but the machine has {available} "
                    f"CUDA device(s): launch one process per GPU (torchrun --nproc_per_node "
                    f"{available}), or train on the CPU with device='cpu' (--device cpu)"
                )
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        self.device = device
        precision = self.config.precision
        if precision == "auto":
            if device.type == "cuda":
                native = torch.cuda.is_bf16_supported()
            else:
                native = device.type == "cpu" and _native_bf16_cpu()
            precision = "bf16" if native else "fp32"
        self.precision = precision
        channels_last = self.config.channels_last
        if channels_last is None:
            channels_last = (device.type == "cuda" or precision == "bf16"
                             or self.model_config.base_width < 64)
        self.channels_last = bool(channels_last)
        workers = self.config.num_workers
        if workers is None:
            # a GPU waits for its inputs without workers; a CPU run shares its cores with them
            local = int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size))
            workers = (min(8, max(_usable_cpus() // max(local, 1) - 1, 0))
                       if device.type == "cuda" else 0)
        self.num_workers = int(workers)

    @property
    def is_main(self):
        """bool: whether this process writes files (rank 0)."""
        return self.rank == 0

    # -- state ------------------------------------------------------------------------------

    def state_dict(self):
        """
        The complete training state, as a checkpoint holds it.

        Returns
        -------
        state : dict
            Tensors, numbers, strings and lists only (readable with
            ``torch.load(weights_only=True)``).
        """
        return {
            "format": "picasso-checkpoint",
            "model_config": json.dumps(self.model_config.to_dict()),
            "train_config": json.dumps(self.config.to_dict()),
            "n_pairs": len(self.pairs),
            "network": {k: v.detach().clone() for k, v in self.network.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best_metric": self.best_metric,
            "best_epoch": -1 if self.best_epoch is None else self.best_epoch,
            "history": json.dumps(self.history),
            "running": json.dumps(self._running),
            "data_order": json.dumps({"seed": self.config.seed, "epoch": self.epoch,
                                      "start_sample": self.step_in_epoch * self.config.batch_size,
                                      "world_size": self.world_size}),
            "rng": _rng_states(),
        }

    def load_state_dict(self, state):
        """Restore a `state_dict` (the inverse of it)."""
        if state.get("format") != "picasso-checkpoint":
            raise ValueError("not a picasso training checkpoint")
        if state["n_pairs"] != len(self.pairs):
            raise ValueError(
                f"the checkpoint was made on a dataset of {state['n_pairs']} pairs, this one has "
                f"{len(self.pairs)}; resume with the same dataset"
            )
        world = json.loads(state["data_order"])["world_size"]
        if state["step_in_epoch"] and world != self.world_size:
            raise ValueError(
                f"the checkpoint was taken mid-epoch with {world} processes; resume with the "
                f"same number (this run has {self.world_size})"
            )
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state["step_in_epoch"])
        self.global_step = int(state["global_step"])
        self.best_metric = float(state["best_metric"])
        self.best_epoch = None if state["best_epoch"] < 0 else int(state["best_epoch"])
        self.history = json.loads(state["history"])
        self._running = json.loads(state["running"])
        _set_rng_states(state["rng"])

    @property
    def checkpoint_path(self):
        """`~pathlib.Path`: the resumable state."""
        return self.output_dir / CHECKPOINT_FILENAME

    def save_checkpoint(self):
        """Write the training state atomically (process 0 only)."""
        if not self.is_main:
            return
        buffer = io.BytesIO()
        torch.save(self.state_dict(), buffer)
        _write_atomic_bytes(self.checkpoint_path, buffer.getvalue())

    @classmethod
    def resume(cls, pairs, output_dir, *, progress=True, **config_overrides):
        """
        Continue a run from the checkpoint in ``output_dir``.

        Parameters
        ----------
        pairs : `~picasso.io.dataset.PairDataset`
            The same dataset the run started with.
        output_dir : str or path-like
        progress : bool
        **config_overrides
            Settings that do not change the result (``num_workers``,
            ``device``, ``epochs`` to train longer).

        Returns
        -------
        trainer : `Trainer`
        """
        path = Path(output_dir) / CHECKPOINT_FILENAME
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint {path} to resume from")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model_config = UNetConfig.from_dict(json.loads(state["model_config"]))
        config = replace(TrainConfig.from_dict(json.loads(state["train_config"])),
                         **config_overrides)
        trainer = cls(pairs, output_dir, model_config=model_config, config=config,
                      progress=progress)
        trainer.load_state_dict(state)
        log.info("resumed %s at epoch %d step %d", output_dir, trainer.epoch,
                 trainer.step_in_epoch)
        return trainer

    # -- training ---------------------------------------------------------------------------

    @property
    def _memory_format(self):
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def _batch_loader(self):
        """The one loader of the run (persistent workers), rebuilt if the datasets change."""
        data = (self.train_data, self.validation_data)
        if self._loader is not None and all(a is b for a, b in zip(data, self._loader_data)):
            return self._loader
        self.close_loader()
        self._plan = _BatchPlan()
        # on a CPU the loader's workers also finish the batches; elsewhere the device does
        batches = _PairBatches({"train": data[0], "validation": data[1]},
                               finish=self.device.type == "cpu",
                               memory_format=self._memory_format)
        workers = self.num_workers
        self._loader = DataLoader(
            batches, batch_size=None, sampler=self._plan, num_workers=workers,
            pin_memory=self.device.type == "cuda", persistent_workers=workers > 0,
            prefetch_factor=4 if workers else None,
        )
        self._loader_data = data
        return self._loader

    def close_loader(self):
        """Stop the data-loader workers (`fit` does at its end; a later pass starts new ones)."""
        loader, self._loader, self._loader_data = self._loader, None, None
        iterator = getattr(loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()

    def _batches(self, split, positions, batch_size):
        """
        Yield ``(images, truth)`` on the device for ``positions`` of a split, in batches.

        Reading runs in the loader's workers; on a GPU the copies (from pinned
        memory) and the finishing run on a side stream one batch ahead of the
        network.
        """
        loader = self._batch_loader()
        data = self.train_data if split == "train" else self.validation_data
        self._plan.set(split, self.epoch, positions, batch_size)
        if self.device.type == "cpu":
            yield from loader
            return
        if self.device.type != "cuda":
            for raw in loader:
                yield data.finish_batch(raw, self.device, self._memory_format)
            return
        stream = torch.cuda.Stream(self.device)
        iterator = iter(loader)

        def stage():
            raw = next(iterator, None)
            if raw is None:
                return None
            with torch.cuda.stream(stream):
                return data.finish_batch(raw, self.device, self._memory_format)

        staged = stage()
        while staged is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_stream(stream)
            for tensor in staged:
                tensor.record_stream(current)
            batch, staged = staged, stage()
            yield batch

    def _epoch_order(self):
        """This process's share of the current epoch's training order (as `DistributedSampler`)."""
        sampler = DistributedSampler(
            range(len(self.train_data)), num_replicas=self.world_size, rank=self.rank,
            shuffle=True, seed=self.config.seed, drop_last=False,
        )
        sampler.set_epoch(self.epoch)
        return list(sampler)

    def _forward(self, images, module=None):
        images = images.to(self.device, non_blocking=True)  # already there from _batches
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.precision == "bf16"):
            out = (module or self.model)(images)
        return self.network.split_output(out.float())

    def _loss(self, prediction, log_sigma, truth, reduction="mean"):
        kwargs = {"empty_weight": self.config.empty_weight, "reduction": reduction}
        if self.config.loss == "gaussian_nll":
            loss = self.loss_function(prediction, log_sigma, truth, **kwargs)
        else:
            loss = self.loss_function(prediction, truth, **kwargs)
        if self._block_weights is not None:
            loss = loss + block_sum_loss(prediction, truth, self._block_weights)
        return loss

    def _initialise_output_bias(self, n_sample=256):
        """Start the output bias at the mean log10 truth of the training pairs, per property."""
        positions = np.linspace(0, len(self.train_data) - 1,
                                min(n_sample, len(self.train_data))).astype(int)
        truth = self.train_data.raw_batch(positions)["truth"].numpy()
        known = truth > EMPTY_THRESHOLD
        with torch.no_grad():
            for channel in range(truth.shape[1]):
                values = truth[:, channel][known[:, channel]]
                if values.size:
                    self.network.head.bias[channel] = float(values.mean())

    def train_epoch(self):
        """Train from the current position to the end of the current epoch."""
        from tqdm.auto import tqdm

        self.model.train()
        self.train_data.set_epoch(self.epoch)
        batch_size = self.config.batch_size
        positions = self._epoch_order()[self.step_in_epoch * batch_size:]
        bar = tqdm(total=math.ceil(len(positions) / batch_size),
                   desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                   disable=not (self.progress and self.is_main), leave=False)
        # On a GPU the loss is read one step late, so that reading it does not make the
        # host wait for the step it just queued (the next batch is prepared meanwhile).
        defer = self.device.type == "cuda" and self.config.time_budget is None
        pending = None
        self._tick = time.perf_counter()
        batches = self._batches("train", positions, batch_size)
        try:
            for images, truth in batches:
                prediction, log_sigma = self._forward(images)
                loss = self._loss(prediction, log_sigma, truth)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                if pending is not None:
                    self._account(*pending, bar)
                pending = (loss.detach(), len(images), self.step_in_epoch)
                self.step_in_epoch += 1
                self.global_step += 1
                every = self.config.checkpoint_every
                if not defer or (every and self.step_in_epoch % every == 0):
                    self._account(*pending, bar)
                    pending = None
                if every and self.step_in_epoch % every == 0:
                    self.save_checkpoint()
                if self._out_of_time():
                    break
            if pending is not None:
                self._account(*pending, bar)
        finally:
            batches.close()
            bar.close()

    def _account(self, loss, n_images, step, bar):
        """Add a step's loss and time to the running totals; stop on a non-finite loss."""
        value = float(loss)
        if not np.isfinite(value):
            raise FloatingPointError(
                f"training loss became {value} at epoch {self.epoch + 1}, step {step}; lower "
                "the learning rate"
            )
        self._running["loss_sum"] += value * n_images
        self._running["n_images"] += n_images
        now = time.perf_counter()
        self._running["seconds"] += now - self._tick
        self._tick = now
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4g}")

    def _out_of_time(self):
        """Whether the run has used its ``time_budget`` (training steps only)."""
        budget = self.config.time_budget
        return budget is not None and self._trained_seconds() >= budget

    def _trained_seconds(self):
        return sum(row.get("seconds", 0.0) for row in self.history) + self._running["seconds"]

    @torch.inference_mode()
    def validate(self):
        """
        Loss and per-property scatter on the validation set.

        Returns
        -------
        metrics : dict
            ``validation_loss`` (the training loss, averaged over images) and
            ``rms_dex_<property>``: root-mean-square error on known pixels.
        """
        # the bare network: shards may differ in size, and evaluation needs no gradient sync
        self.network.eval()
        n_properties = len(self.model_config.properties)
        totals = torch.zeros(2 + 2 * n_properties, dtype=torch.float64, device=self.device)
        positions = range(self.rank, len(self.validation_data), self.world_size)
        # no activations are kept for a backward pass: twice the training batch fits
        for images, truth in self._batches("validation", positions, 2 * self.config.batch_size):
            prediction, log_sigma = self._forward(images, self.network)
            loss = self._loss(prediction, log_sigma, truth)
            known = truth > -50.0
            squared = torch.where(known, (truth - prediction) ** 2, 0.0)
            totals[0] += loss.detach().double() * len(images)
            totals[1] += len(images)
            totals[2:2 + n_properties] += squared.sum(dim=(0, 2, 3)).double()
            totals[2 + n_properties:] += known.sum(dim=(0, 2, 3)).double()
        if self.world_size > 1:
            dist.all_reduce(totals)
        totals = totals.cpu()
        metrics = {"validation_loss": float(totals[0] / max(float(totals[1]), 1.0))}
        for index, name in enumerate(self.model_config.properties):
            count = float(totals[2 + n_properties + index])
            metrics[f"rms_dex_{name}"] = (
                math.sqrt(float(totals[2 + index]) / count) if count else float("nan")
            )
        return metrics

    def model_object(self, trained=True):
        """The current network as a `~picasso.nn.Model` with full provenance."""
        network = UNet(self.model_config)
        network.load_state_dict({k: v.detach().cpu() for k, v in self.network.state_dict().items()})
        network.eval()
        best = next((row for row in self.history if row["epoch"] == self.best_epoch), {})
        info = {
            "training_data": _dataset_summary(self.pairs),
            "train_config": self.config.to_dict(),
            "split": self.split.to_dict(),
            "seed": self.config.seed,
            "metrics": {key: value for key, value in best.items()
                        if key.startswith(("validation", "rms_dex"))},
            "epoch": self.best_epoch,
        }
        info[STATISTICS_KEY] = self._training_input_statistics()
        return Model(network, self.transform, image_size=self.image_size, trained=trained,
                     info=info)

    def _reference_redshift(self):
        """The redshift inputs are moved to, from ``config.reference_redshift``."""
        setting = self.config.reference_redshift
        if setting != "median":
            return setting
        redshifts = pair_redshifts(self.pairs)
        if redshifts is None:
            log.info("not every pair has a redshift: the inputs stay at their own distance "
                     "(reference_redshift None)")
            return None
        return float(np.median(redshifts[self.split.train]))

    def _training_input_statistics(self):
        """Summary of the training inputs for out-of-distribution warnings (computed once)."""
        if getattr(self, "_input_statistics", None) is None:
            try:
                self._input_statistics = training_statistics(
                    self.pairs, self.transform, self.split.train).to_dict()
            except ValueError as error:
                log.warning("no training-input statistics in the model header: %s", error)
                self._input_statistics = {}
        return self._input_statistics or None

    def _write_logs(self):
        rows = self.history
        columns = list(rows[0]) if rows else []
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        _write_atomic_bytes(self.output_dir / "log.csv", text.getvalue().encode())
        record = {"model_config": self.model_config.to_dict(),
                  "train_config": self.config.to_dict(),
                  "world_size": self.world_size, "device": str(self.device),
                  "precision": self.precision, "channels_last": self.channels_last,
                  "best_epoch": self.best_epoch, "best_validation_loss": self.best_metric,
                  "epochs": rows}
        _write_atomic_bytes(self.output_dir / "log.json", json.dumps(record, indent=1).encode())

    def fit(self):
        """
        Train to ``config.epochs``, validating after each epoch.

        Returns
        -------
        model : `~picasso.nn.Model`
            The best network on validation (also written to
            ``output_dir/model.safetensors``).
        """
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic_bytes(self.output_dir / "split.json",
                                json.dumps(self.split.to_dict(), indent=1).encode())
        log.info("training on %d pairs, validating on %d, %d held out for test; %s, %s, %d "
                 "process(es)", len(self.train_data), len(self.validation_data),
                 self.split.test.size, self.device, self.precision, self.world_size)
        try:
            while self.epoch < self.config.epochs:
                self.train_epoch()
                metrics = self.validate()
                if not np.isfinite(metrics["validation_loss"]):
                    raise FloatingPointError(
                        f"validation loss is {metrics['validation_loss']} after epoch "
                        f"{self.epoch + 1}; lower the learning rate"
                    )
                train_loss = self._running["loss_sum"] / max(self._running["n_images"], 1)
                row = {
                    "epoch": self.epoch + 1,
                    "step": self.global_step,
                    "learning_rate": self.optimizer.param_groups[0]["lr"],
                    "train_loss": train_loss,
                    **metrics,
                    "train_images_per_second": (self._running["n_images"] * self.world_size
                                                / max(self._running["seconds"], 1e-9)),
                    "seconds": self._running["seconds"],
                    "device": str(self.device),
                }
                self.history.append(row)
                self.scheduler.step()
                self.epoch += 1
                self.step_in_epoch = 0
                self._running = {"loss_sum": 0.0, "n_images": 0, "seconds": 0.0}
                improved = metrics["validation_loss"] < self.best_metric
                if improved:
                    self.best_metric = metrics["validation_loss"]
                    self.best_epoch = row["epoch"]
                if self.is_main:
                    if improved:
                        self.model_object().save(self.output_dir / MODEL_FILENAME, overwrite=True)
                    self._write_logs()
                    self.save_checkpoint()
                    log.info("epoch %d: train loss %.5g, validation loss %.5g%s", row["epoch"],
                             train_loss, metrics["validation_loss"], " (best)" if improved else "")
                if self.world_size > 1:
                    dist.barrier()
                if self._out_of_time():
                    log.info("time budget of %g s used after %d steps", self.config.time_budget,
                             self.global_step)
                    break
        finally:
            self.close_loader()
            if self._owns_process_group:
                dist.destroy_process_group()
        return Model.load(self.output_dir / MODEL_FILENAME)
