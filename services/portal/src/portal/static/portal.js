// Progressive enhancement only: every form works without this file.
"use strict";

// The password rules, marked as the user types (the server checks them again).
function watchPasswordRules(list) {
  const input = list.closest("form").querySelector("input[type=password]");
  const checks = {
    length: (v) => v.length >= 12,
    spaces: (v) => v.length > 0 && !/\s/.test(v),
    upper: (v) => /\p{Lu}/u.test(v),
    lower: (v) => /\p{Ll}/u.test(v),
    digit: (v) => /\d/.test(v),
    symbol: (v) => /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/.test(v),
  };
  input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby") || ""} password-rules`.trim());
  const update = () => {
    for (const item of list.querySelectorAll("[data-rule]")) {
      item.classList.toggle("met", checks[item.dataset.rule](input.value));
    }
  };
  input.addEventListener("input", update);
  update();
}

// "Send new code": disabled, with a countdown, until a new code may be requested.
function watchResend(form) {
  const button = form.querySelector("button");
  const when = form.querySelector("[data-resend-when]");
  let wait = Number(form.dataset.wait) || 0;
  const tick = () => {
    button.disabled = wait > 0;
    when.textContent = wait > 0 ? when.dataset.waitText.replace("{seconds}", wait) : when.dataset.readyText;
    if (wait > 0) {
      wait -= 1;
      setTimeout(tick, 1000);
    }
  };
  tick();
}

// The newsletter editor: the preview follows the text as it is typed (the Preview button does the
// same without this file).
function watchIssuePreview(form) {
  const target = document.getElementById("issue-preview");
  let timer = null;
  const refresh = async () => {
    const body = new FormData(form);
    body.delete("action");
    const response = await fetch(form.dataset.livePreview, { method: "POST", body, credentials: "same-origin" });
    if (response.ok) {
      target.innerHTML = await response.text();
    }
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  // After a refused form, start where the first error is.
  document.querySelector("[aria-invalid=true]")?.focus();
  document.querySelectorAll("[data-password-rules]").forEach(watchPasswordRules);
  document.querySelectorAll("[data-resend]").forEach(watchResend);
  document.querySelectorAll("[data-live-preview]").forEach(watchIssuePreview);
});
