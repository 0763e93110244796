"""Charts of a benchmark run's own results, for docs/benchmarks.md (matplotlib: the ``bench`` extra).

``triggerer_scale.py --charts DIR`` and ``download.py --charts DIR`` call these after their tables,
from the same figures; ``python benchmarks/charts.py --triggerer-json FILE --out DIR`` draws the
triggerer chart again from a run's ``--json`` file, without running anything.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# The variants in the order the tables give them, each with one colour in every chart.
COLOURS = {"aep": "#fa0f00", "aiohttp": "#4d4d4d", "httpx": "#9e9e9e", "http": "#2a6fdb", "curl": "#4d4d4d"}


def _pyplot() -> Any:
    """matplotlib without a display; imported only when a chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cpu_per_poll(cells: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Median CPU microseconds per poll, by variant, for each (poll interval, N) of the run."""
    plt = _pyplot()
    groups = sorted({(float(cell["interval"]), int(cell["waits"])) for cell in cells})
    variants = [variant for variant in COLOURS if any(cell["variant"] == variant for cell in cells)]
    width = 0.8 / max(len(variants), 1)
    figure, axes = plt.subplots(figsize=(8, 4.2))
    for index, variant in enumerate(variants):
        heights = []
        for interval, waits in groups:
            runs = [
                cell["cpu_seconds"] / cell["polls"] * 1e6
                for cell in cells
                if (cell["variant"], float(cell["interval"]), int(cell["waits"])) == (variant, interval, waits)
                and cell["polls"]
            ]
            heights.append(statistics.median(runs) if runs else math.nan)  # a cell not run draws no bar
        positions = [group + (index - (len(variants) - 1) / 2) * width for group in range(len(groups))]
        bars = axes.bar(positions, heights, width, label=variant, color=COLOURS[variant])
        axes.bar_label(bars, labels=["" if math.isnan(h) else f"{h:.0f}" for h in heights], fontsize=7, padding=2)
    axes.set_xticks(range(len(groups)), [f"N = {waits:,}\nevery {interval:g} s" for interval, waits in groups])
    axes.set_ylabel("worker CPU per poll (µs, median)")
    axes.set_title("What one poll costs a triggerer, by variant (lower is better)")
    axes.set_ylim(top=axes.get_ylim()[1] * 1.15)  # room for the legend above the tallest bar
    axes.legend(frameon=False, ncols=len(variants))
    axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, path)


def download_throughput(
    single: Mapping[str, Sequence[float]], batch: Mapping[int, float], titles: tuple[str, str], path: Path
) -> Path:
    """One large file, curl against the operator (median and spread), and a batch by concurrency.

    ``titles``: what the file and the batch were, e.g. ``("one 1,024 MiB file", "50 files of 8 MiB")``.
    """
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [2, 3]})
    names = list(single)
    medians = [statistics.median(single[name]) for name in names]
    errors = [
        [median - min(single[name]) for name, median in zip(names, medians, strict=True)],
        [max(single[name]) - median for name, median in zip(names, medians, strict=True)],
    ]
    bars = left.bar(names, medians, yerr=errors, capsize=4, color=[COLOURS.get(name, COLOURS["aep"]) for name in names])
    left.bar_label(bars, fmt="%.0f", padding=2, fontsize=8)
    left.set_ylabel("MiB/s (median, min-max)")
    left.set_title(titles[0])
    levels = sorted(batch)
    bars = right.bar([str(level) for level in levels], [batch[level] for level in levels], color=COLOURS["aep"])
    right.bar_label(bars, fmt="%.0f", padding=2, fontsize=8)
    right.set_xlabel("max_concurrency")
    right.set_title(f"{titles[1]}, by the operator")
    for axes in (left, right):
        axes.spines[["top", "right"]].set_visible(False)
    figure.suptitle("Landing an export: download throughput (higher is better)")
    return _save(figure, path)


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    # No timestamp in the file, so that a chart changes only when its figures do.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    _pyplot().close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggerer-json", type=Path, required=True, help="a triggerer_scale.py --json file")
    parser.add_argument("--out", type=Path, required=True, help="the folder the chart goes to")
    args = parser.parse_args()
    print(cpu_per_poll(json.loads(args.triggerer_json.read_text()), args.out / "bench-triggerer-cpu-per-poll.png"))


if __name__ == "__main__":
    main()
