"""Refusal features: SAE features ranked by a refusal contrast, with their top-activating contexts.

Two contrasts (see :func:`refusal_features`): at the decision point (the last prompt token,
harmful vs benign prompts) and on the answers (a record's refusal vs its compliant answer,
teacher-forced after the same prompt). Every selected token's activation at the SAE's hook is
encoded and averaged per text, then over texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

__all__ = ["FeatureRanking", "encode_rows", "feature_activations", "per_text_mean", "refusal_features", "sae_for_hook",
           "token_rows"]


def sae_for_hook(model: HookedTransformer, sae: Any, hook: str | None = None) -> str:
    """The hook `sae` reads on `model`, checked: it exists and its width is the SAE's ``d_in``."""
    from interp.hooks import check_hook_names
    from interp.steering.sae import sae_hook

    hook = sae_hook(sae) if hook is None else hook
    check_hook_names(model, [hook])
    widths = {"hook_resid_pre": model.cfg.d_model, "hook_resid_mid": model.cfg.d_model,
              "hook_resid_post": model.cfg.d_model, "hook_attn_out": model.cfg.d_model,
              "hook_mlp_out": model.cfg.d_model, "mlp.hook_post": model.cfg.d_mlp, "mlp.hook_pre": model.cfg.d_mlp}
    width = next((w for end, w in widths.items() if hook.endswith(end)), None)
    if width is not None and width != sae.cfg.d_in:
        raise ValueError(f"the SAE reads vectors of width {sae.cfg.d_in} but hook {hook!r} of model "
                         f"{model.cfg.model_name!r} has width {width}")
    return hook


def token_rows(
    model: HookedTransformer,
    tokens: Any,
    mask: torch.Tensor,
    *,
    hook: str,
    batch_size: int = 16,
    progress: bool = False,
) -> tuple[Float[Tensor, "n_tokens d"], Int[Tensor, " n_tokens"], Int[Tensor, " n_tokens"]]:
    """`hook`'s activation at each selected token: (rows float32 on CPU, text_index, position).

    Parameters
    ----------
    tokens : Tokenized or ChatTokens
    mask : BoolTensor of shape (n_texts, pos)
        The tokens to keep (padding is never selected).
    """
    from interp.activations import TokenRows, collect_activations

    reducer = TokenRows()
    rows = collect_activations(model, getattr(tokens, "tokenized", tokens), reducer={hook: reducer},
                               position_mask=mask, batch_size=batch_size, progress=progress)[hook]
    return rows, reducer.text_index, reducer.position


@torch.no_grad()
def encode_rows(sae: Any, rows: Float[Tensor, "n d"], *, chunk: int = 4096) -> Float[Tensor, "n d_sae"]:
    """``sae.encode`` of activation rows, in chunks, float32 on CPU."""
    device, dtype = sae.W_dec.device, sae.W_dec.dtype
    return torch.cat([sae.encode(rows[i: i + chunk].to(device=device, dtype=dtype)).float().cpu()
                      for i in range(0, len(rows), chunk)])


