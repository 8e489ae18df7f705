"""
Deep ensembles: several networks trained with different seeds, one prediction
with a per-pixel uncertainty.

The paper recommends an ensemble to pin down the uncertainty of the
predicted maps. An `Ensemble` holds ``n`` `~picasso.nn.Model` members of one
architecture (same bands, properties, flux unit, floor and image size) that
differ only in the seed of their weights, data order and augmentation. Its
prediction (Lakshminarayanan et al. 2017) is the mean of the members' log10
maps; its 1-sigma uncertainty in dex is the standard deviation of the
members' mixture::

    sigma^2 = mean_i(mu_i^2 + s_i^2) - mean_i(mu_i)^2

where ``s_i`` is member ``i``'s own heteroscedastic sigma (zero for members
without an uncertainty head). Check it on held-out data with
`picasso.analysis.calibration`.

An ensemble is written as ONE safetensors model file: the tensors of member
``i`` are stored under ``member_<i>.<name>``, and the JSON header is a normal
picasso model header with an extra ``ensemble`` entry (number of members and
each member's provenance). `load_ensemble` reads it; `picasso.load_model`
recognises it too.
"""

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from .model import Model
from .model_file import HEADER_KEYS, MODEL_FILENAME, read_model_file, write_model_file
from .train import TrainConfig, Trainer

__all__ = ["Ensemble", "load_ensemble", "train_ensemble", "is_ensemble_header",
           "ENSEMBLE_KEY"]

log = logging.getLogger(__name__)

#: Header key that marks a model file as an ensemble.
ENSEMBLE_KEY = "ensemble"

_PREFIX = "member_{}."

#: Header entries that describe every member alike (data, split, training-input
#: statistics); the ensemble carries them once.
_SHARED_KEYS = ("input_statistics", "training_data", "split")


def is_ensemble_header(header):
    """
    Whether a model-file header describes an ensemble.

    Parameters
    ----------
    header : dict
        The JSON header of a picasso model file.

    Returns
    -------
    bool
    """
    return isinstance(header, dict) and isinstance(header.get(ENSEMBLE_KEY), dict)


