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

  // Map of the results (Leaflet, shipped with the app). Without Leaflet or without a tile server the
  // numbered list inside the map box stays; without tiles the markers show on a plain background.
  function resultsMap(el) {
    var points = [];
    document.querySelectorAll(".result[data-marker]").forEach(function (li) {
      var lat = parseFloat(li.getAttribute("data-lat"));
      var lon = parseFloat(li.getAttribute("data-lon"));
      if (isNaN(lat) || isNaN(lon)) { return; }
      points.push({ n: li.getAttribute("data-marker"), lat: lat, lon: lon, name: li.getAttribute("data-name"), place: li.getAttribute("data-place") });
    });
    var layout = el.closest(".results-layout");
    var toggle = document.querySelector(".map-toggle");
    if (!window.L || !points.length) { return; }
    var fallback = el.querySelector(".map-fallback");
    if (fallback) { fallback.remove(); }
    var map = window.L.map(el, { scrollWheelZoom: false });
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      window.L.tileLayer(tiles, { maxZoom: 18, attribution: el.getAttribute("data-attribution") }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    var bounds = [];
    var markers = [];
    points.forEach(function (p) {
      var icon = window.L.divIcon({ className: "map-marker", html: "<span>" + Number(p.n) + "</span>", iconSize: [30, 30] });
      var marker = window.L.marker([p.lat, p.lon], { icon: icon, title: p.n + ". " + p.name, alt: p.n + ". " + p.name, keyboard: true });
      var box = document.createElement("div");
      var link = document.createElement("a");
      link.href = "#result-" + p.n;
      link.textContent = p.n + ". " + p.name;
      var where = document.createElement("div");
      where.textContent = p.place;
      box.appendChild(link);
      box.appendChild(where);
      marker.bindPopup(box);
      marker.addTo(map);
      markers.push([marker, p.n]);
      bounds.push([p.lat, p.lon]);
    });
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
    // Marker elements exist once the map has a view: number them like the list.
    markers.forEach(function (pair) {
      var node = pair[0].getElement();
      if (node) { node.setAttribute("data-n", String(pair[1])); }
    });
    el.setAttribute("data-ready", "1");
    if (toggle && layout) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var shown = layout.classList.toggle("show-map");
        toggle.setAttribute("aria-expanded", shown ? "true" : "false");
        toggle.textContent = toggle.getAttribute(shown ? "data-hide" : "data-show");
        map.invalidateSize();
        map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
      });
    }
  }

  // "Around me": the browser asks the patient; the position (rounded to ~1 km) replaces the town.
  function nearMe(button) {
    var form = button.closest("form");
    if (!form || !navigator.geolocation) { return; }
    var lat = form.querySelector("input[name=lat]");
    var lon = form.querySelector("input[name=lon]");
    var where = form.querySelector("input[name=where]");
    var status = form.querySelector(".near-me-status");
    button.hidden = false;
    where.addEventListener("input", function () { lat.disabled = true; lon.disabled = true; });
    button.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(2);
        lon.value = pos.coords.longitude.toFixed(2);
        lat.disabled = false;
        lon.disabled = false;
        where.value = "";
        form.submit();
      }, function () {
        lat.disabled = true;
        lon.disabled = true;
        if (status) { status.textContent = button.getAttribute("data-denied"); }
      }, { timeout: 10000, maximumAge: 600000 });
    });
  }

  // Agenda grid: drag an appointment onto another time of the same agenda. The drop only opens the
  // move's confirmation page (the server checks the time); every appointment also has a "Move" link.
  function agendaGrid(gridEl) {
    var first = parseInt(gridEl.getAttribute("data-first-minute"), 10);
    var rows = parseInt(gridEl.getAttribute("data-rows"), 10);
    var step = parseInt(gridEl.getAttribute("data-step"), 10);
    var dragged = null;
    function pad(n) { return String(n).padStart(2, "0"); }
    function columnAt(x, y) {
      var found = null;
      document.elementsFromPoint(x, y).forEach(function (el) {
        if (!found && el.classList && el.classList.contains("col") && gridEl.contains(el)) { found = el; }
      });
      return found;
    }
    function target(ev) {
      var col = columnAt(ev.clientX, ev.clientY);
      if (!dragged || !col || col.getAttribute("data-agenda") !== dragged.getAttribute("data-agenda")) { return null; }
      return col;
    }
    gridEl.querySelectorAll(".blk[data-move]").forEach(function (blk) {
      blk.addEventListener("dragstart", function (ev) {
        dragged = blk;
        blk.classList.add("dragging");
        ev.dataTransfer.effectAllowed = "move";
        ev.dataTransfer.setData("text/plain", blk.getAttribute("data-move"));
      });
      blk.addEventListener("dragend", function () {
        blk.classList.remove("dragging");
        dragged = null;
        gridEl.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
      });
    });
    gridEl.addEventListener("dragover", function (ev) {
      var col = target(ev);
      gridEl.querySelectorAll(".drop-target").forEach(function (c) { if (c !== col) { c.classList.remove("drop-target"); } });
      if (col) { ev.preventDefault(); col.classList.add("drop-target"); }
    });
    gridEl.addEventListener("drop", function (ev) {
      var col = target(ev);
      if (!col) { return; }
      ev.preventDefault();
      var url = dragged.getAttribute("data-move");
      var free = ev.target.closest ? ev.target.closest(".blk.free[data-start]") : null;
      if (free && free.getAttribute("data-agenda") === col.getAttribute("data-agenda")) {
        window.location.assign(url + "?start=" + encodeURIComponent(free.getAttribute("data-start")));
        return;
      }
      var rect = col.getBoundingClientRect();
      var row = Math.max(0, Math.min(rows - 1, Math.floor((ev.clientY - rect.top) / rect.height * rows)));
      var minute = first + row * step;
      var at = col.getAttribute("data-day") + "T" + pad(Math.floor(minute / 60)) + ":" + pad(minute % 60);
      window.location.assign(url + "?at=" + encodeURIComponent(at));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".agrid").forEach(agendaGrid);
    document.querySelectorAll("[data-print]").forEach(function (b) { b.addEventListener("click", function () { window.print(); }); });
    document.querySelectorAll("[data-map]").forEach(resultsMap);
    document.querySelectorAll("[data-near-me]").forEach(nearMe);
    document.querySelectorAll("input[data-suggest-url]").forEach(placeSuggest);
    document.querySelectorAll("[data-until]").forEach(countdown);
    document.querySelectorAll("form[data-confirm]").forEach(confirmSubmit);
    document.querySelectorAll("[data-toggle-target]").forEach(toggleNewPatient);
  });
})();
