"""Plotly figures as plain dicts (plotly.graph_objects validates every property and is far too
slow for a page with hundreds of traces). The page embeds them with `json_script` and draws
them with the local plotly.js (`Plotly.newPlot(el, fig.data, fig.layout)`)."""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict

import pandas as pd

# Colour-blind-safe hues (Okabe & Ito 2008, "Color Universal Design", and Paul Tol's schemes:
# distinguishable under protanopia, deuteranopia and tritanopia). A method's colour and marker
# are a function of the method alone (method_style_index), never of which other methods a figure
# draws: the same on the board, on its method page and in compare mode. Entries: saturated hues
# by method id, and past the last hue the cycle repeats with another marker (9 x 6 looks); the
# built-ins: their place in the evaluator's registry.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255",
           "#44AA99", "#332288"]  # blue, vermillion, green, pink, orange, sky, wine, teal, indigo
ENTRY_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "star"]
# Baselines: one muted family (greys and greyed hues) with thin lines, each separable by its
# hue, its dash and its open marker.
BASELINE_COLOURS = ["#5f5f5f", "#7d8b99", "#9c8772", "#6f8f7a", "#8f7f9c", "#a3a3a3", "#4f6272"]
BASELINE_DASHES = ["dash", "dot", "dashdot", "longdash", "longdashdot", "5px,3px,1px,3px",
                   "2px,2px"]
BASELINE_SYMBOLS = ["circle-open", "square-open", "diamond-open", "triangle-up-open",
                    "x-thin-open", "cross-thin-open", "star-open"]
# Reference methods: their own style between the two, solid lines in Paul Tol's dark hues with
# filled, white-edged markers of their own shapes.
REFERENCE_COLOURS = ["#222255", "#225555", "#225522", "#666633", "#663333"]
REFERENCE_SYMBOLS = ["diamond", "square", "triangle-up", "pentagon", "hexagon"]

# Hover text: the other axis's value rides in customdata[2] (compression on the speedup chart,
# speedup on the compression chart). Shared by every trace through the layout's template, so
# it is not repeated in each trace (the JSON stays small).
# customdata[3]: the effective values (weights on an input-to-output path) and the disconnected
# count, as text.
_HOVER = ("<b>%{fullData.name}</b><br>{axes}<br>top-1 %{y:.1f} ± %{customdata[0]:.1f} %"
          "<br>%{customdata[1]}%{customdata[3]}<extra></extra>")
DISCONNECTED_SYMBOL = "x"  # a point where some seed's network has no input-to-output path
HOVER_COMPRESSION = _HOVER.replace("{axes}", "compression %{x:.3g}× · speedup %{customdata[2]:.3g}×")
HOVER_SPEEDUP = _HOVER.replace("{axes}", "speedup %{x:.3g}× · compression %{customdata[2]:.3g}×")
HOVER_MEASURED = _HOVER.replace("{axes}", "measured speedup %{x:.3g}× (batch 64) · theoretical "
                                          "%{customdata[2]:.3g}×")


def _escape(text: str) -> str:
    """Plotly renders a small HTML subset in names; show user text literally."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def method_style_index(method_id: int, slug: str, tier: str) -> int:
    """The index of a method's look in its tier's palette: a built-in's place in the evaluator's
    registry (its slug is "<tier>-<name>"), an entry's method id."""
    from evaluator.pruning import BASELINES, REFERENCES

    names = [f"{tier}-{name}" for name in (BASELINES if tier == "baseline" else
                                           REFERENCES if tier == "reference" else ())]
    return names.index(slug) if slug in names else int(method_id)


