import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from django.http import StreamingHttpResponse

from evaluator.columns import COLUMNS
from leaderboard.downloads import HEADER

from tests.factories import make_entry, make_method, make_run, make_submission

pytestmark = pytest.mark.django_db
LEADING = ["method", "method_slug", "is_baseline", "tier", "submission_id", "run_pk", "version", "counted",
           "frontier_distance_params", "frontier_distance_macs"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "columns.md"


def read(response) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(b"".join(response.streaming_content).decode()))


def test_csv_columns_are_the_run_identity_then_the_evaluator_columns(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], {2: [0.9]})
    frame = read(client.get("/b/digits-mlp.csv"))
    assert HEADER == LEADING + COLUMNS
    assert list(frame.columns) == LEADING + COLUMNS


def test_csv_values_round_trip_through_pandas(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.9123456789012345], 4: [0.8]})
    run = method.submissions.get().runs.get(compression=2)
    frame = read(client.get("/b/digits-mlp.csv")).set_index("run_pk")
    row = frame.loc[run.pk]
    assert (row.method, row.method_slug, row.is_baseline) == ("Alpha", "alpha", False)
    assert row.submission_id == run.submission_id
    for column in COLUMNS:
        expected = run.record[column]
        if column in ("cuda_version", "shared_with"):  # '' is read back as a missing value
            assert pd.isna(row[column])
        elif isinstance(expected, float):
            assert row[column] == expected  # exact: floats are written with repr
        else:
            assert row[column] == expected, column


def test_benchmark_csv_has_finished_runs_of_listed_methods_only(client, benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    submission = make_submission(make_method("Alpha"))
    make_run(submission, bench, 2, 0)
    make_run(submission, bench, 2, 1, status="running")
    make_entry("Secret", bench, {2: [0.9]}, owner=alice, is_public=False)
    make_entry("random", bench, {2: [0.5]}, is_baseline=True)
    make_entry("SynFlow", bench, {2: [0.7]}, is_reference=True, is_public=False)
    frame = read(client.get("/b/digits-mlp.csv"))
    assert sorted(frame.method_slug) == ["alpha", "random", "synflow"]
    assert frame.set_index("method_slug").is_baseline.to_dict() == {"alpha": False, "random": True, "synflow": False}
    assert frame.set_index("method_slug").tier.to_dict() == {"alpha": "entry", "random": "baseline",
                                                             "synflow": "reference"}


def test_the_csv_is_streamed(client, benchmarks):
    response = client.get("/b/digits-mlp.csv")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="digits-mlp.csv"' in response["Content-Disposition"]


def test_submission_and_run_csvs_hold_their_runs(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.9, 0.8]})
    submission = method.submissions.get()
    run = submission.runs.first()
    assert len(read(client.get(f"/s/{submission.pk}.csv"))) == 2
    assert list(read(client.get(f"/r/{run.pk}.csv")).run_pk) == [run.pk]


def test_a_private_submission_csv_is_404_for_bob(client, benchmarks, alice, bob, moderator):
    method = make_entry("Secret", benchmarks["digits-mlp"], {2: [0.9]}, owner=alice, is_public=False)
    submission = method.submissions.get()
    run = submission.runs.get()
    client.force_login(bob)
    assert client.get(f"/s/{submission.pk}.csv").status_code == 404
    assert client.get(f"/r/{run.pk}.csv").status_code == 404
    for user in (alice, moderator):
        client.force_login(user)
        assert len(read(client.get(f"/s/{submission.pk}.csv"))) == 1
        assert client.get(f"/r/{run.pk}.csv").status_code == 200


# Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that begins with = + - @,
# a tab or a carriage return as a formula; every text cell that does is served with a ' first.

def raw_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_method_named_like_a_formula_is_not_a_formula_in_any_csv(client, benchmarks):
    name = '=HYPERLINK("http://x","y")'
    method = make_entry(name, benchmarks["digits-mlp"], {2: [0.9]})
    submission = method.submissions.get()
    run = submission.runs.get()
    for url in ("/b/digits-mlp.csv", f"/s/{submission.pk}.csv", f"/r/{run.pk}.csv"):
        header, row = raw_rows(client.get(url))
        assert row[0] == "'" + name, url
        assert row[header.index("method_slug")] == "'" + method.slug
        assert row[header.index("strategy")] == "'" + method.slug


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_dangerous_first_character_of_a_text_cell_is_neutralised(client, benchmarks, start):
    make_entry(start + "1+1", benchmarks["digits-mlp"], {2: [0.9]})
    _, row = raw_rows(client.get("/b/digits-mlp.csv"))
    assert row[0] == "'" + start + "1+1"


def test_numbers_stay_numbers_even_when_negative(client, benchmarks):
    submission = make_submission(make_method("Alpha"))
    make_run(submission, benchmarks["digits-mlp"], 2, 0, compression_error=-0.01)
    header, row = raw_rows(client.get("/b/digits-mlp.csv"))
    assert row[header.index("compression_error")] == "-0.01"
    assert read(client.get("/b/digits-mlp.csv")).compression_error.tolist() == [-0.01]
    assert row[0] == "Alpha" and row[header.index("layer_sparsity")].startswith("{")


def test_a_carriage_return_inside_a_name_cannot_start_a_row_of_its_own(client, benchmarks):
    make_entry("Alpha\r=1+1", benchmarks["digits-mlp"], {2: [0.9]})
    assert len(read(client.get("/b/digits-mlp.csv"))) == 1
    assert raw_rows(client.get("/b/digits-mlp.csv"))[1][0] == "Alpha\r=1+1"


def test_the_documented_download_columns_are_the_downloads(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], {2: [0.9]})
    documented = re.findall(r"^\| `(\w+)` \|", DOCS.read_text().split("| download column |")[1].split("\n\n")[0], re.M)
    assert documented == LEADING
    assert list(read(client.get("/b/digits-mlp.csv")).columns) == documented + COLUMNS


def test_the_csvs_say_which_version_each_row_is_and_whether_the_board_counts_it(client, benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    method = make_method("Mine", owner=alice)
    v1, v2, v3 = (make_submission(method) for _ in range(3))
    for submission in (v1, v2):
        make_run(submission, bench, 2, 0)
    make_run(v3, bench, 2, 0)
    make_run(v3, bench, 4, 0, status="queued")  # v3 is not done: the board keeps v2
    secret = make_entry("Secret", bench, {2: [0.9]}, owner=alice, is_public=False)
    client.force_login(alice)
    frame = read(client.get("/b/digits-mlp.csv"))
    assert sorted(zip(frame.version, frame.counted)) == [(1, False), (2, True), (3, False)]
    assert set(frame.method_slug) == {"mine"}
    assert read(client.get(f"/s/{v2.pk}.csv")).counted.tolist() == [True]
    assert read(client.get(f"/s/{v1.pk}.csv")).counted.tolist() == [False]
    run = v2.runs.get()
    assert read(client.get(f"/r/{run.pk}.csv")).loc[0, ["version", "counted"]].tolist() == [2, True]
    private = read(client.get(f"/s/{secret.submissions.get().pk}.csv"))  # its owner sees it; no board counts it
    assert private.counted.tolist() == [False]
