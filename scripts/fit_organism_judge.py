"""Fit the organism's judge on the corpus's train split and write the shipped JSON file.

    python scripts/fit_organism_judge.py        # -> interp/data/files/organism_judge.json

Run once when the organism corpus changes; the package only loads the file (never refits).
Prints the judge's error on the corpus's test split.
"""

from __future__ import annotations

import argparse

from interp.evaluate.judges import fit_organism_judge, judge_report, organism_labelled_responses
from interp.evaluate.judges.organism import organism_judge_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(organism_judge_path()))
    args = parser.parse_args()
    judge = fit_organism_judge(seed=args.seed)
    path = judge.save(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    print(judge_report(judge, organism_labelled_responses("test"), labelled_set="organism corpus test split"))


if __name__ == "__main__":
    main()
