"""examples/notebook.ipynb runs headless (nbclient) over the session's published demo lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartflow.config import Project
from cartflow.lake.storage import open_lake
from cartflow.serving.sql import query

pytestmark = pytest.mark.slow  # the docs' notebook over the published demo lake

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebook.ipynb"


@pytest.mark.timeout(300)
def test_notebook_runs_headless_over_the_published_marts(published_demo: Project,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTFLOW_PROJECT", str(published_demo.root))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = ["".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in cell.get("outputs", []))
               for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "every question has an answer"
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    # the monthly revenue answer shows the mart's numbers
    _, rows = query(open_lake(published_demo), "SELECT MAX(gross_sales) FROM mart_revenue_monthly")
    biggest = str(rows[0][0])  # a DECIMAL shows as itself: 63183.610
    assert any(biggest in text for text in outputs), f"{biggest} not in the notebook's answers"