def _style(index: int, tier: str) -> dict:
    """Line and marker of the `index`-th method of its tier in a figure."""
    if tier == "reference":
        colour = REFERENCE_COLOURS[index % len(REFERENCE_COLOURS)]
        return {"line": {"color": colour, "width": 2},
                "marker": {"color": colour, "size": 8, "line": {"color": "#ffffff", "width": 1},
                           "symbol": REFERENCE_SYMBOLS[index % len(REFERENCE_SYMBOLS)]},
                "error_color": colour}
    if tier == "baseline":
        colour = BASELINE_COLOURS[index % len(BASELINE_COLOURS)]
        return {"line": {"color": colour, "dash": BASELINE_DASHES[index % len(BASELINE_DASHES)],
                         "width": 1.5},
                "marker": {"color": colour, "size": 7,
                           "symbol": BASELINE_SYMBOLS[index % len(BASELINE_SYMBOLS)]},
                "error_color": colour}
    colour = PALETTE[index % len(PALETTE)]
    symbol = ENTRY_SYMBOLS[(index // len(PALETTE)) % len(ENTRY_SYMBOLS)]
    return {"line": {"color": colour, "width": 2.5}, "marker": {"color": colour, "size": 7, "symbol": symbol},
            "error_color": colour}


def measured(value: float) -> str:
    """A measured ratio to three significant digits, zeros kept ('32.0', '3.98', '350'); from
    1000 on, whole with thousands separators ('1,234')."""
    value = float(value)
    if abs(float(f"{value:.3g}")) >= 1000:
        return f"{value:,.0f}"
    return f"{value:#.3g}".rstrip(".")


def seeds_label(n: int) -> str:
    """How many seeds a mean is over, as the site writes it: '1 seed', 'n = 3'."""
    return "1 seed" if int(n) == 1 else f"n = {int(n)}"


def _log2_axis(title: str, values: list[float]) -> dict:
    """A log axis with ticks at 1, 2, 4, ... labelled '1×', '2×', ..."""
    top = max([v for v in values if v and v > 0] or [64.0])
    top_power = max(6, math.ceil(math.log2(top)))
    ticks = [2 ** k for k in range(0, top_power + 1)]
    return {"type": "log", "title": {"text": title}, "tickvals": ticks,
            "ticktext": [f"{t}×" for t in ticks],
            "range": [math.log10(0.8), math.log10(2 ** top_power * 1.25)],
            "gridcolor": "#e6e6e6", "zeroline": False}


def _measured_axis(values: list[float]) -> dict:
    """A log axis for measured speedups, which sit near 1× and may fall below it: ticks at the
    powers of 2 (and their halves below 1) that span the values, with 1× always in view."""
    values = [v for v in values if v and v > 0] or [1.0]
    low = min(math.floor(math.log2(min(values))), -1)
    high = max(math.ceil(math.log2(max(values))), 2)
    ticks = [2.0 ** k for k in range(low, high + 1)]
    return {"type": "log", "title": {"text": "measured speedup, batch 64 (dense ms / pruned ms)"},
            "tickvals": ticks, "ticktext": [f"{t:g}×" for t in ticks],
            "range": [math.log10(ticks[0] / 1.15), math.log10(ticks[-1] * 1.15)],
            "gridcolor": "#e6e6e6", "zeroline": False}


def _layout(xaxis: dict, reference_top1: float | None, hover: str) -> dict:
    trace_defaults = {"type": "scatter", "mode": "lines+markers", "hovertemplate": hover,
                      "error_y": {"type": "data", "visible": True, "thickness": 1, "width": 3}}
    layout = {
        "template": {"data": {"scatter": [trace_defaults]}},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": "top-1 after finetuning (%)"}, "gridcolor": "#e6e6e6",
                  "zeroline": False},
        "hovermode": "closest", "height": 460,
        "showlegend": True,  # plotly hides the legend of a single trace: a lone entry must be named
        "margin": {"l": 60, "r": 10, "t": 30, "b": 50},
        "legend": {"font": {"size": 11}, "itemclick": "toggle", "itemdoubleclick": "toggleothers",
                   "x": 1.01, "y": 1, "yanchor": "top"},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
    }
    if reference_top1 is not None:
        y = reference_top1 * 100
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
                             "line": {"color": "#b0b0b0", "width": 1, "dash": "dot"}}]
        layout["annotations"] = [{"xref": "paper", "x": 1, "y": y, "xanchor": "right",
                                  "yanchor": "bottom", "showarrow": False,
                                  "text": f"dense {y:.1f} %", "font": {"size": 10, "color": "#777"}}]
    return layout


def _number(value) -> float | None:
    return None if value is None or value != value else float(value)


def _effective_note(compression, speedup, disconnected: int, n: int) -> str:
    """The hover's effective line: effective compression and speedup, and how many seeds'
    networks are disconnected (no input-to-output path)."""
    compression, speedup = _number(compression), _number(speedup)
    parts = []
    if compression is not None:
        parts.append(f"effective compression {measured(compression)}×")
    if speedup is not None:
        parts.append(f"effective speedup {measured(speedup)}×")
    note = "<br>" + " · ".join(parts) if parts else ""
    if disconnected:
        note += f"<br>disconnected in {disconnected} of {n} seeds"
    return note


def _columns(curves: pd.DataFrame, names: list[str]) -> list[tuple]:
    """Rows of the given columns as plain Python tuples (much faster than itertuples)."""
    return list(zip(*(curves[n].tolist() for n in names)))


