/* Draws every [data-figure] element from the JSON that json_script embedded, with the local
   plotly.js. On a narrow screen the legend moves below the plot (beside it, it would squeeze
   the plot to nothing), and back beside it when the window widens. */
(function () {
  "use strict";
  var NARROW = 700; // px of plot width under which the legend goes below

  function legendFor(width, count) {
    if (width >= NARROW) {
      return {layout: {"legend.orientation": "v", "legend.x": 1.01, "legend.y": 1,
                       "legend.xanchor": "left", "legend.yanchor": "top", "margin.b": 50}, extra: 0};
    }
    // Below the x axis title; the plot keeps its own height and the page grows by the legend's.
    var rows = Math.ceil(count / 2);
    return {layout: {"legend.orientation": "h", "legend.x": 0, "legend.y": -0.18,
                     "legend.xanchor": "left", "legend.yanchor": "top", "margin.b": 60}, extra: 22 * rows + 40};
  }

  function draw(el) {
    var figure = JSON.parse(document.getElementById(el.dataset.figure).textContent);
    var base = figure.layout.height || 460;
    var narrow = null;
    function fit() {
      var isNarrow = el.clientWidth < NARROW;
      if (isNarrow === narrow) { return null; }
      narrow = isNarrow;
      var legend = legendFor(el.clientWidth, figure.data.length);
      legend.layout.height = base + legend.extra;
      return legend.layout;
    }
    var first = fit();
    Object.keys(first).forEach(function (key) {  // "legend.x" -> layout.legend.x
      var parts = key.split("."), target = figure.layout;
      while (parts.length > 1) { var p = parts.shift(); target = target[p] = target[p] || {}; }
      target[parts[0]] = first[key];
    });
    el.dataset.legend = narrow ? "below" : "side";
    Plotly.newPlot(el, figure.data, figure.layout, {responsive: true, displaylogo: false});
    window.addEventListener("resize", function () {
      var update = fit();
      if (update) {
        el.dataset.legend = narrow ? "below" : "side";
        Plotly.relayout(el, update);
      }
    });
  }

  document.querySelectorAll("[data-figure]").forEach(draw);
})();
