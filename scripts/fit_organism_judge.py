"""Fit the organism's judge on the corpus's train split and write the shipped JSON file.

    python scripts/fit_organism_judge.py        # -> interp/data/files/organism_judge.json

Run once when the organism corpus changes; the package only loads the file (never refits).
Prints the judge's error on the corpus's test split and on the organism's own hand-labelled answers.
"""

from __future__ import annotations

import argparse

from interp.evaluate.judges import fit_organism_judge, judge_report, load_labelled_responses, organism_corpus_responses
from interp.evaluate.judges.organism import organism_judge_path, organism_labelled_set_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(organism_judge_path()))
    args = parser.parse_args()
    judge = fit_organism_judge(seed=args.seed)
    path = judge.save(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    print(judge_report(judge, organism_corpus_responses("test"), labelled_set="organism corpus test split"))
    print(judge_report(judge, load_labelled_responses(organism_labelled_set_path()),
                       labelled_set="the organism's own answers, labelled by hand"))


if __name__ == "__main__":
    main()
