/* Small behaviours of console forms (no inline script: CSP). */
(function () {
  "use strict";

  function start() {
    // "select all" boxes: <input type="checkbox" data-select-all="name-of-boxes">
    Array.prototype.forEach.call(document.querySelectorAll("[data-select-all]"), function (box) {
      box.addEventListener("change", function () {
        var name = box.getAttribute("data-select-all");
        Array.prototype.forEach.call(document.querySelectorAll('input[name="' + name + '"]'), function (b) {
          b.checked = box.checked;
        });
      });
    });
    // Confirm before irreversible steps.
    Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    // Long operations: disable the button and say what is happening until the page answers.
    Array.prototype.forEach.call(document.querySelectorAll("form[data-busy]"), function (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) { return; }
        var button = form.querySelector("button[type=submit]");
        if (button) { button.disabled = true; button.textContent = form.getAttribute("data-busy"); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
