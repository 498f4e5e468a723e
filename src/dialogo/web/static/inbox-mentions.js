// Choosing a teammate in the note box's autocomplete (#mention-options, filled by htmx) puts
// "@handle " in place of the "@wor" being typed before the caret (or at the caret when there is
// none). The choices are buttons (Tab, Enter or Space); ArrowDown in the note box moves to the
// first, ArrowUp/ArrowDown between them, Escape back to the note box.
(function () {
  "use strict";
  var TYPING = /(^|\s)@[\w.+-]{0,60}$/;

  function box() { return document.getElementById("note-body"); }
  function choices() { return Array.prototype.slice.call(document.querySelectorAll("#mention-options [data-mention-handle]")); }
  function clear() { var list = document.getElementById("mention-options"); if (list) { list.innerHTML = ""; } }

  function insert(handle) {
    var note = box();
    if (!note) { return; }
    var end = note.selectionEnd === undefined ? note.value.length : note.selectionEnd;
    var start = note.selectionStart === undefined ? end : note.selectionStart;
    var before = note.value.slice(0, start);
    var typing = TYPING.exec(before);
    if (typing) { before = before.slice(0, typing.index + typing[1].length); }
    var text = "@" + handle + " ";
    note.value = before + text + note.value.slice(end);
    note.focus();
    note.setSelectionRange(before.length + text.length, before.length + text.length);
    clear();
  }

  document.addEventListener("click", function (event) {
    var choice = event.target.closest ? event.target.closest("#mention-options [data-mention-handle]") : null;
    if (!choice) { return; }
    event.preventDefault();
    insert(choice.getAttribute("data-mention-handle"));
  });

  document.addEventListener("keydown", function (event) {
    var found = choices();
    if (!found.length) { return; }
    var at = found.indexOf(document.activeElement);
    if (event.target === box() && event.key === "ArrowDown") {
      event.preventDefault();
      found[0].focus();
    } else if (at >= 0 && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      found[(at + (event.key === "ArrowDown" ? 1 : found.length - 1)) % found.length].focus();
    } else if ((at >= 0 || event.target === box()) && event.key === "Escape") {
      event.preventDefault();
      clear();
      box().focus();
    }
  });
})();