# The dense frontier (evaluator/frontier.py): smaller dense networks of the benchmark's kind, drawn
# black and dotted with filled star markers, apart from every method's look.
FRONTIER_NAME = "dense, smaller width"
FRONTIER_STYLE = {"line": {"color": "#000000", "dash": "dot", "width": 1.5},
                  "marker": {"color": "#000000", "size": 10, "symbol": "star"}}


def frontier_traces(frontier) -> tuple[dict, dict]:
    """The frontier as one trace per chart: each network at its compression-equivalent (the dense
    network's parameters over its own) and speedup-equivalent (MACs over its MACs), so that it
    sits on the same axes as the pruned networks' curves; hover names the network and its
    parameters and MACs. Networks with no known top-1 are left out."""
    points = sorted((p for p in frontier.points if p.top1 is not None), key=lambda p: -p.params)
    common = {"name": FRONTIER_NAME, "meta": "dense-frontier", "legendrank": 1000, "error_y": {"visible": False},
              "y": [round(p.top1 * 100, 3) for p in points], **FRONTIER_STYLE,
              "customdata": [[_escape(p.label), f"{p.params:,}", f"{p.macs:,}",
                              " (published)" if p.top1_source == "published" else ""] for p in points],
              "hovertemplate": ("<b>dense %{customdata[0]}</b><br>%{customdata[1]} parameters · "
                                "%{customdata[2]} MACs<br>top-1 %{y:.1f} %%{customdata[3]}<extra></extra>")}
    return ({**common, "x": [round(frontier.params / p.params, 4) for p in points]},
            {**common, "x": [round(frontier.macs / p.macs, 4) for p in points]})


def frontier_measured_trace(frontier, timing) -> dict | None:
    """The frontier on the measured-speedup chart: each network timed on the board's machine
    (`timing`, selectors.FrontierTiming) at its dense / own milliseconds at batch 64, the board's
    own network at 1x; None where none was timed there."""
    if timing is None or not timing.speedups:
        return None
    on_compression, _ = frontier_traces(frontier)
    points = sorted((p for p in frontier.points if p.top1 is not None), key=lambda p: -p.params)
    xs = [1.0 if p.weights_of and p.width is not None else timing.speedups.get(p.name) for p in points]
    kept = [i for i, x in enumerate(xs) if x is not None]
    if len(kept) < 2:  # the board's own network alone is no frontier
        return None
    return {**on_compression, "x": [round(xs[i], 4) for i in kept], "y": [on_compression["y"][i] for i in kept],
            "customdata": [on_compression["customdata"][i] for i in kept],
            "hovertemplate": on_compression["hovertemplate"].replace(
                "<extra>", f"<br>measured speedup %{{x:.3g}}× on {_escape(timing.machine)}<extra>")}


# This process's charts of the boards' screens, by everything they are drawn from (a few kept,
# the least recent dropped): a request whose board has no new finished run draws nothing again.
_FIGURES: OrderedDict[tuple, dict] = OrderedDict()
_FIGURES_KEPT = 32


def board_figures(*, benchmark, ranking_key: str, charted: set[int], counted: dict, shown: set[int],
                  reference_top1, waiting, measured: bool, frontier, frontier_timing) -> dict:
    """`accuracy_figures` of the board's charted methods' curves (selectors.benchmark_curves), kept
    per process under the ranking's key (rankings.board_ranking: it changes with every finished
    run, counted version and method) and the rest of what the charts draw, so they are never
    stale and are drawn once per change."""
    from . import selectors

    key = (benchmark.pk, ranking_key, tuple(sorted(charted)), tuple(sorted(shown)), reference_top1,
           tuple(m.pk for m in waiting), measured, repr(frontier), repr(frontier_timing))
    if key in _FIGURES:
        _FIGURES.move_to_end(key)
        return _FIGURES[key]
    curves = selectors.benchmark_curves(benchmark=benchmark, methods=charted,
                                        submissions=[counted[m] for m in charted if m in counted])
    figures = accuracy_figures(curves, shown=shown, reference_top1=reference_top1, waiting=waiting,
                               measured=measured, frontier=frontier, frontier_timing=frontier_timing)
    _FIGURES[key] = figures
    while len(_FIGURES) > _FIGURES_KEPT:
        _FIGURES.popitem(last=False)
    return figures


