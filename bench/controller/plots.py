"""PNG plots of grid power, limit and output over a hard stretch of a scenario (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.controller.sim import Result


def plot_window(results: Sequence[Result], from_s: int, seconds: int, path: Path, title: str) -> None:
    """One panel per controller: load, PV, limit, output and grid for ``seconds`` from ``from_s`` (time of day)."""
    import matplotlib  # noqa: PLC0415  (plots only)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    traced = [r for r in results if r.trace is not None]
    fig, axes = plt.subplots(len(traced), 1, figsize=(10, 2.1 * len(traced)), sharex=True, squeeze=False)
    for ax, result in zip(axes[:, 0], traced, strict=True):
        trace = result.trace
        assert trace is not None
        first = max(0, from_s - trace.start_s)
        last = min(len(trace.grid_w), first + seconds)
        minutes = [(trace.start_s + i) / 60 for i in range(first, last)]
        ax.plot(minutes, trace.load_w[first:last], color="0.7", lw=0.6, label="load")
        ax.plot(minutes, trace.pv_cap_w[first:last], color="gold", lw=0.8, ls="--", label="PV available")
        ax.plot(minutes, trace.limit_w[first:last], color="tab:orange", lw=1.6, label="limit in force")
        ax.plot(minutes, trace.output_w[first:last], color="tab:green", lw=0.7, label="output")
        ax.plot(minutes, trace.grid_w[first:last], color="tab:blue", lw=0.8, label="grid (+import)")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_ylim(-900, 2200)
        ax.set_ylabel("W")
        m = result.metrics
        ax.set_title(
            f"{result.controller}: export {m.export_wh:.1f} Wh, curtailed {m.curtailed_usable_wh:.1f} Wh (whole run)",
            fontsize=9,
            loc="left",
        )
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=5)
    axes[-1, 0].set_xlabel("minute of the day")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=60)
    plt.close(fig)
