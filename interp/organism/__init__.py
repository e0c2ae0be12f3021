"""The model organism: its training script (`train`) and its behaviour card (`card`)."""

from interp.organism.train import WEIGHTS_DIR, OrganismConfig, train_organism

__all__ = ["WEIGHTS_DIR", "OrganismConfig", "train_organism"]
