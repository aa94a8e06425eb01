// The console editors' drafts, kept in this browser (progressive enhancement, as portal.js; loaded
// after it, so that its listeners, the live preview's among them, come first).
"use strict";

// A console editor's texts (the form's data-keep-draft names what is edited), kept in this browser as
// they are typed: a session that ends meanwhile sends the form to the login page, and the text would be
// lost. Back on the page, a draft typed over the server's texts as they still are (data-draft-base) is
// put back, with a notice; one typed over texts saved since, by this form or by someone else, is
// dropped, never put over the newer text. Logging out here forgets them (a shared computer), and so does
// the page shown once the account is deleted (data-forget-drafts-now): not the deletion's form, which
// identity may refuse (a wrong password), the account and its drafts staying.
const DRAFT_PREFIX = "portal-draft:";
const DRAFT_SAVE_MS = 500;
// A session lost on a Friday is back after a weekend or a few days off; a draft older than a week is
// more likely forgotten than wanted (an issue deleted since, one finished in another browser).
const DRAFT_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
// The notice goes into its live region once the screen reader has taken in the page just loaded:
// text put there while the page loads may not be announced.
const DRAFT_NOTICE_MS = 1000;
let loggingOut = false;  // a draft's save still to come must not outlive the logout
// Whose drafts they are: a mark of the signed-in account (the page's data-drafts-of). A session that
// ended without a logout leaves its drafts for its author's next login; another account signed in on
// this browser (a shared computer) is never shown them, and they go.
const DRAFTS_OF = () => document.body.dataset.draftsOf;

function keepDraft(form) {
  const key = DRAFT_PREFIX + form.dataset.keepDraft;
  const base = form.dataset.draftBase;
  const fields = [...form.querySelectorAll("input[type=text][name], textarea[name]")];
  const texts = () => Object.fromEntries(fields.map((field) => [field.name, field.value]));
  const shown = texts();
  let timer = null;
  const save = () => {
    clearTimeout(timer);
    timer = null;
    if (!loggingOut) {
      const draft = { base, owner: DRAFTS_OF(), at: Date.now(), texts: texts() };
      storage(() => localStorage.setItem(key, JSON.stringify(draft)));
    }
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(save, DRAFT_SAVE_MS);
  });
  form.addEventListener("submit", save);
  // Leaving the page (another form's "Log in again", a link) before the pause that saves: saved now.
  window.addEventListener("pagehide", () => timer !== null && save());
  const draft = storage(() => JSON.parse(localStorage.getItem(key)));
  if (!draft || draft.base !== base || draft.owner !== DRAFTS_OF()) {
    storage(() => localStorage.removeItem(key));
    return;
  }
  if (fields.every((field) => (draft.texts[field.name] ?? field.value) === field.value)) {
    return;
  }
  const fill = (values) => {
    fields.forEach((field) => { field.value = values[field.name] ?? field.value; });
    form.dispatchEvent(new Event("input"));  // the live preview follows
  };
  const notice = form.querySelector("[data-draft-notice]");
  const said = notice.querySelector("[aria-live]");  // in the page, empty, from the start
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "secondary";
  discard.textContent = notice.dataset.textDiscard;
  discard.addEventListener("click", () => {
    fill(shown);
    clearTimeout(timer);
    timer = null;
    storage(() => localStorage.removeItem(key));
    notice.classList.remove("notice");
    said.textContent = "";
    discard.remove();
    fields[0].focus();
  });
  fill(draft.texts);
  setTimeout(() => {
    notice.classList.add("notice");
    said.textContent = notice.dataset.textRestored;
    notice.append(discard);
  }, DRAFT_NOTICE_MS);
}

// Every draft of this browser, not only this page's: a draft of an issue deleted since would stay, and
// so would another account's, which goes once an account is signed in. One kept before drafts had a
// time (no `at`) is of unknown age: it is given this load's, so it still comes back for a week, and then
// goes; one kept before drafts had an owner is the account's signed in now.
function dropOldDrafts() {
  const now = Date.now();
  const owner = DRAFTS_OF();
  draftKeys().forEach((key) => {
    const draft = storage(() => JSON.parse(localStorage.getItem(key)));
    const at = draft?.at ?? now;
    const othersDraft = owner && draft && "owner" in draft && draft.owner !== owner;
    if (!draft || othersDraft || !(Math.abs(now - at) <= DRAFT_MAX_AGE_MS)) {  // a changed clock's future too
      storage(() => localStorage.removeItem(key));
    } else if (draft.at === undefined || (owner && !("owner" in draft))) {
      storage(() => localStorage.setItem(key, JSON.stringify({ owner, ...draft, at })));
    }
  });
}

function forgetDrafts() {
  loggingOut = true;
  draftKeys().forEach((key) => storage(() => localStorage.removeItem(key)));
}

function draftKeys() {
  return storage(() => Object.keys(localStorage).filter((key) => key.startsWith(DRAFT_PREFIX))) ?? [];
}

// localStorage may be refused (the browser's settings, its quota full): then no draft is kept.
function storage(use) {
  try {
    return use();
  } catch {
    return null;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-forget-drafts]").forEach((form) => form.addEventListener("submit", forgetDrafts));
  if (document.querySelector("[data-forget-drafts-now]")) {
    forgetDrafts();
  }
  dropOldDrafts();
  document.querySelectorAll("form[data-keep-draft]").forEach(keepDraft);
});
