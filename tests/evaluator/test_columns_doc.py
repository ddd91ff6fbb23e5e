from pathlib import Path

from evaluator.columns import COLUMN_HELP, columns_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "columns.md"


def test_the_columns_page_documents_every_csv_column_in_order():
    table = DOC.read_text().split("| column | meaning |")[1].split("\n\n")[0]  # the evaluator's table
    rows = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert rows == list(COLUMN_HELP)


def test_the_columns_page_shows_the_run_records_table_as_produced_from_its_fields():
    assert columns_table() in DOC.read_text()
