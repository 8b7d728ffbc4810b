// Railguard dashboard: theme toggle, live regions that re-fetch themselves, and confirm prompts.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = localStorage.getItem("railguard-theme");
  if (saved) root.dataset.theme = saved;
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-theme-toggle]");
    if (toggle) {
      var dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      localStorage.setItem("railguard-theme", root.dataset.theme);
    }
  });
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
  // <section data-live="/url" data-every="2000">: replaced by the URL's HTML every few seconds.
  document.querySelectorAll("[data-live]").forEach(function (region) {
    var every = parseInt(region.getAttribute("data-every") || "2000", 10);
    function refresh() {
      if (document.hidden) return;
      fetch(region.getAttribute("data-live"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null && html !== region.innerHTML) region.innerHTML = html; })
        .catch(function () {});
    }
    setInterval(refresh, every);
  });
  // <form data-why="/runs/ID/why?fragment=1">: the answer replaces the button in place, its step highlighted.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-why]");
    if (!form) return;
    event.preventDefault();
    var region = form.closest("[data-why-answer]");
    region.textContent = "Looking at the run…";
    fetch(form.getAttribute("data-why"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        region.innerHTML = html;
        var answer = region.querySelector("[data-why-step]");
        var step = answer && answer.getAttribute("data-why-step");
        var row = step && document.getElementById("span-" + step);
        if (row) row.classList.add("why-step");
      })
      .catch(function () { window.location.href = form.action; });
  });
  // <details data-detail="/runs/ID/steps/SPAN?fragment=1">: a step's arguments and output, fetched
  // the first time it is opened (the replay stays small however long the run's outputs are).
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.open || !details.hasAttribute || !details.hasAttribute("data-detail") || details.dataset.loaded) return;
    details.dataset.loaded = "1";
    var body = details.querySelector("[data-detail-body]");
    fetch(details.getAttribute("data-detail"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { body.innerHTML = html; })
      .catch(function () { delete details.dataset.loaded; });
  }, true);
  // <a data-label-step="SPAN" data-label-title="...">: picks the step the one label form labels.
  document.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-label-step]");
    var form = document.querySelector("form.label-form");
    if (!pick || !form) return;
    event.preventDefault();
    form.querySelector("[data-label-span]").value = pick.getAttribute("data-label-step");
    form.querySelector("[data-label-chosen]").textContent = pick.getAttribute("data-label-title");
    form.scrollIntoView({ block: "center" });
    form.querySelector("select[name=label]").focus();
  });
  // Keyboard: g then o/r/d/a/p/k/y/l jumps between pages.
  var pending = false;
  var pages = { o: "/", r: "/runs", d: "/decisions", a: "/approvals", f: "/findings", p: "/policies", k: "/killswitch", y: "/keys", l: "/audit" };
  document.addEventListener("keydown", function (event) {
    if (event.target.closest("input, textarea, select")) return;
    if (pending && pages[event.key]) { location.href = pages[event.key]; }
    pending = event.key === "g";
  });
})();
