"""An SAE's training rows: one tensor in memory, or activation shards read back one at a time.

:class:`TrainingRows` splits every part (the one in-memory tensor, or each shard of an
:class:`~interp.activations.ActivationShards` folder) into held-out and training rows with a
generator seeded per part, keeps the held-out rows, and serves endless shuffled batches of the
training rows: a new permutation of the parts and of each part's rows per epoch. With shards,
memory holds one shard, the held-out rows and one batch, whatever the folder's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["TrainingRows"]

#: Seed offset between parts, so that part 0 of any source splits exactly like one tensor.
_PART_SEED_STEP = 1_000_003


class TrainingRows:
    """The rows an SAE trains on, split into held-out and training rows.

    Parameters
    ----------
    parts : list of callables returning Tensor (rows, d_in)
        Each loads one part (a shard) when called.
    sizes : list of int
        Rows of each part.
    held_out : float
        Share of each part's rows kept out of training (a random subset).
    seed : int
    """

    def __init__(self, parts: list[Callable[[], Tensor]], sizes: list[int], *, held_out: float, seed: int) -> None:
        if not 0 < held_out < 1:
            raise ValueError(f"held_out must be in (0, 1), got {held_out!r}")
        self.parts, self.sizes, self.held_out, self.seed = parts, sizes, held_out, seed
        self.n_test = [max(1, int(round(held_out * n))) for n in sizes]
        self.n_train = sum(n - t for n, t in zip(sizes, self.n_test))

    @classmethod
    def from_tensor(cls, acts: Float[Tensor, "n d_in"], *, held_out: float, seed: int) -> TrainingRows:
        return cls([lambda: acts], [len(acts)], held_out=held_out, seed=seed)

    @classmethod
    def from_shards(cls, shards: Any, hook: str, *, held_out: float, seed: int) -> TrainingRows:
        """The token rows of `hook` in an :class:`~interp.activations.ActivationShards` folder."""
        if hook not in shards.hooks:
            raise KeyError(f"hook {hook!r} is not in {shards.folder}; it holds {shards.hooks}")
        if shards.reducer(hook) != "tokens":
            raise ValueError(f"an SAE trains on one row per token; {shards.folder} holds {shards.reducer(hook)!r} "
                             f"rows for {hook!r} (collect with reducer='tokens')")
        n = shards.n_shards(hook)
        sizes = [int(s["rows"]) for s in shards.manifest["hooks"][hook]["shards"]]
        return cls([lambda i=i: shards.shard(hook, i) for i in range(n)], sizes, held_out=held_out, seed=seed)

    def _split(self, i: int, rows: int) -> tuple[Tensor, Tensor]:
        order = torch.randperm(rows, generator=torch.Generator().manual_seed(self.seed + _PART_SEED_STEP * i))
        return order[: self.n_test[i]], order[self.n_test[i]:]

    def held_out_rows(self) -> Float[Tensor, "n_test d_in"]:
        """Every part's held-out rows (read once, kept by the caller for :func:`sae_stats`)."""
        return torch.cat([part()[self._split(i, n)[0]] for i, (part, n) in enumerate(zip(self.parts, self.sizes))])

    def batches(self, batch_size: int) -> Iterator[Float[Tensor, "batch d_in"]]:
        """Endless shuffled batches of training rows (rows left over at a part's end join the
        next part's; a new permutation of parts and rows each epoch, from `seed`)."""
        gen = torch.Generator().manual_seed(self.seed)
        while True:
            order = range(len(self.parts)) if len(self.parts) == 1 else torch.randperm(len(self.parts), generator=gen).tolist()
            carry: Tensor | None = None
            for i in order:
                rows = self.parts[i]()
                train = rows[self._split(i, self.sizes[i])[1]]
                perm = torch.randperm(len(train), generator=gen)
                train = train[perm] if carry is None else torch.cat([carry, train[perm]])
                full = len(train) // batch_size * batch_size
                for start in range(0, full, batch_size):
                    yield train[start: start + batch_size]
                carry = train[full:]
                del rows, train
