"""The synthetic galaxy universe: particles, stellar populations, observing, datasets."""
