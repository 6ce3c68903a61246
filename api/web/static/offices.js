/* The offices' bulk decision bar (certification queue, late records): a rejection needs its reason
 * (asked for in place, before the confirmation), and Enter in the reason field rejects, never certifies. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-needs-reason]"), function (button) {
    var field = document.getElementById(button.getAttribute("data-needs-reason"));
    if (!field) return;
    var note = document.createElement("span");
    note.className = "field-error";
    note.id = field.id + "-needed";
    note.hidden = true;
    note.setAttribute("role", "alert");
    note.textContent = field.getAttribute("data-needed") || "";
    button.parentNode.appendChild(note);
    button.addEventListener("click", function (event) {
      if (field.value.trim()) { note.hidden = true; return; }
      event.preventDefault();  // no confirmation for a rejection that cannot be done: ask for the reason
      note.hidden = false;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
      field.focus();
    });
    field.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); button.click(); }
    });
  });
})();
