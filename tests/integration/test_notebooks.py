"""The notebooks: five, committed without outputs, each running top to bottom on the organism.

Each is executed in a fresh Jupyter kernel (``nbclient``) with its committed parameters
(``SMOLLM2 = False``: the real-chat-model cells are skipped), in a temporary working folder; any
cell error fails the test and names the cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_locate_and_probe", "02_compare_mechanisms", "03_sae_refusal_steering",
            "04_vaccine_harmful_finetuning", "05_your_own_model"]


def test_the_five_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_smollm2_off(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    stale = [i for i, c in enumerate(code) if c.outputs or c.execution_count is not None]
    assert not stale, f"{path.name}: code cells {stale} carry outputs; strip them before committing"
    assert "SMOLLM2 = False" in code[0].source, f"{path.name}: the first code cell must set SMOLLM2 = False"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    shown = sum(1 for c in book.cells if c.cell_type == "code" for o in c.outputs
                if "application/vnd.plotly.v1+json" in o.get("data", {}) or "text/html" in o.get("data", {}))
    assert shown >= 1, f"{path.name}: no figure or table was displayed"
