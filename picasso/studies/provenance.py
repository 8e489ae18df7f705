"""
How a model's training pairs were made, read back from its header.

A model trained on ``picasso.mock`` pairs records the generator of its
dataset (universe parameters, observing set-up, views) in its header. The
benchmarks, the demo and the model card observe new galaxies exactly as the
training images were observed by reading that record here.
"""

import json

from ..mock.observe import ObservingConfig

__all__ = ["generator_record", "training_observing"]


def generator_record(header):
    """
    The generator record of a model's training pairs, from its header or info.

    Parameters
    ----------
    header : dict or `~picasso.nn.Model`
        A model header, `~picasso.nn.Model.info`, or the model itself.

    Returns
    -------
    record : dict
        ``universe``, ``observing``, ``views``, ... as
        `picasso.mock.build.build_dataset` wrote them; empty when the header
        does not say.
    """
    if not isinstance(header, dict):
        header = header.info
    generator = (header.get("training_data") or {}).get("generator")
    if isinstance(generator, str):
        try:
            generator = json.loads(generator)
        except json.JSONDecodeError:
            return {}
    return generator if isinstance(generator, dict) else {}


def training_observing(model):
    """
    How a model's synthetic training images were observed.

    Parameters
    ----------
    model : `~picasso.nn.Model`

    Returns
    -------
    config : `~picasso.mock.observe.ObservingConfig` or None
        Rebuilt from the generator record of the training pairs (with the
        model's ``image_size`` and ``bands``); `None` when the model was not
        trained on ``picasso.mock`` pairs or does not say.
    """
    observing = generator_record(model).get("observing")
    if not observing:
        return None
    return ObservingConfig.from_dict(observing).replace(image_size=model.image_size,
                                                        bands=tuple(model.bands))