def feature_activations(
    model: HookedTransformer,
    sae: Any,
    tokens: Any,
    mask: torch.Tensor,
    *,
    hook: str | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> tuple[Float[Tensor, "n_tokens d_sae"], Int[Tensor, " n_tokens"], Int[Tensor, " n_tokens"]]:
    """SAE feature activations of the selected tokens: (acts, text_index, position).

    :func:`token_rows` at the SAE's hook, then :func:`encode_rows`. `tokens` and `mask` have shape
    (n_texts, pos) (``mask`` True on the tokens to read); ``acts`` has shape (n_tokens, d_sae),
    ``text_index`` and ``position`` shape (n_tokens,).
    """
    rows, text_index, position = token_rows(model, tokens, mask, hook=sae_for_hook(model, sae, hook),
                                            batch_size=batch_size, progress=progress)
    return encode_rows(sae, rows), text_index, position


def per_text_mean(feats: Tensor, text_index: Tensor, n_texts: int) -> Float[Tensor, "n_texts d_sae"]:
    """Mean of the rows of `feats` per text (``text_index`` of each row); 0 for a text without rows."""
    sums = torch.zeros(n_texts, feats.shape[1]).index_add_(0, text_index, feats)
    counts = torch.bincount(text_index, minlength=n_texts).clamp(min=1).unsqueeze(1)
    return sums / counts


@dataclass
class FeatureRanking:
    """SAE features, best refusal feature first.

    ``ranking[i]`` is the feature id at rank i; ``table`` (pandas) has one row per feature:
    ``feature``, ``score`` (the `rank_by` contrast), ``response_score`` (refusal minus compliant
    mean activation per response token), ``refusal_mean``, ``compliant_mean``,
    ``refusal_fires`` / ``compliant_fires`` (% of response tokens where it fires),
    ``max_activation`` (over every token seen: clamp values are on this scale), and with benign
    prompts ``harmful_prompt_mean``, ``benign_prompt_mean``, ``prompt_score`` (at the last
    prompt token), and with attacks ``refused_prompt_mean``, ``complied_prompt_mean``,
    ``behaviour_score``. ``contexts[feature]``: its top-activating tokens in context (the token in
    ``[[ ]]``) with their activation.
    """

    table: Any
    contexts: dict[int, list[tuple[float, str]]]
    hook: str
    n_records: int
    n_benign: int = 0
    rank_by: str = "response"

    def __getitem__(self, rank: int) -> int:
        return int(self.table["feature"].iloc[rank])

    def __len__(self) -> int:
        return len(self.table)

    def top(self, n: int = 10) -> list[int]:
        """The `n` best refusal features' ids."""
        return [int(f) for f in self.table["feature"].iloc[:n]]

    def figure(self, n: int = 20) -> Any:
        """plotly bar chart: the top `n` features' mean activation on refusals vs compliance."""
        import plotly.graph_objects as go

        top = self.table.iloc[:n]
        names = [f"#{int(f)}" for f in top["feature"]]
        if self.rank_by == "prompt":
            bars = [("on harmful prompts", "harmful_prompt_mean"), ("on benign prompts", "benign_prompt_mean")]
            unit = "mean activation at the last prompt token"
        elif self.rank_by == "behaviour":
            bars = [("attacks it refuses", "refused_prompt_mean"), ("attacks it complies with", "complied_prompt_mean")]
            unit = "mean activation at the last prompt token"
        else:
            bars = [("on refusals", "refusal_mean"), ("on compliant answers", "compliant_mean")]
            unit = "mean activation per response token"
        fig = go.Figure([go.Bar(name=label, x=names, y=top[col]) for label, col in bars])
        fig.update_layout(barmode="group", title=f"Top refusal features at {self.hook} ({self.n_records} records, "
                          f"ranked by the {self.rank_by} contrast)", xaxis_title="SAE feature", yaxis_title=unit)
        return fig


def _record_triple(r: Any, i: int) -> tuple[str, str, str]:
    if isinstance(r, tuple | list) and len(r) == 3:
        return tuple(str(x) for x in r)  # type: ignore[return-value]
    try:
        return r.adversarial_prompt, r.safe_generation, r.unsafe_generation
    except AttributeError as e:
        raise TypeError(f"record #{i} must have adversarial_prompt, safe_generation and unsafe_generation "
                        f"(a SafeEdit record) or be a (prompt, refusal, compliance) triple; got {type(r).__name__}") from e


def _context(tokenizer: Any, ids: Tensor, pos: int, width: int = 12) -> str:
    before = tokenizer.decode(ids[max(0, pos - width): pos])
    after = tokenizer.decode(ids[pos + 1: pos + 1 + width // 3])
    return f"{before}[[{tokenizer.decode(ids[pos: pos + 1])}]]{after}"


def refusal_features(
    model: HookedTransformer,
    sae: Any,
    records: Sequence[Any],
    *,
    benign: Sequence[Any] | None = None,
    attacks: Sequence[Any] | None = None,
    rank_by: str | None = None,
    judge: Any = None,
    hook: str | None = None,
    n_contexts: int = 5,
    context_features: int = 20,
    max_length: int | None = 256,
    batch_size: int = 16,
    progress: bool = True,
) -> FeatureRanking:
    """Rank `sae`'s features as refusal features, at the decision point or on the answers.

    Two contrasts are measured; `rank_by` picks the one that orders the table (``score``):

    * ``"prompt"`` (``prompt_score``): mean activation at the last prompt token (where the answer
      starts) over harmful prompts (the records' prompts, and their plain ``question`` where
      they have one) minus over the `benign` prompts;
    * ``"response"`` (``response_score``): mean activation over the tokens of the record's
      refusal minus over its compliant answer, both teacher-forced after the same prompt;
    * ``"behaviour"`` (``behaviour_score``): at the last prompt token of the `attacks` prompts,
      mean activation where the model itself refuses minus where it complies (its greedy answers,
      24 new tokens, labelled by `judge`).

    On the organism, features ranked by the response contrast mostly encode the refusal's
    wording (they fire on "Let me know if you ...") and clamping them does not raise refusal;
    the behaviour contrast finds the feature that does (docs/STEERING.md has the numbers).

    Parameters
    ----------
    model : HookedTransformer
    sae : sae_lens SAE
        Trained on `model` at `hook` (default ``sae.cfg.metadata.hook_name``).
    records : sequence
        SafeEdit records (``adversarial_prompt``, ``safe_generation`` = the refusal,
        ``unsafe_generation`` = the compliance, optional ``question``) or (prompt, refusal,
        compliance) triples.
    benign : sequence of str (or objects with ``.text``), optional
        Safe prompts; needed for ``rank_by="prompt"``.
    attacks : sequence of str (or objects with ``.text``), optional
        Harmful prompts the model sometimes refuses (e.g. jailbreaks); needed for
        ``rank_by="behaviour"``; both outcomes must occur.
    rank_by : {"prompt", "response", "behaviour"}, optional
        Default ``"behaviour"`` when `attacks` are given, else ``"prompt"`` when `benign` is
        given, else ``"response"``.
    judge : Judge, optional
        Labels the answers to `attacks`; default :func:`interp.default_judge` for `model`.
    n_contexts, context_features : int
        Top-activating contexts kept for each of the first `context_features` features.
    max_length, batch_size, progress
        Tokenisation length (left-truncated) and activation collection.

    Returns
    -------
    FeatureRanking
    """
    import pandas as pd

    from interp.activations import tokenize_chat

    triples = [_record_triple(r, i) for i, r in enumerate(records)]
    if not triples:
        raise ValueError("refusal_features needs at least one record")
    rank_by = rank_by or ("behaviour" if attacks is not None else "prompt" if benign is not None else "response")
    if rank_by not in ("prompt", "response", "behaviour"):
        raise ValueError(f"rank_by must be 'prompt', 'response' or 'behaviour', got {rank_by!r}")
    if rank_by == "prompt" and benign is None:
        raise ValueError("rank_by='prompt' needs benign prompts (benign=...)")
    if rank_by == "behaviour" and attacks is None:
        raise ValueError("rank_by='behaviour' needs attack prompts (attacks=...)")
    hook = sae_for_hook(model, sae, hook)
    max_length = model.cfg.n_ctx if max_length is None else min(max_length, model.cfg.n_ctx)
    n = len(triples)
    prompts = [p for p, _, _ in triples]
    chats = tokenize_chat(model, prompts * 2, [r for _, r, _ in triples] + [c for _, _, c in triples],
                          max_length=max_length)
    feats, text_index, position = feature_activations(model, sae, chats, chats.response_mask, hook=hook,
                                                      batch_size=batch_size, progress=progress)
    means = per_text_mean(feats, text_index, 2 * n)
    fires = per_text_mean((feats > 0).float(), text_index, 2 * n)
    refusal, compliant = means[:n], means[n:]
    table = pd.DataFrame({
        "feature": range(sae.cfg.d_sae),
        "response_score": (refusal - compliant).mean(0).numpy(),
        "refusal_mean": refusal.mean(0).numpy(),
        "compliant_mean": compliant.mean(0).numpy(),
        "refusal_fires": 100 * fires[:n].mean(0).numpy(),
        "compliant_fires": 100 * fires[n:].mean(0).numpy(),
        "max_activation": feats.max(0).values.numpy(),
    })
    sources = [(feats, text_index, position, chats.tokens)]
    n_benign = 0
    if benign is not None:
        harmful = list(dict.fromkeys(prompts + [q for r in records if isinstance(q := getattr(r, "question", None), str)]))
        benign_texts = [getattr(b, "text", b) for b in benign]
        n_benign = len(benign_texts)
        pf, pi, pp, ptoks = _last_prompt_token_features(model, sae, harmful + benign_texts, hook=hook,
                                                        max_length=max_length, batch_size=batch_size)
        pm = per_text_mean(pf, pi, len(harmful) + n_benign)
        table["harmful_prompt_mean"] = pm[:len(harmful)].mean(0).numpy()
        table["benign_prompt_mean"] = pm[len(harmful):].mean(0).numpy()
        table["prompt_score"] = table["harmful_prompt_mean"] - table["benign_prompt_mean"]
        table["max_activation"] = torch.maximum(feats.max(0).values, pf.max(0).values).numpy()
        sources.append((pf, pi, pp, ptoks))
    if attacks is not None:
        bf, bi, bp, btoks, refused = _behaviour_split(model, sae, attacks, hook=hook, judge=judge,
                                                      max_length=max_length, batch_size=batch_size)
        bm = per_text_mean(bf, bi, len(refused))
        table["refused_prompt_mean"] = bm[refused].mean(0).numpy()
        table["complied_prompt_mean"] = bm[~refused].mean(0).numpy()
        table["behaviour_score"] = table["refused_prompt_mean"] - table["complied_prompt_mean"]
        table["max_activation"] = torch.maximum(torch.tensor(table["max_activation"].values), bf.max(0).values).numpy()
        sources.append((bf, bi, bp, btoks))
    table.insert(1, "score", table[f"{rank_by}_score"])
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    contexts = {int(f): _top_contexts(model.tokenizer, sources, int(f), n_contexts)
                for f in table["feature"].iloc[:context_features]}
    return FeatureRanking(table=table, contexts=contexts, hook=hook, n_records=n, n_benign=n_benign,
                          rank_by=rank_by)


def _behaviour_split(model: HookedTransformer, sae: Any, attacks: Sequence[Any], *, hook: str, judge: Any,
                     max_length: int, batch_size: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Last-prompt-token features of `attacks` and whether the model refuses each (greedy, 24 tokens)."""
    from interp.evaluate import generate, resolve_judge

    texts = [getattr(a, "text", a) for a in attacks]
    judge = resolve_judge(judge, model, refusal=True)
    refused = torch.as_tensor(judge(generate(model, texts, max_new_tokens=24, batch_size=max(batch_size, 32),
                                             progress=False)).refused, dtype=torch.bool)
    if bool(refused.all()) or not bool(refused.any()):
        raise ValueError(f"the model {'refuses' if bool(refused.all()) else 'complies with'} all {len(texts)} attack "
                         "prompts: the behaviour contrast needs both outcomes; give other attacks")
    return (*_last_prompt_token_features(model, sae, texts, hook=hook, max_length=max_length,
                                         batch_size=batch_size), refused)


def _last_prompt_token_features(model: HookedTransformer, sae: Any, prompts: Sequence[str], *, hook: str,
                                max_length: int, batch_size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Features at the last token of each chat-wrapped prompt: (feats, text_index, position, tokens)."""
    from interp.models import chat_prompt, tokenize

    toks = tokenize(model, [chat_prompt(model, p) for p in prompts], max_length=max_length)
    last = torch.zeros_like(toks.attention_mask, dtype=torch.bool)
    last[:, -1] = True  # left padding: the last column is every prompt's last token
    feats, index, position = feature_activations(model, sae, toks, last, hook=hook, batch_size=batch_size)
    return feats, index, position, toks.tokens


def _top_contexts(tokenizer: Any, sources: list[tuple[Tensor, Tensor, Tensor, Tensor]], feature: int,
                  n: int) -> list[tuple[float, str]]:
    """The `n` tokens where `feature` fires most, over every source, as (activation, context)."""
    found = []
    for feats, text_index, position, tokens in sources:
        col = feats[:, feature]
        for j in torch.argsort(col, descending=True, stable=True)[:n]:
            if col[j] > 0:
                found.append((float(col[j]), _context(tokenizer, tokens[int(text_index[j])], int(position[j]))))
    return sorted(found, key=lambda x: -x[0])[:n]
