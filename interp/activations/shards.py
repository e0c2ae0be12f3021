"""Activations on disk: safetensors shards written as they stream, read back one shard at a time.

``collect_activations(..., out="dir")`` hands each batch's rows (one per text for ``"mean"`` /
``"last"``, one per token for ``"tokens"``) to a :class:`ShardWriter` per hook, which writes a
shard every ``shard_rows`` rows; memory stays one shard per hook however large the set.
:class:`ActivationShards` reads the folder back: shard by shard (:meth:`~ActivationShards.iter_shards`,
what SAE training and streamed probes use) or all at once (:meth:`~ActivationShards.load`,
rows in input order).

Layout::

    dir/manifest.json                       hooks, reducers, rows and shards per hook, model
    dir/<hook>/shard-00000.safetensors      "activations" (rows, ...) float32,
                                            "text_index" (rows,) int64 (the row's text in the input),
                                            "position" (rows,) int64 (token column; "tokens" only)

The manifest is written last: a folder without one is an interrupted collection.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from interp.activations.reducers import LastToken, Reducer, TokenRows

__all__ = ["ActivationShards", "ShardWriter", "finish_shards", "open_shard_writers", "reducer_name", "removed_on_error"]

_FORMAT = "detox-interp/activation-shards"
_VERSION = 1


def _folder_name(hook: str) -> str:
    return hook.replace("/", "_")


class ShardWriter:
    """Buffers one hook's rows and writes a safetensors shard every `shard_rows` rows.

    Parameters
    ----------
    folder : Path
        The collection's folder (the hook gets a sub-folder).
    hook : str
    shard_rows : int
        Rows per shard (the last shard may hold fewer).
    """

    def __init__(self, folder: Path, hook: str, shard_rows: int) -> None:
        self.hook, self.shard_rows = hook, shard_rows
        self.folder = folder / _folder_name(hook)
        self.folder.mkdir(parents=True, exist_ok=False)
        self._buffer: list[dict[str, Tensor]] = []
        self._buffered = 0
        self.shards: list[dict[str, Any]] = []
        self.shape: list[int] | None = None

    def __call__(self, rows: Tensor, text_index: Tensor, position: Tensor | None = None) -> None:
        """Add ``rows`` (n, ...) with their texts' indices (n,) and token columns (n,) or None."""
        part = {"activations": rows.detach().to(device="cpu", dtype=torch.float32),
                "text_index": text_index.detach().cpu().long()}
        if position is not None:
            part["position"] = position.detach().cpu().long()
        self.shape = list(part["activations"].shape[1:])
        self._buffer.append(part)
        self._buffered += len(rows)
        while self._buffered >= self.shard_rows:
            self._write(self.shard_rows)

    def _write(self, n: int) -> None:
        from safetensors.torch import save_file

        merged = {k: torch.cat([p[k] for p in self._buffer]) for k in self._buffer[0]}
        name = f"shard-{len(self.shards):05d}.safetensors"
        save_file({k: v[:n].contiguous() for k, v in merged.items()}, str(self.folder / name))
        self.shards.append({"file": name, "rows": n})
        rest = {k: v[n:] for k, v in merged.items()}
        self._buffer = [rest] if len(rest["activations"]) else []
        self._buffered = len(rest["activations"])

    def close(self) -> dict[str, Any]:
        """Write what is left; the hook's manifest entry."""
        if self._buffered:
            self._write(self._buffered)
        return {"folder": self.folder.name, "shape": self.shape, "rows": sum(s["rows"] for s in self.shards),
                "shards": self.shards}


def reducer_name(reducer: Reducer) -> str:
    """The manifest's name of a row-streaming reducer: ``"tokens"``, ``"last"`` or ``"mean"``."""
    if isinstance(reducer, TokenRows):
        return "tokens"
    return "last" if isinstance(reducer, LastToken) else "mean"


def open_shard_writers(out: str | Path | None, reducers: Mapping[str, Reducer], shard_rows: int) -> dict[str, ShardWriter]:
    """One :class:`ShardWriter` per hook of `reducers`, set as that reducer's sink (none without `out`);
    checks `out` is a new or empty folder and that every reducer streams rows."""
    if out is None:
        return {}
    if isinstance(shard_rows, bool) or not isinstance(shard_rows, int) or shard_rows < 1:
        raise ValueError(f"shard_rows must be a positive int, got {shard_rows!r}")
    for name, r in reducers.items():
        if not r.streams_rows:
            raise ValueError(f"out= writes rows to disk, but the reducer of hook {name!r} ({type(r).__name__}) "
                             "keeps no row per text or token: sums and means over texts are flat in memory "
                             "already (collect them without out=), and 'all' holds padded texts (use 'tokens')")
    folder = Path(out)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"out={str(folder)!r} exists and is not an empty folder; activations are written only "
                              "to a new or empty folder, so nothing there is overwritten")
    folder.mkdir(parents=True, exist_ok=True)
    writers = {name: ShardWriter(folder, name, shard_rows) for name in reducers}
    for name, r in reducers.items():
        r.sink = writers[name]
    return writers


