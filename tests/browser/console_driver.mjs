// Drives the console page in Debian's Chromium with playwright-core (both from outside the repo: npm
// installs playwright-core into the gitignored .node/, apt installs chromium), the way a user would:
//   node console_driver.mjs '<json config>'
// config: {url, scenario, chromium, key, shots (a directory), mic (a WAV played as the microphone), ...}.
// Prints one line "RESULT <json>" with what the page showed; the Python test asserts on it. Every wait is
// bounded; on a failure it saves a screenshot and exits 1 with the reason.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const config = JSON.parse(process.argv[2]);
const SECOND = 1000;

const args = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--autoplay-policy=no-user-gesture-required",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
];
if (config.mic) args.push(`--use-file-for-fake-audio-capture=${config.mic}`);

const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args, timeout: 60 * SECOND });
const context = await browser.newContext({ viewport: { width: 1400, height: 1200 } });
const page = await context.newPage();
page.setDefaultTimeout(30 * SECOND);
const consoleErrors = [];
page.on("pageerror", (err) => consoleErrors.push(String(err)));
page.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));

async function shot(name) {
  const path = `${config.shots}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}

const text = (selector) => page.locator(selector).innerText();

// The page with this tab's API key already stored, as after typing it into the key field once.
async function open({ withKey = true } = {}) {
  if (withKey && config.key) {
    await page.addInitScript((key) => sessionStorage.setItem("rtgateway.apiKey", key), config.key);
  }
  await page.goto(`${config.url}/console`, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready=true]");
}

async function connected() {
  await page.waitForSelector('#state-redact[data-state="connected"]', { timeout: 30 * SECOND });
  await page.waitForSelector('#state-ask[data-state="connected"]', { timeout: 30 * SECOND });
}

const scenarios = {
  async redact() {
    await open();
    await connected();
    const servedBy = await text("#served-by");
    await page.locator("#redact-input").focus();
    // Typed key by key, as a user would: each word is redacted as it is typed.
    await page.keyboard.type(config.text, { delay: 15 });
    await page.waitForFunction(() => document.querySelector("#redact-output").textContent.includes("[NAME_1]"));
    await page.waitForFunction(
      (n) => document.querySelectorAll("#redact-highlight mark").length >= n,
      config.entities,
    );
    const marker = await text("#redact-output");
    const marks = await page.$$eval("#redact-highlight mark", (all) =>
      all.map((m) => ({ label: m.dataset.label, score: Number(m.dataset.score), text: m.firstChild.textContent })),
    );
    const markerShot = await shot("redact-marker");
    // The toggles work from the keyboard: the arrow key moves the style from markers to MASK...
    await page.locator('input[name="style"][value="MARKER"]').focus();
    await page.keyboard.press("ArrowRight");
    await page.waitForFunction(() => !document.querySelector("#redact-output").textContent.includes("[NAME_1]"));
    const masked = await text("#redact-output");
    await page.keyboard.press("ArrowLeft");
    // ...and the space bar unticks an entity type: names are no longer redacted.
    await page.locator('#redact-types input[value="names"]').focus();
    await page.keyboard.press("Space");
    await page.waitForFunction(() => {
      const out = document.querySelector("#redact-output").textContent;
      return out.includes("[") && !out.includes("NAME_");
    });
    const withoutNames = await text("#redact-output");
    const status = await waitForFigures("redaction");
    // Every control has a name a screen reader can say.
    const unlabelled = await page.$$eval("input, textarea, button, select, audio, canvas", (all) =>
      all
        .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.textContent.trim()))
        .map((el) => el.outerHTML),
    );
    return {
      servedBy,
      marker,
      marks,
      masked,
      withoutNames,
      status,
      unlabelled,
      shots: [markerShot, await shot("redact-toggles")],
    };
  },

  async transcribe() {
    await open();
    await page.locator("#scrubaudio").check();
    await page.locator("#mic").click();
    await page.waitForSelector('#state-transcribe[data-state="streaming"]');
    await page.waitForFunction(
      (word) => document.querySelector("#utterances").textContent.toLowerCase().includes(word),
      config.word,
      { timeout: 120 * SECOND, polling: 250 },
    );
    const live = await page.$$eval("#utterances li", (all) => all.map((li) => li.textContent));
    await page.locator("#mic").click(); // stop: the end marker, then the transcript
    await page.waitForSelector("#transcribe-info[data-complete=true]", { timeout: 90 * SECOND });
    await page.waitForSelector("#scrubbed-wrap:not([hidden])");
    const scrubbedSeconds = await page.$eval("#scrubbed", (audio) =>
      audio.readyState >= 1
        ? audio.duration
        : new Promise((resolve) => (audio.onloadedmetadata = () => resolve(audio.duration))),
    );
    return {
      live,
      info: await text("#transcribe-info"),
      utterances: await page.$$eval("#utterances li", (all) => all.map((li) => li.textContent)),
      scrubbedSeconds,
      error: await text("#transcribe-error"),
      shots: [await shot("transcribe")],
    };
  },

  async voice() {
    await open();
    await page.locator("#enrol-file").setInputFiles(config.enrol);
    await page.waitForSelector("#enrol-info[data-enrolled=true]", { timeout: 60 * SECOND });
    await page.locator("#verify").click();
    // High then low: the microphone plays the enrolled speaker, then another one (and loops).
    await page.waitForFunction(
      ([highest, lowest]) => {
        const p = [...document.querySelectorAll("#verify-results li")].map((li) => Number(li.dataset.probability));
        const high = p.findIndex((x) => x >= highest);
        return high >= 0 && p.slice(high + 1).some((x) => x <= lowest);
      },
      [config.high, config.low],
      { timeout: 120 * SECOND, polling: 250 },
    );
    const probabilities = await page.$$eval("#verify-results li", (all) => all.map((li) => Number(li.dataset.probability)));
    const strip = await page.$eval("#vad-strip", (c) => ({
      speech: Number(c.dataset.speechFrames || 0),
      silence: Number(c.dataset.silenceFrames || 0),
    }));
    const verdict = await text("#verdict");
    const shots = [await shot("voice")];
    await page.locator("#verify").click();
    await page.waitForSelector('#state-voice[data-state="idle"]');
    return { probabilities, strip, verdict, error: await text("#voice-error"), shots };
  },

  async ask() {
    await open();
    await connected();
    const answers = [];
    for (const question of config.questions) {
      const before = await page.locator("#chat .answer").count();
      await page.locator("#question").fill(question);
      await page.locator("#question").press("Enter");
      const answer = page.locator("#chat .answer").nth(before);
      // Streamed: part of the answer is on the page before it is complete.
      await page.waitForFunction(
        (i) => {
          const a = document.querySelectorAll("#chat .answer")[i];
          return a && (Number(a.querySelector(".body").dataset.tokens || 0) >= 3 || a.dataset.done === "true");
        },
        before,
        { timeout: 60 * SECOND, polling: 50 },
      );
      const partial = await answer.evaluate((a) => ({
        done: a.dataset.done === "true",
        text: a.querySelector(".body").textContent,
      }));
      await page.waitForFunction((i) => document.querySelectorAll("#chat .answer")[i].dataset.done === "true", before, {
        timeout: 90 * SECOND,
      });
      // Read at once (a locator would wait for a missing source or error to appear).
      const shown = await answer.evaluate((a) => {
        const link = a.querySelector(".source a");
        return {
          text: a.querySelector(".body").innerText,
          tokens: Number(a.querySelector(".body").dataset.tokens || 0),
          source: link ? { href: link.href, text: link.textContent } : null,
          error: a.querySelector(".error")?.textContent || "",
        };
      });
      answers.push({ partial, ...shown, conversation: await text("#conversation") });
    }
    return { answers, shots: [await shot("ask")] };
  },

  async bad_input() {
    await open({ withKey: false });
    // A wrong key typed into the key field: the gateway's refusal is shown where the work happens.
    await page.locator("#api-key").fill("not-the-key");
    await page.locator("#api-key").press("Enter");
    await page.waitForSelector('#state-redact[data-state="refused"]', { timeout: 30 * SECOND });
    const redactRefused = await text("#redact-error");
    await page.waitForSelector('#state-ask[data-state="connected"]');
    await page.locator("#question").fill("How much is the Fibre 500 plan?");
    await page.locator("#question").press("Enter");
    await page.waitForSelector("#chat .answer[data-done=true]", { timeout: 60 * SECOND });
    const askRefused = await text("#chat .answer .error");
    await page.waitForFunction(() => document.querySelector("#status-error").textContent.length > 0);
    const figuresRefused = await text("#status-error");
    await page.locator("#enrol-file").setInputFiles({ name: "a.wav", mimeType: "audio/wav", buffer: Buffer.alloc(0) });
    await page.waitForFunction(() => document.querySelector("#voice-error").textContent.length > 0);
    const enrolRefused = await text("#voice-error");
    const refusedShot = await shot("bad-key");
    // The right key: everything works again, and a bad WAV gets the server's own message.
    await page.locator("#api-key").fill(config.key);
    await page.locator("#api-key").press("Enter");
    await page.waitForSelector('#state-redact[data-state="connected"]', { timeout: 30 * SECOND });
    const notWav = Buffer.from("this is a text file, not a WAV file at all ".repeat(20));
    await page.locator("#transcribe-file").setInputFiles({ name: "notes.wav", mimeType: "audio/wav", buffer: notWav });
    await page.waitForFunction(() => document.querySelector("#transcribe-error").textContent.length > 0, null, {
      timeout: 60 * SECOND,
    });
    const badWav = await text("#transcribe-error");
    await page.locator("#enrol-file").setInputFiles({ name: "notes.wav", mimeType: "audio/wav", buffer: notWav });
    await page.waitForFunction(() => document.querySelector("#voice-error").textContent.length > 0, null, {
      timeout: 60 * SECOND,
    });
    const badEnrolWav = await text("#voice-error");
    return {
      redactRefused,
      askRefused,
      figuresRefused,
      enrolRefused,
      badWav,
      badEnrolWav,
      transcribeButtonsUsable: await page.locator("#mic").isEnabled(),
      shots: [refusedShot, await shot("bad-wav")],
    };
  },

  async reconnect() {
    await open();
    await connected();
    await redactOnce("Call Maria Garcia tomorrow.", "[NAME_1]");
    // The test stops the gateway holding this page's /ws now; it says so on stdin when it has.
    console.log("READY");
    await nextLine();
    await page.waitForFunction(() => document.querySelector("#events").textContent.includes("Redact: connection lost"), null, {
      timeout: 60 * SECOND,
    });
    const lost = await page.$$eval("#events li", (all) => all.map((li) => li.textContent));
    await page.waitForFunction(() => document.querySelector("#events").textContent.includes("Redact: reconnected"), null, {
      timeout: 60 * SECOND,
    });
    await page.waitForSelector('#state-redact[data-state="connected"]');
    await page.locator("#redact-input").fill("");
    await redactOnce("Then email anna.berg@example.com please.", "[EMAIL_ADDRESS_1]");
    await page.waitForSelector('#state-ask[data-state="connected"]', { timeout: 60 * SECOND });
    return {
      lost,
      events: await page.$$eval("#events li", (all) => all.map((li) => li.textContent)),
      output: await text("#redact-output"),
      servedBy: await text("#served-by"),
      shots: [await shot("reconnected")],
    };
  },
};

async function redactOnce(sentence, expected) {
  await page.locator("#redact-input").fill(sentence);
  await page.waitForFunction((e) => document.querySelector("#redact-output").textContent.includes(e), expected);
}

// The status strip's figures: a capability's rate above zero once two polls of one gateway saw it used.
async function waitForFigures(capability) {
  await page.waitForFunction(
    (c) => Number(document.querySelector(`#figures tr[data-capability="${c}"]`)?.dataset.rate || 0) > 0,
    capability,
    { timeout: 40 * SECOND },
  );
  return {
    from: await text("#figures-from"),
    row: await page.locator(`#figures tr[data-capability="${capability}"]`).innerText(),
  };
}

const lines = createInterface({ input: process.stdin });
const pendingLines = [];
const waiting = [];
lines.on("line", (line) => (waiting.length ? waiting.shift()(line) : pendingLines.push(line)));
function nextLine() {
  return pendingLines.length ? Promise.resolve(pendingLines.shift()) : new Promise((resolve) => waiting.push(resolve));
}

let code = 0;
try {
  const result = await scenarios[config.scenario]();
  result.consoleErrors = consoleErrors;
  console.log(`RESULT ${JSON.stringify(result)}`);
} catch (err) {
  code = 1;
  const failed = await shot(`${config.scenario}-failed`).catch(() => "(no screenshot)");
  const events = await page.$$eval("#events li", (all) => all.map((li) => li.textContent)).catch(() => []);
  console.error(`${config.scenario} failed: ${err.message}\nscreenshot: ${failed}\nevents: ${events.join(" | ")}`);
  console.error(`page errors: ${consoleErrors.join(" | ")}`);
} finally {
  lines.close();
  await browser.close();
}
process.exit(code);