def accuracy_figures(curves: pd.DataFrame, *, shown: set[int] | None = None,
                     reference_top1: float | None = None, waiting=(), measured: bool = False,
                     frontier=None, frontier_timing=None) -> dict:
    """Three figures from `benchmark_curves`: top-1 against compression, against speedup
    (theoretical; `measured`: the curves' speedup is the measured one, a structured board's) and
    against measured speedup (batch 64; only the points whose runs were timed), one
    trace per method (its mean top-1 over seeds, ± the std as error bars; hover
    shows value, std and n). Baselines are muted and dashed, reference methods dark and solid,
    entries in colour-blind-safe hues. `shown`: method ids drawn at first;
    the others start as 'legendonly' (a click on the legend shows them). None: all drawn.
    `reference_top1` (in [0, 1]) draws the dense model's accuracy as a dotted line.
    Each trace's `meta` is the method's slug. `waiting`: built-in methods (Method rows) with no
    result yet, each an empty trace named "... no results yet", so the legend lists every one.
    `frontier` (evaluator.frontier.Frontier): the dense frontier on the compression chart and, unless
    `measured`, the speedup chart (frontier_traces); with `frontier_timing` (selectors.FrontierTiming:
    the frontier timed on the machine of the board's runs) on the measured-speedup chart too (and
    on a `measured` board's speedup chart), or `frontier_note` says it was not timed there."""
    points: dict[int, list] = defaultdict(list)
    meta: dict[int, tuple] = {}
    for column, default in (("is_reference", False), ("effective_compression_mean", None),
                            ("effective_speedup_mean", None), ("disconnected", 0),
                            ("measured_speedup_mean", None)):
        if column not in curves:
            curves = curves.assign(**{column: default})
    for (method_id, name, slug, is_baseline, is_reference, compression, mean, std, n, speedup,
         eff_c, eff_s, disconnected, measured_speedup) in _columns(
            curves, ["method_id", "method", "slug", "is_baseline", "is_reference", "compression", "top1_mean",
                     "top1_std", "n", "speedup_mean", "effective_compression_mean",
                     "effective_speedup_mean", "disconnected", "measured_speedup_mean"]):
        tier = "baseline" if is_baseline else "reference" if is_reference else "entry"
        meta.setdefault(method_id, (name, slug, tier))
        speedup = None if speedup is None or math.isnan(speedup) else round(speedup, 3)
        measured_speedup = _number(measured_speedup)
        points[method_id].append((float(compression), round(mean * 100, 3),
                                  round(std * 100, 3), int(n), speedup,
                                  _effective_note(eff_c, eff_s, int(disconnected or 0), int(n)),
                                  None if measured_speedup is None else round(measured_speedup, 3)))
    # Each method's look: a function of the method alone (the same on every chart).
    order = {method_id: method_style_index(method_id, slug, tier) for method_id, (_, slug, tier) in meta.items()}
    by_compression, by_speedup, by_measured = [], [], []
    xs_c, xs_s, xs_m = [], [], []
    # Baselines first, then reference methods, so the entries are drawn on top of them.
    for method_id in sorted(meta, key=lambda m: ("baseline", "reference", "entry").index(meta[m][2])):
        name, slug, tier = meta[method_id]
        rows = sorted(points[method_id])
        compression = [r[0] for r in rows]
        speedup = [r[4] for r in rows]
        style = _style(order[method_id], tier)
        if any("disconnected" in r[5] for r in rows):
            symbol = style["marker"].get("symbol", "circle")
            style["marker"] = {**style["marker"], "symbol": [
                DISCONNECTED_SYMBOL if "disconnected" in r[5] else symbol for r in rows]}
        common = {
            "name": _escape(name) + ("" if tier == "entry" else f" ({tier})"), "meta": slug,
            "y": [r[1] for r in rows], "line": style["line"], "marker": style["marker"],
            "error_y": {"array": [r[2] for r in rows], "color": style["error_color"]},
        }
        if tier != "entry":
            common["legendrank"] = 2000 if tier == "baseline" else 1500  # after the entries
        if shown is not None and method_id not in shown:
            common["visible"] = "legendonly"
        by_compression.append({**common, "x": compression,
                               "customdata": [[r[2], seeds_label(r[3]), r[4], r[5]] for r in rows]})
        by_speedup.append({**common, "x": speedup,
                           "customdata": [[r[2], seeds_label(r[3]), r[0], r[5]] for r in rows]})
        timed = [r for r in rows if r[6] is not None]  # runs recorded before latency was measured: none
        by_measured.append({**common, "x": [r[6] for r in timed], "y": [r[1] for r in timed],
                            "error_y": {"array": [r[2] for r in timed], "color": style["error_color"]},
                            "customdata": [[r[2], seeds_label(r[3]), r[4], r[5]] for r in timed]})
        if isinstance(style["marker"].get("symbol"), list):  # per-point symbols follow the timed points
            by_measured[-1]["marker"] = {**style["marker"], "symbol": [
                s for r, s in zip(rows, style["marker"]["symbol"]) if r[6] is not None]}
        xs_c += compression
        xs_s += [s for s in speedup if s is not None]
        xs_m += [r[6] for r in timed]
    for method in waiting:
        style = _style(method_style_index(method.pk, method.slug, method.tier), method.tier)
        empty = {"name": f"{_escape(method.name)} ({method.tier}): no results yet", "meta": method.slug,
                 "x": [], "y": [], "line": style["line"], "marker": style["marker"],
                 "legendrank": 2000 if method.tier == "baseline" else 1500}
        by_compression.append(empty)
        by_speedup.append(dict(empty))
        by_measured.append(dict(empty))
    frontier_note = ""
    if frontier is not None:
        on_compression, on_speedup = frontier_traces(frontier)
        by_compression.append(on_compression)
        xs_c += on_compression["x"]
        on_measured = frontier_measured_trace(frontier, frontier_timing)
        if not measured:  # MACs place it on the theoretical axis
            by_speedup.append(on_speedup)
            xs_s += on_speedup["x"]
        elif on_measured is not None:  # a structured board's speedup axis is the measured one
            by_speedup.append(dict(on_measured))
            xs_s += on_measured["x"]
        if on_measured is not None:
            by_measured.append(on_measured)
            xs_m += on_measured["x"]
        elif frontier_timing is not None:
            frontier_note = (f"The dense frontier is not drawn on this chart: its networks have not been "
                             f"timed on {frontier_timing.machine}, the machine of the board's runs.")
    return {
        "compression": {"data": by_compression, "layout": _layout(
            _log2_axis("compression (parameters / nonzero)", xs_c),
            reference_top1, HOVER_COMPRESSION)},
        "speedup": {"data": by_speedup, "layout": _layout(
            _log2_axis("measured speedup (dense / pruned latency)" if measured
                       else "theoretical speedup (FLOPs / nonzero FLOPs)", xs_s),
            reference_top1, HOVER_SPEEDUP)},
        "measured": {"data": by_measured, "layout": _measured_layout(reference_top1, xs_m)},
        "frontier_note": frontier_note,  # why the measured chart has no frontier; "" when it has or needs none
    }


