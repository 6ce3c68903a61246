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

  // a button that closes its <dialog> (the dialog's own script opens it)
  document.addEventListener("click", function (event) {
    var closer = event.target.closest ? event.target.closest("[data-close-dialog]") : null;
    var dialog = closer && document.getElementById(closer.getAttribute("data-close-dialog"));
    if (dialog) dialog.close();
  });

  // a required field with its own message: said beside the field, in the page's language
  Array.prototype.forEach.call(document.querySelectorAll("[data-required-message]"), function (field) {
    field.addEventListener("invalid", function () {
      field.setCustomValidity(field.value.trim() ? "" : field.getAttribute("data-required-message"));
      var shown = document.getElementById("error-" + field.name);
      if (!shown) {
        shown = document.createElement("p");
        shown.className = "field-error";
        shown.id = "error-" + field.name;
        shown.setAttribute("role", "alert");
        field.insertAdjacentElement("afterend", shown);
      }
      shown.textContent = field.getAttribute("data-required-message");
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", shown.id);
    });
    field.addEventListener("input", function () { field.setCustomValidity(""); });
  });

  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      if (form.method.toLowerCase() !== "post" || form.hasAttribute("data-download")) return;
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }  // a double click submits once
      form.setAttribute("data-sent", "1");
      var hidden = null;
      if (submitter && submitter.name) {  // keep the clicked button's value once buttons are disabled
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = submitter.name;
        hidden.value = submitter.value;
        form.appendChild(hidden);
      }
      window.setTimeout(function () {
        if (event.defaultPrevented) {  // a later handler kept the form on the page (a scan taken offline)
          form.removeAttribute("data-sent");
          if (hidden) form.removeChild(hidden);
          return;
        }
        Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type])"),
          function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
