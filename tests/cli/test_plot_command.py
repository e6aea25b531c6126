"""``gankit plot`` on real run folders: a picture that decodes, a panel per metric, one colour per run."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from gankit.cli import plot
from tests.cli.run_folders import make_runs
from tests.conftest import one_error_line

pytest.importorskip("matplotlib")

#: matplotlib's first two colours ("C0", "C1"), which the first and second run are drawn in.
BLUE, ORANGE = (31, 119, 180), (255, 127, 14)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("plotted"))


def _picture(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _has(picture: np.ndarray, color: tuple[int, int, int]) -> bool:
    return bool((np.abs(picture.astype(int) - color).sum(-1) <= 30).any())


def test_two_runs_overlaid_in_their_own_colours(gankit, runs, tmp_path):
    result = gankit("plot", str(runs / "a"), str(runs / "b"), "-o", "both.png")
    assert result.exit_code == 0, result.output
    # bce's and wgan's losses, then run a's evaluation: the numbers with a better direction only.
    panels = ["d_loss", "g_loss", "eval/modes/high_quality_pct", "eval/modes/mode_kl", "eval/modes/modes"]
    assert f"(5 panels: {', '.join(panels)})" in result.output
    both = _picture(tmp_path / "both.png")
    # Three panels a row, two rows, a line of legend above.
    assert both.shape[1] == round(3 * plot.PANEL_SIZE[0] * plot.DPI)
    assert 2 * plot.PANEL_SIZE[1] * plot.DPI < both.shape[0] < (2 * plot.PANEL_SIZE[1] + 1) * plot.DPI
    assert _has(both, BLUE) and _has(both, ORANGE)

    assert gankit("plot", str(runs / "a"), "-o", "one.png").exit_code == 0
    one = _picture(tmp_path / "one.png")
    assert _has(one, BLUE) and not _has(one, ORANGE)


def test_the_legend_names_the_runs(runs):
    loaded = [plot.load_series(runs / name) for name in ("a", "b", "half")]
    names = plot.labels((str(runs / "a"), str(runs / "b"), str(runs / "half")))
    figure, keys = plot.build_figure(loaded, ["d_loss"], names)
    assert keys == ["d_loss"]
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["a", "b", "half"]
    [axes] = figure.axes
    lines = [line for line in axes.get_lines() if len(line.get_xdata()) > 1]
    assert [list(line.get_xdata()) for line in lines] == [[2, 4]] * 3  # logged at steps 2 and 4
    # Two folders of one name are told apart by their paths.
    assert plot.labels(("x/run", "y/run", "z")) == ["x/run", "y/run", "z"]


def test_chosen_metrics_and_gankit_evals_result(gankit, runs, tmp_path):
    result = gankit("plot", str(runs / "a"), "--metric", "eval/modes/modes", "--metric", "lr/generator", "-o", "m.png")
    assert result.exit_code == 0, result.output
    assert "(2 panels: eval/modes/modes, lr/generator)" in result.output
    assert _picture(tmp_path / "m.png").shape[1] == round(2 * plot.PANEL_SIZE[0] * plot.DPI)
    loaded = plot.load_series(runs / "a")
    assert loaded["evaluated"]["eval/modes/modes"][0] == 4  # gankit eval's number, at its step
    assert loaded["higher_is_better"]["eval/modes/mode_kl"] is False


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("nowhere", "-o", "x.png"), "RUN 'nowhere': no such folder"),
        (("RUN", "-o", "x.jpg"), "-o 'x.jpg': give a file ending in .png, .svg, .pdf"),
        (("RUN", "--metric", "d_los", "-o", "x.png"), "unknown metric (--metric) 'd_los' (did you mean 'd_loss'?)"),
        (("EMPTY", "-o", "x.png"), "has no metrics to plot"),
        (("FIFO", "-o", "x.png"), "metrics.jsonl is a FIFO; only a regular file is read"),
        (("RUN", "-o", "missing/dir/x.png"), "cannot write 'missing/dir/x.png'"),
    ],
)
def test_bad_input_is_one_line(gankit, runs, tmp_path, args, expected):
    (tmp_path / "empty").mkdir()
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "metrics.jsonl")
    places = {"RUN": str(runs / "a"), "EMPTY": str(tmp_path / "empty"), "FIFO": str(tmp_path / "fifo")}
    line = one_error_line(gankit("plot", *(places.get(a, a) for a in args)))
    assert expected in line
    assert not (tmp_path / "x.png").exists()


def test_a_run_naming_hundreds_of_metrics_gets_a_bounded_picture(gankit, runs, tmp_path):
    import json
    import shutil

    shutil.copytree(runs / "b", tmp_path / "many")
    with open(tmp_path / "many" / "metrics.jsonl", "a") as metrics:
        metrics.write(json.dumps({"step": 4, **{f"eval/junk/k{i:03d}": float(i) for i in range(300)}}) + "\n")
    result = gankit("plot", str(tmp_path / "many"), "-o", "many.png")
    assert result.exit_code == 0, result.output
    assert f"({plot.MAX_PANELS} panels: d_loss, g_loss, eval/junk/k000," in result.output
    assert (
        _picture(tmp_path / "many.png").shape[0] < (plot.MAX_PANELS // plot.COLUMNS + 1) * plot.PANEL_SIZE[1] * plot.DPI
    )
    chosen = [a for i in range(plot.MAX_PANELS + 1) for a in ("--metric", f"eval/junk/k{i:03d}")]
    assert "one picture holds at most 24 panels" in one_error_line(
        gankit("plot", str(tmp_path / "many"), *chosen, "-o", "x.png")
    )
