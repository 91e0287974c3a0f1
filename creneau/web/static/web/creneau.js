/* Small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Place suggestions: fill the <datalist> of the "where" field as the user types.
  function placeSuggest(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-suggest-url");
    if (!list || !url) { return; }
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { return; }
      timer = setTimeout(function () {
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) {
            list.textContent = "";
            data.results.forEach(function (label) {
              var opt = document.createElement("option");
              opt.value = label;
              list.appendChild(opt);
            });
          })
          .catch(function () { /* suggestions are optional */ });
      }, 150);
    });
  }

  // Hold countdown: "held for 9:41".
  function countdown(el) {
    var until = Date.parse(el.getAttribute("data-until"));
    if (isNaN(until)) { return; }
    function tick() {
      var left = Math.max(0, Math.round((until - Date.now()) / 1000));
      el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left > 0) { setTimeout(tick, 1000); }
    }
    tick();
  }

  // Confirm destructive actions (cancel an appointment...).
  function confirmSubmit(form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  }

  // Reveal the "new relative" fields only when that choice is selected.
  function toggleNewPatient(root) {
    var target = document.getElementById(root.getAttribute("data-toggle-target"));
    if (!target) { return; }
    function sync() {
      var checked = root.querySelector("input[type=radio]:checked");
      target.hidden = !(checked && checked.value === "new");
    }
    root.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest-url]").forEach(placeSuggest);
    document.querySelectorAll("[data-until]").forEach(countdown);
    document.querySelectorAll("form[data-confirm]").forEach(confirmSubmit);
    document.querySelectorAll("[data-toggle-target]").forEach(toggleNewPatient);
  });
})();
