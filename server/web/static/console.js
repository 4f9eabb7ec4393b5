// passgate console: the only script. Pages work without it; it adds checks as you type.
//
// A form with data-live-check="/url" is posted (as a urlencoded form, with its CSRF field)
// to that URL a moment after the user stops typing. The server answers
// {"errors": [{"field": "...", "message": "..."}]} using the same rules as the real submit,
// so the browser never holds a second copy of them. Only fields the user has touched show
// their message.
(function () {
  "use strict";

  function liveCheck(form) {
    var url = form.getAttribute("data-live-check");
    var touched = {};
    var timer = null;
    var seq = 0;

    function show(errors) {
      var byField = {};
      errors.forEach(function (e) { byField[e.field] = e.message; });
      form.querySelectorAll("[data-error-for]").forEach(function (span) {
        var name = span.getAttribute("data-error-for");
        if (!touched[name]) { return; }
        var msg = byField[name] || "";
        span.textContent = msg;
        var input = form.querySelector('[name="' + name + '"]');
        var field = span.closest(".field");
        if (input) {
          if (msg) { input.setAttribute("aria-invalid", "true"); }
          else { input.removeAttribute("aria-invalid"); }
        }
        if (field) { field.classList.toggle("invalid", !!msg); }
      });
    }

    function check() {
      var mine = ++seq;
      var body = new URLSearchParams(new FormData(form));
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString()
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && mine === seq) { show(data.errors || []); }
        })
        .catch(function () { /* offline: the real submit still checks everything */ });
    }

    function changed(ev) {
      if (ev.target && ev.target.name) { touched[ev.target.name] = true; }
      clearTimeout(timer);
      timer = setTimeout(check, 350);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
  }

  // Show only the fields that apply to the chosen value of a select (e.g. route fields for
  // the long-haul class): elements with data-show-when="name=value1,value2".
  function conditional(root) {
    var items = root.querySelectorAll("[data-show-when]");
    if (!items.length) { return; }
    function update() {
      items.forEach(function (el) {
        var rule = el.getAttribute("data-show-when").split("=");
        var input = root.querySelector('[name="' + rule[0] + '"]');
        var values = (rule[1] || "").split(",");
        el.hidden = !!input && values.indexOf(input.value) < 0;
      });
    }
    root.addEventListener("change", update);
    update();
  }

  // Buttons that ask before doing something that cannot be undone: data-confirm="text".
  function confirms(root) {
    root.addEventListener("submit", function (ev) {
      var btn = ev.submitter;
      var text = (btn && btn.getAttribute("data-confirm")) ||
        ev.target.getAttribute("data-confirm");
      if (text && !window.confirm(text)) { ev.preventDefault(); }
    });
  }

  // Print buttons (no inline handlers: the CSP forbids them).
  function printButtons(root) {
    root.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-check]").forEach(liveCheck);
    conditional(document);
    confirms(document);
    printButtons(document);
  });
})();
