// Progressive enhancement only: every form works without this file.
"use strict";

// The password rules, marked as the user types (the server checks them again), counting as identity
// does: characters, not UTF-16 units (an emoji is one), and any decimal digit as a number.
function watchPasswordRules(list) {
  const input = list.closest("form").querySelector("input[type=password]");
  const checks = {
    length: (v) => [...v].length >= 12,
    spaces: (v) => v.length > 0 && !/\s/.test(v),
    upper: (v) => /\p{Lu}/u.test(v),
    lower: (v) => /\p{Ll}/u.test(v),
    digit: (v) => /\p{Nd}/u.test(v),
    symbol: (v) => /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/.test(v),
  };
  input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby") || ""} password-rules`.trim());
  // Each rule says whether it is met in words too, before its text, for a screen reader (the glyph
  // before it, CSS content, is hidden from it) and for whoever does not tell the colours apart.
  const said = new Map([...list.querySelectorAll("[data-rule]")].map((item) => {
    const state = document.createElement("span");
    state.className = "visually-hidden";
    item.prepend(state);
    return [item, state];
  }));
  const update = () => {
    for (const [item, state] of said) {
      const met = checks[item.dataset.rule](input.value);
      item.classList.toggle("met", met);
      state.textContent = met ? list.dataset.textMet : list.dataset.textUnmet;
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
    const waitText = wait === 1 ? when.dataset.waitTextOne : when.dataset.waitText;
    when.textContent = wait > 0 ? waitText.replace("{seconds}", wait) : when.dataset.readyText;
    if (wait > 0) {
      wait -= 1;
      setTimeout(tick, 1000);
    }
  };
  tick();
}

// A form that mails a code or spends one is sent once: a second click while the first is on its way
// would make a second code, and the one in the first mail to arrive would then be refused.
function sendOnce(form) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
    }
    form.dataset.sent = "true";
  });
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

// The console's upload (tus-js-client, vendor/tus.min.js): resumable, in chunks the portal passes on to
// the catalogue; a broken connection is retried from the server's offset, and the same file chosen
// again after a reload resumes where it stopped. Once done, the upload's address fills the form. A file
// chosen instead stops the upload under way and empties the form's address: the video is made of the
// file chosen last, never of one uploaded before it or finishing after it.
function watchUpload(field) {
  if (typeof tus === "undefined" || !tus.isSupported) {
    return;
  }
  field.hidden = false;
  const input = field.querySelector("input[type=file]");
  const bar = field.querySelector("progress");
  const status = field.querySelector("[aria-live]");
  const target = document.getElementById("upload");
  const csrf = field.closest("form").querySelector("input[name=csrf_token]").value;
  const say = (text) => { status.textContent = text; };
  // The status is a live region: each text put there is read aloud. The bar follows every byte; the
  // text says the progress by tens, not at every percent all along an upload of minutes.
  const PROGRESS_STEP = 10;
  let current = null;
  input.addEventListener("change", async () => {
    current?.abort();  // not terminated: chosen again, it resumes
    current = null;
    target.value = "";
    bar.value = 0;
    say("");
    let saidStep = null;
    const file = input.files[0];
    if (!file) {
      return;
    }
    const upload = new tus.Upload(file, {
      endpoint: field.dataset.tusUpload,
      chunkSize: Number(field.dataset.chunkBytes),
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      headers: { "X-CSRFToken": csrf },
      metadata: { filename: file.name, filetype: file.type },
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        const percent = total ? Math.floor((sent / total) * 100) : 0;
        bar.value = percent;
        const step = Math.floor(percent / PROGRESS_STEP) * PROGRESS_STEP;
        if (step !== saidStep) {
          saidStep = step;
          say(field.dataset.textUploading.replace("{percent}", step));
        }
      },
      onShouldRetry: (error) => {
        // As tus-js-client's own rule: a refusal (4xx) is final, except a conflict or a lock. A full
        // disk (507) keeps the bytes sent: the upload resumes once room is made.
        const code = statusOf(error);
        const retry = code < 400 || code >= 500 || code === 409 || code === 423;
        if (retry) {
          say(code === 507 ? field.dataset.textDiskFull : field.dataset.textRetrying);
          saidStep = null;  // once it resumes, the progress is said again
        }
        return retry;
      },
      onError: (error) => {
        // 401: the session ended (a staff token lasts minutes, an upload may take longer); 413: longer
        // than the catalogue takes (Tus-Max-Size), refused before any byte was sent.
        const code = statusOf(error);
        const texts = {
          401: field.dataset.textSessionEnded,
          413: field.dataset.textTooLarge,
          507: field.dataset.textDiskFullFailed,
        };
        say(texts[code] ?? field.dataset.textFailed);
        input.value = "";  // a browser tells of a file chosen again only when it changes the field
      },
      onSuccess: () => {
        bar.value = 100;
        target.value = new URL(upload.url, window.location.href).pathname;
        say(field.dataset.textDone);
      },
    });
    current = upload;
    const previous = await upload.findPreviousUploads();
    if (current !== upload) {  // another file was chosen meanwhile
      return;
    }
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
    }
    upload.start();
  });
}