@contextlib.contextmanager
def removed_on_error(out: str | Path | None):
    """Delete what a collection wrote to `out` (a folder it created or found empty) when it fails."""
    try:
        yield
    except BaseException:
        if out is not None:
            import shutil

            for child in Path(out).iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def finish_shards(out: str | Path, writers: Mapping[str, ShardWriter], reducers: Mapping[str, Reducer],
                  **info: Any) -> ActivationShards:
    """Flush every writer and write ``manifest.json`` last (a complete folder is one with a manifest)."""
    entries = {name: w.close() for name, w in writers.items()}
    manifest = {"format": _FORMAT, "version": _VERSION, **info,
                "reducers": {name: reducer_name(r) for name, r in reducers.items()}, "hooks": entries}
    (Path(out) / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return ActivationShards(out)


class ActivationShards:
    """A folder of activation shards written by ``collect_activations(..., out=folder)``.

    Parameters
    ----------
    folder : str or Path

    Attributes
    ----------
    hooks : list of str
    manifest : dict
        ``reducers`` (hook -> name), ``n_texts``, ``model_name``, and per hook its ``rows``,
        per-row ``shape`` and ``shards``.

    Examples
    --------
    >>> shards = ActivationShards("acts")                           # doctest: +SKIP
    >>> for block in shards.iter_shards("blocks.3.hook_resid_post"):  # doctest: +SKIP
    ...     block.shape                                             # (rows, d_model), one shard
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.folder} has no manifest.json: not an activation-shard folder, or its "
                                    "collection was interrupted (the manifest is written last)")
        self.manifest = json.loads(path.read_text(encoding="utf-8"))
        if self.manifest.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a detox-interp activation manifest (format={self.manifest.get('format')!r})")
        self.hooks = list(self.manifest["hooks"])

    def _entry(self, hook: str) -> dict[str, Any]:
        if hook not in self.manifest["hooks"]:
            raise KeyError(f"hook {hook!r} is not in {self.folder}; it holds {self.hooks}")
        return self.manifest["hooks"][hook]

    def n_rows(self, hook: str) -> int:
        """Rows stored for `hook` (texts for per-text reducers, tokens for ``"tokens"``)."""
        return int(self._entry(hook)["rows"])

    def shape(self, hook: str) -> tuple[int, ...]:
        """Shape of one row of `hook` (e.g. ``(d_model,)``)."""
        return tuple(self._entry(hook)["shape"])

    def reducer(self, hook: str) -> str:
        self._entry(hook)
        return str(self.manifest["reducers"][hook])

    def n_shards(self, hook: str) -> int:
        return len(self._entry(hook)["shards"])

    def shard(self, hook: str, i: int, *, with_index: bool = False) -> Any:
        """Shard `i` of `hook`: its activations (rows, ...), or the dict of all its tensors."""
        from safetensors.torch import load_file

        entry = self._entry(hook)
        if not 0 <= i < len(entry["shards"]):
            raise IndexError(f"shard {i} of hook {hook!r}: it has {len(entry['shards'])} shards")
        tensors = load_file(str(self.folder / entry["folder"] / entry["shards"][i]["file"]))
        return tensors if with_index else tensors["activations"]

    def iter_shards(self, hook: str, *, with_index: bool = False, shuffle: bool = False,
                    seed: int = 0) -> Iterator[Any]:
        """Each shard of `hook` in turn: its activations (rows, ...) float32, or with
        ``with_index=True`` a dict with ``activations``, ``text_index`` (and ``position``).
        ``shuffle`` visits the shards in a random order (from `seed`); rows keep theirs.
        Only one shard is in memory at a time."""
        order = list(range(self.n_shards(hook)))
        if shuffle:
            order = torch.randperm(len(order), generator=torch.Generator().manual_seed(seed)).tolist()
        for i in order:
            yield self.shard(hook, i, with_index=with_index)

    def load(self, hook: str) -> Float[Tensor, "n_rows ..."]:
        """All rows of `hook` in memory: per-text reducers in input order (as
        :func:`~interp.activations.collect_activations` returns them), tokens in the order they ran."""
        parts = list(self.iter_shards(hook, with_index=True))
        acts = torch.cat([p["activations"] for p in parts])
        if self.reducer(hook) == "tokens":
            return acts
        out = torch.empty_like(acts)
        out[torch.cat([p["text_index"] for p in parts])] = acts
        return out

    def __repr__(self) -> str:
        hooks = ", ".join(f"{h}: {self.n_rows(h)} x {self.shape(h)}" for h in self.hooks)
        return f"ActivationShards({str(self.folder)!r}; {hooks})"
