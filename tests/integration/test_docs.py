"""The docs site builds with ``mkdocs build --strict`` and its API reference has every public name."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["interp.models", "interp.data", "interp.activations", "interp.locate", "interp.evaluate",
            "interp.edits", "interp.mechanisms", "interp.steering", "interp.compare", "interp.intervals", "interp.executors"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                          "-d", str(out)], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    assert "WARNING" not in run.stderr, run.stderr
    return out


def _api_html(site: Path) -> str:
    return "".join(p.read_text() for p in (site / "api").rglob("*.html"))


def _documented(html: str, module: str, name: str) -> bool:
    """`name` of `module` has an entry (a function that shares its module's name, like
    ``interp.evaluate.generate``, is documented as ``interp.evaluate.generate.generate``)."""
    return f'id="{module}.{name}"' in html or f'id="{module}.{name}.{name}"' in html


def test_every_top_level_name_is_in_the_api_reference(site: Path) -> None:
    import interp
    import probes

    html = _api_html(site)
    exports = {**interp._EXPORTS, **probes._EXPORTS}
    missing = [f"{module}.{name}" for name, module in exports.items() if not _documented(html, module, name)]
    assert not missing, f"not documented: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_function_and_class_of_a_package_is_in_the_api_reference(site: Path, package: str) -> None:
    html = _api_html(site)
    module = importlib.import_module(package)
    names = [n for n in module.__all__ if inspect.isfunction(getattr(module, n)) or inspect.isclass(getattr(module, n))]
    missing = [n for n in names if not _documented(html, package, n)]
    assert not missing, f"{package}: not documented: {missing}"


def test_pages_render_the_measured_tables(site: Path) -> None:
    concepts = (site / "concepts" / "index.html").read_text()
    assert "-2.72 %" in concepts and "<table>" in concepts