// The HTTP status of a tus-js-client error, 0 when no answer came.
function statusOf(error) {
  return error.originalResponse ? error.originalResponse.getStatus() : 0;
}

// A console part that shows work under way: fetched again while a video is processing, or an issue
// is due, going out or still counting its results. Every 2 s while it changes; each fetch that finds
// it unchanged doubles the wait, up to 10 s (an issue scheduled for next week, a tab left open).
const REFRESH_MS = 2000;
const REFRESH_MAX_MS = 10000;

// A change of status in it (processing to ready, sending to sent) is said once, through a live region
// beside it, made as the page loads (a region a screen reader already knows): not the part itself,
// which would be read again whole at each step of a transcoding's progress.
function refreshWhileProcessing(part) {
  let wait = REFRESH_MS;
  let ended = false;  // the session ended (401): the page's next link or form goes to the login page
  const said = document.createElement("p");
  said.className = "visually-hidden";
  said.setAttribute("aria-live", "polite");
  part.after(said);
  const tick = async () => {
    if (ended || !part.querySelector("[data-status=processing], [data-in-progress]")) {
      return;
    }
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      ended = response.status === 401;
      const fresh = response.ok
        ? new DOMParser().parseFromString(await response.text(), "text/html").getElementById(part.id)
        : null;
      if (fresh && fresh.innerHTML !== part.innerHTML) {
        const before = statusesIn(part);
        part.innerHTML = fresh.innerHTML;
        const changed = [...statusesIn(part)]
          .filter(([label, status]) => before.has(label) && before.get(label) !== status)
          .map(([label, status]) => (label ? `${label}: ${status}` : status));
        if (changed.length) {
          said.textContent = changed.join(". ");
        }
        wait = REFRESH_MS;
      } else {
        wait = Math.min(wait * 2, REFRESH_MAX_MS);
      }
    } finally {
      if (!ended) {
        setTimeout(tick, wait);
      }
    }
  };
  setTimeout(tick, wait);
}

// Each status in a part, by what it is the status of: its row's first cell (a video's title, an issue's
// subject), else its term ("Status").
function statusesIn(part) {
  return new Map([...part.querySelectorAll("[data-status]")].map((element) => {
    const row = element.closest("tr");
    const term = element.closest("dd")?.previousElementSibling;
    const label = row ? row.cells[0].textContent : (term?.tagName === "DT" ? term.textContent : "");
    return [label.trim(), element.textContent.trim()];
  }));
}

// The console's session ends when identity's token does, and cannot be lengthened: two minutes before,
// the page says so, and again at one minute and once it has ended, and shows "Log in again" (a new
// session, back on this page). Said through a live region in the page from the start, not before the
// screen reader has taken in a page loaded in those minutes. Read from the clock, every second: a
// timer of minutes would be late after the computer slept, or in a tab the browser slows down.
const SESSION_WARNING_MS = 2 * 60 * 1000;
const SESSION_NOTICE_MS = 1000;

function warnBeforeSessionEnds(notice) {
  const endsAt = Date.now() + Number(notice.dataset.secondsLeft) * 1000;
  const said = notice.querySelector("[aria-live]");
  let shown = null;
  const check = () => {
    const left = endsAt - Date.now();
    const minutes = Math.ceil(left / 60000);
    const text = left <= 0 ? notice.dataset.textEnded
      : (minutes === 1 ? notice.dataset.textEndingOne : notice.dataset.textEnding).replace("{minutes}", minutes);
    if (left <= SESSION_WARNING_MS && text !== shown) {
      shown = text;
      notice.classList.add("notice");
      notice.querySelector("form").hidden = false;
      said.textContent = text;
    }
    if (left > 0) {
      setTimeout(check, 1000);
    }
  };
  setTimeout(check, SESSION_NOTICE_MS);
}

// Back to a page the browser kept: its forms may be sent again.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) {
    document.querySelectorAll("form[data-sent]").forEach((form) => delete form.dataset.sent);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  // After a refused form, start where the first error is: its field, else the message of the form. A
  // button that asks first reloads the page with its question, maybe at its foot: start there. After a
  // form that worked, at the message of what it did: in the page as it loads, a screen reader may not
  // announce it as a live region.
  (document.querySelector("[aria-invalid=true]")
    ?? document.querySelector("[data-error-summary], [data-confirm-prompt]")
    ?? document.querySelector("[data-flash]"))?.focus();
  document.querySelectorAll("[data-password-rules]").forEach(watchPasswordRules);
  document.querySelectorAll("form[data-send-once]").forEach(sendOnce);
  document.querySelectorAll("[data-resend]").forEach(watchResend);
  document.querySelectorAll("[data-live-preview]").forEach(watchIssuePreview);
  document.querySelectorAll("[data-tus-upload]").forEach(watchUpload);
  document.querySelectorAll("[data-refresh-while-processing][id]").forEach(refreshWhileProcessing);
  document.querySelectorAll("[data-session-ends]").forEach(warnBeforeSessionEnds);
});