class Ensemble(Model):
    """
    A deep ensemble of models that differ only in their training seed.

    It is a `~picasso.nn.Model` (bands, properties, flux unit, image size
    and header come from the members, which must agree), so it can be given
    wherever a model is taken; its `predict_log10` returns the ensemble mean
    and the per-pixel 1-sigma in dex.

    Parameters
    ----------
    members : sequence of `~picasso.nn.Model`
        At least two models of the same architecture and input convention.
    info : dict, optional
        Provenance for the header (training command, data, metrics, ...).

    Raises
    ------
    ValueError
        If fewer than two members are given or they disagree in
        architecture, flux unit, flux floor or image size.
    TypeError
        If a member is not a `~picasso.nn.Model` (or is itself an ensemble).
    """

    def __init__(self, members, *, info=None):
        members = list(members)
        if len(members) < 2:
            raise ValueError(
                f"an ensemble needs at least two members, got {len(members)}; use the single "
                "model directly"
            )
        for index, member in enumerate(members):
            if not isinstance(member, Model) or isinstance(member, Ensemble):
                raise TypeError(
                    f"ensemble member {index} must be a picasso Model, got "
                    f"{type(member).__name__}"
                )
        first = members[0]
        for index, member in enumerate(members[1:], start=1):
            for what in ("config", "transform", "image_size"):
                if getattr(member, what) != getattr(first, what):
                    raise ValueError(
                        f"ensemble member {index} differs from member 0 in {what} "
                        f"({getattr(member, what)!r} vs {getattr(first, what)!r}); members must "
                        "share architecture and input convention and differ only in their seed"
                    )
        shared = {key: first.info[key] for key in _SHARED_KEYS if key in first.info}
        super().__init__(first.network, first.transform, image_size=first.image_size,
                         trained=all(member.trained for member in members),
                         info={**shared, **(info or {})})
        self.members = tuple(members)

    def __repr__(self):
        return f"<picasso Ensemble of {len(self.members)}: {Model.__repr__(self.members[0])[1:]}"

    def __len__(self):
        return len(self.members)

    @property
    def has_uncertainty(self):
        """bool: always `True`: the members' spread is an uncertainty."""
        return True

    def to(self, device):
        """Move every member to ``device``; returns ``self``."""
        for member in self.members:
            member.to(device)
        return self

    @property
    def header(self):
        """dict: the JSON header, with an ``ensemble`` entry describing the members."""
        header = super().header
        members = []
        for member in self.members:
            record = {key: member.info[key] for key in ("seed", "metrics", "epoch", "train_config")
                      if key in member.info}
            members.append(record)
        header[ENSEMBLE_KEY] = {
            "n_members": len(self.members),
            "combination": "mean of log10 maps; sigma = standard deviation of the members' "
                           "mixture (spread of the means plus mean heteroscedastic variance)",
            "members": members,
        }
        return header

    def save(self, path, *, overwrite=False):
        """
        Write the ensemble as one model file.

        Parameters
        ----------
        path : str or path-like
            A ``.safetensors`` file, or a directory (``model.safetensors`` is
            written inside it).
        overwrite : bool

        Returns
        -------
        path : `~pathlib.Path`
        """
        tensors = {}
        for index, member in enumerate(self.members):
            for name, tensor in member.network.state_dict().items():
                tensors[_PREFIX.format(index) + name] = tensor.detach().cpu().contiguous()
        path = write_model_file(path, tensors, self.header, overwrite=overwrite)
        log.info("wrote ensemble of %d members to %s", len(self.members), path)
        return path

    def predict_log10(self, images, *, batch_size=8, device=None, symmetries=(0,),
                      progress=False, channels_last=True, compile=False, precision="auto"):
        """
        Ensemble mean log10 maps and their 1-sigma uncertainty.

        Parameters
        ----------
        images : array-like or sequence of arrays
            ``(n, n_bands, N, N)`` moved flux per kpc2 (`~picasso.nn.Model.input_flux`).
        batch_size, device, symmetries, progress, channels_last, compile, precision
            As for `picasso.nn.Model.predict_log10`, applied to every member
            (each member checks bf16 for itself; `last_precision` lists them).

        Returns
        -------
        log10_maps : `numpy.ndarray`
            float32 ``(n, n_properties, N, N)``: the mean over members.
        sigma_dex : `numpy.ndarray`
            float32, same shape: the standard deviation of the members'
            mixture, in dex.
        """
        first_moment = second_moment = None
        for index, member in enumerate(self.members):
            mean, sigma = member.predict_log10(images, batch_size=batch_size, device=device,
                                               symmetries=symmetries,
                                               progress=progress and index == 0,
                                               channels_last=channels_last, compile=compile,
                                               precision=precision)
            mean = mean.astype(np.float64)
            second = mean**2 if sigma is None else mean**2 + sigma.astype(np.float64) ** 2
            if first_moment is None:
                first_moment, second_moment = mean, second
            else:
                first_moment += mean
                second_moment += second
        records = [member.last_precision for member in self.members]
        used = {record["precision"] for record in records if record}
        self.last_precision = {"precision": used.pop() if len(used) == 1 else
                               ("mixed" if used else None), "members": records}
        n = len(self.members)
        first_moment /= n
        second_moment /= n
        variance = np.maximum(second_moment - first_moment**2, 0.0)
        return first_moment.astype(np.float32), np.sqrt(variance).astype(np.float32)

    @classmethod
    def from_file_contents(cls, header, config, tensors, *, source="the model file"):
        """
        Build an ensemble from what `~picasso.nn.model_file.read_model_file` returned.

        Parameters
        ----------
        header : dict
            With an ``ensemble`` entry.
        config : `~picasso.nn.UNetConfig`
        tensors : dict
            Every member's tensors, prefixed ``member_<i>.``.
        source : str
            Named in error messages.

        Returns
        -------
        ensemble : `Ensemble`
        """
        problem = f"{source} is not a valid picasso model file"
        if not is_ensemble_header(header):
            raise ValueError(f"{source} holds a single model, not an ensemble; load it with "
                             "picasso.load_model")
        n_members = int(header[ENSEMBLE_KEY].get("n_members", 0))
        if n_members < 2:
            raise ValueError(f"{problem}: its ensemble header names {n_members} members; an "
                             "ensemble needs at least two")
        records = header[ENSEMBLE_KEY].get("members", [{}] * n_members)
        info = {key: value for key, value in header.items()
                if key not in HEADER_KEYS and key != ENSEMBLE_KEY}
        prefixes = [_PREFIX.format(index) for index in range(n_members)]
        leftover = [name for name in tensors if not name.startswith(tuple(prefixes))]
        if leftover:
            raise ValueError(f"{problem}: it holds tensors of no member named in its header "
                             f"({', '.join(leftover[:3])})")
        members = []
        for index, prefix in enumerate(prefixes):
            member_tensors = {name[len(prefix):]: tensor for name, tensor in tensors.items()
                              if name.startswith(prefix)}
            record = records[index] if index < len(records) else {}
            member_header = {**header, **record}
            member_header.pop(ENSEMBLE_KEY)
            members.append(Model.from_file_contents(
                member_header, config, member_tensors, source=f"{source} (member {index})"))
        return cls(members, info=info)


def load_ensemble(path, *, device="cpu"):
    """
    Read an ensemble model file written by `Ensemble.save`.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` file or a directory holding ``model.safetensors``.
    device : str or `torch.device`

    Returns
    -------
    ensemble : `Ensemble`

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a picasso ensemble or its weights do not fit.
    """
    header, config, tensors = read_model_file(path)
    return Ensemble.from_file_contents(header, config, tensors, source=str(path)).to(device)


def train_ensemble(pairs, output_dir, *, seeds=(0, 1, 2), model_config=None, config=None,
                   progress=True):
    """
    Train one member per seed with `~picasso.nn.Trainer` and join them.

    Every member sees the same galaxy split (it depends only on the
    dataset), so the test set stays held out from all of them.

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset`
    output_dir : str or path-like
        Member runs go to ``output_dir/seed_<seed>/``; the ensemble to
        ``output_dir/model.safetensors``.
    seeds : sequence of int
        One member per seed (at least two, all different).
    model_config : `~picasso.nn.UNetConfig`, optional
    config : `~picasso.nn.TrainConfig`, optional
        Its ``seed`` is replaced by each member's.
    progress : bool

    Returns
    -------
    ensemble : `Ensemble`
    """
    seeds = [int(seed) for seed in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"an ensemble needs at least two different seeds, got {seeds}")
    config = config if config is not None else TrainConfig()
    output_dir = Path(output_dir)
    members = []
    for seed in seeds:
        log.info("training ensemble member with seed %d", seed)
        trainer = Trainer(pairs, output_dir / f"seed_{seed}", model_config=model_config,
                          config=replace(config, seed=seed), progress=progress)
        members.append(trainer.fit())
    ensemble = Ensemble(members, info={"seeds": seeds})
    ensemble.save(output_dir / MODEL_FILENAME, overwrite=True)
    return ensemble
