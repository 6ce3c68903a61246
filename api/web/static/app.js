/* Small helpers for every page: print buttons, "select all" boxes, confirmations, one submit per form. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print]") : null;
    if (target) { event.preventDefault(); window.print(); }
  });

  // a "select all" checkbox: <input type=checkbox data-select-all="name">
  Array.prototype.forEach.call(document.querySelectorAll("[data-select-all]"), function (box) {
    var name = box.getAttribute("data-select-all");
    box.addEventListener("change", function () {
      Array.prototype.forEach.call(document.querySelectorAll('input[type=checkbox][name="' + name + '"]'),
        function (other) { other.checked = box.checked; });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      if (form.method.toLowerCase() !== "post" || form.hasAttribute("data-download")) return;
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }  // a double click submits once
      form.setAttribute("data-sent", "1");
      if (submitter && submitter.name) {  // keep the clicked button's value once buttons are disabled
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = submitter.name;
        hidden.value = submitter.value;
        form.appendChild(hidden);
      }
      window.setTimeout(function () {
        Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type])"),
          function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