def _measured_layout(reference_top1: float | None, xs: list[float]) -> dict:
    """The measured-speedup chart's layout: a grey line at 1× marks the dense model's speed."""
    layout = _layout(_measured_axis(xs), reference_top1, HOVER_MEASURED)
    layout["shapes"] = [*layout.get("shapes", []), {
        "type": "line", "xref": "x", "yref": "paper", "x0": 1, "x1": 1, "y0": 0, "y1": 1,
        "line": {"color": "#b0b0b0", "width": 1, "dash": "dot"}}]
    return layout


def initially_shown(ranking: list, *, entries: int = 10) -> set[int]:
    """Every baseline and reference method and the top `entries` entries of a ranking (rows with
    method_id, is_baseline, is_reference): drawn when the page opens."""
    builtin = {r.method_id for r in ranking if r.is_baseline or r.is_reference}
    top = [r.method_id for r in ranking if r.method_id not in builtin][:entries]
    return builtin | set(top)


def layer_bars(record: dict, parameters: dict | None = None) -> list[dict]:
    """A finished run's per-layer sparsity as bars, in the model's order: per prunable
    parameter its name, the share of its weights pruned and kept (in [0, 1]), and whether it
    collapsed (kept no weight). From the record's `layer_sparsity` and `collapsed_layers`
    columns (JSON text in the CSV, docs/columns.md). A missing or malformed column gives [].
    `parameters` (evaluator.models.model_parameters): each bar also gets its `module` type
    ("Linear") and `shape` ("512 × 64"), '' when unknown."""
    import json

    def parsed(name, kind):
        value = record.get(name)
        try:
            value = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return kind()
        return value if isinstance(value, kind) else kind()

    sparsity, collapsed = parsed("layer_sparsity", dict), set(map(str, parsed("collapsed_layers", list)))
    bars = []
    for name, pruned in sparsity.items():
        pruned = _number(pruned) if isinstance(pruned, (int, float)) else None
        if pruned is None:
            continue
        pruned = min(max(pruned, 0.0), 1.0)
        module, shape = (parameters or {}).get(str(name), ("", ()))
        bars.append({"name": str(name), "pruned": pruned, "kept": 1.0 - pruned,
                     "collapsed": str(name) in collapsed or pruned >= 1.0,
                     "module": module, "shape": " × ".join(str(d) for d in shape)})
    return bars
