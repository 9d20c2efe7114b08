// Admin pages: copy buttons and confirmation prompts. Progressive: every page works without it.
// <button data-copy="#id"> copies the text of the element #id; <form data-confirm="…"> asks first.

function copyText(button) {
  const target = document.querySelector(button.dataset.copy);
  if (!target) return;
  const text = target.value !== undefined ? target.value : target.textContent;
  const done = () => {
    const label = button.textContent;
    button.textContent = button.dataset.copied || "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectFallback(target, done));
  } else {
    selectFallback(target, done);
  }
}

function selectFallback(target, done) {
  const range = document.createRange();
  range.selectNodeContents(target);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  try { if (document.execCommand("copy")) done(); } catch (_) { /* left selected for Ctrl+C */ }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) { event.preventDefault(); copyText(button); }
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
