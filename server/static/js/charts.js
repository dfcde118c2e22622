/* Render every chart on the page from its JSON data block (no inline script: CSP).
 *
 * <div class="chart" data-chart="ID" data-height="340"></div>
 * <script type="application/json" id="ID">{ ECharts option }</script>
 *
 * Extensions understood here: series {type: "errorbar", data: [[x, low, high], ...]}
 * drawn as whiskers ("horizontal": true for bars lying down), option._percent (tooltip
 * values get a % sign) and option._height (read by the page template).
 */
(function () {
  "use strict";

  function errorbarSeries(series) {
    var horizontal = !!series.horizontal;
    delete series.horizontal;
    return Object.assign({}, series, {
      type: "custom",
      z: 10,
      tooltip: { show: false },
      itemStyle: Object.assign({ color: "#1a202c" }, series.itemStyle || {}),
      encode: horizontal ? { y: 0, x: [1, 2] } : { x: 0, y: [1, 2] },
      renderItem: function (params, api) {
        var at = api.value(0), lo = api.value(1), hi = api.value(2);
        if (lo === null || hi === null || isNaN(lo) || isNaN(hi)) { return null; }
        var low = horizontal ? api.coord([lo, at]) : api.coord([at, lo]);
        var high = horizontal ? api.coord([hi, at]) : api.coord([at, hi]);
        var half = 6;
        var style = { stroke: api.visual("color"), lineWidth: 1.5, fill: null };
        function cap(p) {
          return horizontal
            ? { type: "line", shape: { x1: p[0], y1: p[1] - half, x2: p[0], y2: p[1] + half }, style: style }
            : { type: "line", shape: { x1: p[0] - half, y1: p[1], x2: p[0] + half, y2: p[1] }, style: style };
        }
        return {
          type: "group",
          children: [
            { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style: style },
            cap(low),
            cap(high)
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
    delete option._height;
    option.series = (option.series || []).map(function (s) {
      return s.type === "errorbar" ? errorbarSeries(s) : s;
    });
    return option;
  }

  function render(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    // the height comes as data-height, not a style attribute: the CSP allows no inline
    // style (setting it from a script file is allowed)
    var height = parseInt(el.getAttribute("data-height"), 10);
    if (height > 0) { el.style.height = height + "px"; }
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
