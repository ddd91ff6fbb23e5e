from pathlib import Path

from evaluator.columns import COLUMN_HELP

DOC = Path(__file__).resolve().parents[2] / "docs" / "columns.md"


def test_the_columns_page_documents_every_csv_column_in_order():
    table = DOC.read_text().split("| column | meaning |")[1].split("\n\n")[0]  # the evaluator's table
    rows = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert rows == list(COLUMN_HELP)
