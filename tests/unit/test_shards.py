"""Activations on disk: shards round-trip exactly (per text and per token), memory holds one
shard, the caller's folders are never overwritten, and SAE training and probes read the shards
back one at a time with the results of the in-memory path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import probes
from interp.activations import ActivationShards, TokenRows, collect_activations, collect_from_texts
from interp.models import chat_sequence, tokenize
from interp.steering import train_topk_sae

HOOK = "blocks.1.hook_resid_post"
TEXTS = [f"the quick brown fox {i} jumps over {'the lazy dog ' * (i % 4)}" for i in range(23)]


def test_per_text_rows_round_trip_in_input_order(tiny_model, tmp_path):
    hooks = [HOOK, "blocks.0.hook_mlp_out"]
    memory = collect_from_texts(tiny_model, TEXTS, hook_names=hooks, batch_size=4, progress=False)
    shards = collect_from_texts(tiny_model, TEXTS, hook_names=hooks, batch_size=4, progress=False,
                                out=tmp_path / "acts")
    assert isinstance(shards, ActivationShards) and shards.hooks == hooks
    reread = ActivationShards(tmp_path / "acts")
    for hook in hooks:
        assert reread.n_rows(hook) == len(TEXTS) and reread.shape(hook) == (tiny_model.cfg.d_model,)
        torch.testing.assert_close(reread.load(hook), memory[hook], rtol=0, atol=0)
    assert "blocks.1.hook_resid_post: 23 x (32,)" in repr(reread)


def test_token_rows_stream_into_shards_of_the_asked_size(tiny_model, tmp_path):
    toks = tokenize(tiny_model, TEXTS)
    reducer = TokenRows()
    memory = collect_activations(tiny_model, toks, reducer={HOOK: reducer}, keep_first_position=False,
                                 batch_size=4, progress=False)[HOOK]
    shards = collect_activations(tiny_model, toks, hook_names=[HOOK], reducer="tokens", keep_first_position=False,
                                 batch_size=4, progress=False, out=tmp_path / "tok", shard_rows=50)
    sizes = [len(s) for s in shards.iter_shards(HOOK)]
    assert sum(sizes) == len(memory) and all(n == 50 for n in sizes[:-1]) and 0 < sizes[-1] <= 50
    parts = list(shards.iter_shards(HOOK, with_index=True))
    torch.testing.assert_close(torch.cat([p["activations"] for p in parts]), memory, rtol=0, atol=0)
    assert torch.equal(torch.cat([p["text_index"] for p in parts]), reducer.text_index)
    assert torch.equal(torch.cat([p["position"] for p in parts]), reducer.position)
    shuffled = list(shards.iter_shards(HOOK, shuffle=True, seed=1))
    assert sorted(len(s) for s in shuffled) == sorted(sizes)


def test_the_callers_folder_is_never_overwritten(tiny_model, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        collect_from_texts(tiny_model, TEXTS, hook_names=[HOOK], progress=False, out=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="RunningSum"):
        collect_from_texts(tiny_model, TEXTS, hook_names=[HOOK], reducer="sum", progress=False, out=tmp_path / "s")
    with pytest.raises(ValueError, match="shard_rows"):
        collect_activations(tiny_model, tokenize(tiny_model, TEXTS), hook_names=[HOOK], progress=False,
                            out=tmp_path / "z", shard_rows=0)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        ActivationShards(tmp_path / "mine")


def test_a_failed_collection_leaves_no_partial_shards(tiny_model, tmp_path):
    toks = tokenize(tiny_model, TEXTS)
    with pytest.raises(ValueError, match="has no selected positions"):  # one-token texts select nothing
        collect_activations(tiny_model, toks.tokens[:, -1:], hook_names=[HOOK], keep_first_position=False,
                            progress=False, out=tmp_path / "bad")
    assert list((tmp_path / "bad").iterdir()) == []


def test_sae_trains_from_shards_like_from_memory(tiny_model, tmp_path):
    texts = [chat_sequence(tiny_model, f"question {i} about bread", f"answer {i}: mix flour and water") for i in
             range(60)]
    toks = tokenize(tiny_model, texts)
    collect_activations(tiny_model, toks, hook_names=[HOOK], reducer="tokens", keep_first_position=False,
                        progress=False, out=tmp_path / "acts", shard_rows=256)
    shards = ActivationShards(tmp_path / "acts")
    assert shards.n_shards(HOOK) > 2
    opts = dict(k=4, d_sae=64, epochs=6, batch_size=64, lr=3e-3, seed=0, progress=False)
    from_disk = train_topk_sae(tiny_model, HOOK, shards, **opts)
    in_memory = train_topk_sae(tiny_model, HOOK, toks, **opts)
    a, b = from_disk.cfg.metadata, in_memory.cfg.metadata
    assert abs(a.n_train_tokens - b.n_train_tokens) <= shards.n_shards(HOOK)  # held out per shard, rounded
    assert a.explained_variance > 0.5 and abs(a.explained_variance - b.explained_variance) < 0.1
    per_text = collect_from_texts(tiny_model, texts, hook_names=[HOOK], progress=False, out=tmp_path / "m")
    with pytest.raises(ValueError, match="one row per token"):
        train_topk_sae(tiny_model, HOOK, per_text, **opts)
    with pytest.raises(KeyError, match="not in"):
        train_topk_sae(tiny_model, "blocks.0.hook_resid_post", shards, **opts)


def test_probe_from_shards_matches_the_in_memory_probe(tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    texts = [("you are awful and I hate you " if i % 2 else "thank you, have a lovely day ") + str(rng.integers(99))
             for i in range(80)]
    labels = [i % 2 for i in range(80)]
    shards = collect_from_texts(tiny_model, texts, hook_names=[HOOK], progress=False, out=tmp_path / "p")
    streamed = probes.train_probe_from_shards(shards, HOOK, labels, test_size=0.25, seed=0)
    X, train = shards.load(HOOK).numpy(), _train_mask(labels)
    reference = probes.LinearProbe().fit(X[train], np.asarray(labels)[train])
    cosine = float(streamed.direction @ reference.direction)
    assert cosine > 0.999, cosine
    assert abs(streamed.intercept_ - reference.intercept_) < 1e-2 * (1 + abs(reference.intercept_))
    assert streamed.n_train_ == 60 and streamed.n_test_ == 20 and 0.0 <= streamed.accuracy_ <= 1.0
    with pytest.raises(ValueError, match="one label per text"):
        probes.train_probe_from_shards(shards, HOOK, labels[:-1])


def _train_mask(labels):
    from sklearn.model_selection import train_test_split

    _, test = train_test_split(np.arange(len(labels)), test_size=0.25, stratify=labels, random_state=0)
    mask = np.ones(len(labels), dtype=bool)
    mask[test] = False
    return mask
