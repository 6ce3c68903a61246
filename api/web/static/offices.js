/* The offices' bulk decision bar (certification queue, late records): "不予认证所选" opens a dialog that
 * asks for the reason (it is told to the member) and is itself the confirmation; an empty reason or no
 * ticked record is said in the dialog and nothing is sent. Without script the bar's own reason field and
 * the server's check do the same job. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-needs-reason]"), function (button) {
    var field = document.getElementById(button.getAttribute("data-needs-reason"));
    var dialog = document.getElementById(button.getAttribute("data-reason-dialog"));
    if (!field || !dialog || typeof dialog.showModal !== "function") return;
    var text = dialog.querySelector("textarea");
    var go = dialog.querySelector("#reject-go");
    var needed = dialog.querySelector("#reject-reason-needed");
    var noneTicked = dialog.querySelector("#reject-none-ticked");
    var decided = false;

    function ticked() {
      return button.form.querySelectorAll('input[type=checkbox][name="session"]:checked').length;
    }

    button.addEventListener("click", function (event) {
      if (decided) return;  // the dialog's own submission
      event.preventDefault();
      text.value = field.value;
      needed.hidden = true;
      text.removeAttribute("aria-invalid");
      noneTicked.hidden = ticked() > 0;
      go.disabled = ticked() === 0;
      var title = dialog.querySelector("[data-template]");
      title.textContent = title.getAttribute("data-template").replace("{n}", String(ticked()));
      dialog.showModal();
      (ticked() ? text : dialog.querySelector("[data-close-dialog]")).focus();
    });
    go.addEventListener("click", function () {
      var reason = text.value.trim();
      if (!reason) {
        needed.hidden = false;
        text.setAttribute("aria-invalid", "true");
        text.setAttribute("aria-describedby", needed.id);
        text.focus();
        return;
      }
      field.value = reason;
      decided = true;
      dialog.close();
      button.form.requestSubmit(button);
    });
    text.addEventListener("keydown", function (event) {  // Ctrl+Enter rejects from the keyboard
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); go.click(); }
    });
    field.addEventListener("keydown", function (event) {  // Enter in the bar's reason field rejects, never certifies
      if (event.key === "Enter") { event.preventDefault(); button.click(); }
    });
  });
})();
