"""The upload benchmark runs end to end (small: 16 MiB) and reports flat memory for the product's daphne."""
from applications.builds import bench


def test_the_upload_benchmark_measures_a_real_daphne():
    lines = []
    rows = bench.run(out=lines.append, mib=16)
    assert [row["label"] for row in rows] == ["daphne + paas.http_server"], lines
    row = rows[0]
    assert row["peak"] >= row["baseline"] > 20 and row["growth"] < 12, row
    assert row["throughput"] > 0 and any("difference" in line for line in lines)
