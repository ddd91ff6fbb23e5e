/* The submission status page, live: polls the progress JSON (the article's data-progress-url)
   every 2 s and updates the bar, the counts, the queue position and every run's row, without a
   reload. When the submission is final it stops and reloads once, to show the final state and
   any failure messages. A missed poll is retried on the next tick. */
(function () {
  "use strict";
  var root = document.getElementById("submission");
  if (!root || root.dataset.final === "true" || !window.fetch) return;
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var status = document.getElementById("submission-status");
  var position = document.getElementById("queue-position");
  var interval = Number(root.dataset.pollMs) || 2000;
  var timer = setInterval(poll, interval);

  function poll() {
    fetch(root.dataset.progressUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(update)
      .catch(function () { /* retried on the next tick */ });
  }

  function ratio(value) {
    // three significant digits, zeros kept (31.98: "32.0×"), as the server writes them
    if (value === null || value === undefined || !isFinite(value)) return "—";
    var text = Number(value.toPrecision(3)) >= 1000 ? Math.round(value).toLocaleString("en-US") : value.toPrecision(3);
    return text + "×";
  }

  function count(n) { return Number(n).toLocaleString("en-US"); }

  function setStatus(el, value) {
    el.textContent = value;
    el.className = "status status-" + value;
  }

  function queueText(n) {
    if (n === 0) return "Next in the queue.";
    return count(n) + " run" + (n === 1 ? "" : "s") + " ahead of yours in the queue.";
  }

  function update(p) {
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    bar.textContent = Math.round(100 * p.done / Math.max(p.total, 1)) + " %";
    text.textContent = count(p.done) + " of " + count(p.total) + " runs done · " + count(p.finished) + " finished · " + count(p.failed) + " failed";
    setStatus(status, p.status);
    if (position) {
      position.hidden = p.queue_position === null || p.queue_position === undefined;
      if (!position.hidden) position.textContent = queueText(p.queue_position);
    }
    p.runs.forEach(function (run) {
      var row = document.getElementById("run-" + run.id);
      if (!row) { return; }
      setStatus(row.querySelector('[data-field="status"]'), run.status);
      // the site's notation (README "Notation"): top-1 in percent, one decimal; ratios to 3 digits
      row.querySelector('[data-field="top1"]').textContent = run.top1 === null ? "—" : (100 * run.top1).toFixed(1);
      row.querySelector('[data-field="actual_compression"]').textContent = ratio(run.actual_compression);
      row.querySelector('[data-field="speedup"]').textContent = ratio(run.speedup);
      row.querySelector('[data-field="attempt"]').textContent = run.attempt;
    });
    if (p.final) {
      clearInterval(timer);
      window.location.reload();
    }
  }
})();
