/* Render every chart on the page from its JSON data block (no inline script: CSP).
 *
 * <div class="chart" data-chart="ID"></div>
 * <script type="application/json" id="ID">{ ECharts option }</script>
 *
 * Extensions understood here: series {type: "errorbar", data: [[x, low, high], ...]}
 * drawn as whiskers, and option._percent (tooltip values get a % sign).
 */
(function () {
  "use strict";

  function errorbarSeries(series) {
    return Object.assign({}, series, {
      type: "custom",
      z: 10,
      tooltip: { show: false },
      itemStyle: Object.assign({ color: "#1a202c" }, series.itemStyle || {}),
      encode: { x: 0, y: [1, 2] },
      renderItem: function (params, api) {
        var x = api.value(0), lo = api.value(1), hi = api.value(2);
        if (lo === null || hi === null || isNaN(lo) || isNaN(hi)) { return null; }
        var low = api.coord([x, lo]), high = api.coord([x, hi]);
        var half = 6;
        var style = { stroke: api.visual("color"), lineWidth: 1.5, fill: null };
        return {
          type: "group",
          children: [
            { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style: style },
            { type: "line", shape: { x1: low[0] - half, y1: low[1], x2: low[0] + half, y2: low[1] }, style: style },
            { type: "line", shape: { x1: high[0] - half, y1: high[1], x2: high[0] + half, y2: high[1] }, style: style }
          ]
        };
      }
    });
  }

  function hydrate(option) {
    if (option._percent) {
      option.tooltip = Object.assign({}, option.tooltip || {}, {
        valueFormatter: function (v) { return v === null || v === undefined ? "—" : Number(v).toFixed(1) + "%"; }
      });
    }
    delete option._percent;
    option.series = (option.series || []).map(function (s) {
      return s.type === "errorbar" ? errorbarSeries(s) : s;
    });
    return option;
  }

  function render(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source || typeof echarts === "undefined") { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(hydrate(JSON.parse(source.textContent)));
    el.setAttribute("data-rendered", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), render);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
