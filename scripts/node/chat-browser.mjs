// The chat's browser test: two pages, each on its own server instance, talk to each other.
//
//   node scripts/node/chat-browser.mjs <baseUrlA> <baseUrlB> <screenshot.png>
//
// Page A logs in to instance A as ada, page B to instance B as admin; both instances share
// Redis, so what reaches B has crossed from one instance to the other. A types (B must show
// "ada is typing"), A sends a message (B must show it), B answers (A must show it) and A's own
// message must have been acknowledged. Then page A is screenshotted. Last, A loses a message
// frame, as Redis pub/sub may, and must fill the gap in the ids from the history.
//
// Prints one line of JSON on success and exits 0; on failure says which step failed and what
// the pages showed, on stderr, and exits 1. Uses the system's Chromium through playwright-core,
// which never downloads a browser.

import { chromium } from "playwright-core";

const OVERALL_MS = 60_000;
const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const [argA, argB, screenshot] = process.argv.slice(2);
if (!argA || !argB || !screenshot) {
  console.error("usage: node scripts/node/chat-browser.mjs <baseUrlA> <baseUrlB> <screenshot.png>");
  process.exit(2);
}
const [baseA, baseB] = [argA, argB].map((base) => base.replace(/\/+$/, ""));

// What the test is doing now, for the failure message.
let step = "launching Chromium";
const pages = [];

// Open <base>/chat in a browser context of its own (its own sessionStorage, as if in another
// browser), log in and wait until the client is connected and has joined #general.
async function openChat(browser, name, base, username, password) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  pages.push({ name, page });
  page.on("console", (message) => {
    // The browser asks for /favicon.ico by itself; the server has none, which is not a failure.
    if (message.type() !== "error" || message.location().url.endsWith("/favicon.ico")) return;
    console.error(`[${name}] console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => console.error(`[${name}] page error: ${error.message}`));

  step = `${name}: opening ${base}/chat`;
  const response = await page.goto(`${base}/chat`);
  if (!response?.ok()) throw new Error(`GET /chat answered ${response?.status()}`);

  step = `${name}: logging in as ${username}`;
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("#login");

  step = `${name}: waiting for "connected as ${username}"`;
  await page.locator("#status", { hasText: `connected as ${username}` }).waitFor({ timeout: 10_000 });
  // The client marks the list once the server has confirmed the join; before that, B would miss
  // A's typing frame, which is sent to the room's members only.
  step = `${name}: waiting to have joined #general`;
  await page.locator('#messages[data-joined="general"]').waitFor({ state: "attached", timeout: 10_000 });
  await page.locator('#rooms button[data-room="general"][aria-current="true"]').waitFor({ timeout: 1_000 });
  return page;
}

// Resolves with the milliseconds it took for `locator` to appear.
async function timeUntil(locator, timeout) {
  const start = Date.now();
  await locator.waitFor({ timeout });
  return Date.now() - start;
}

async function run(browser) {
  const a = await openChat(browser, "A", baseA, "ada", "correct-horse-ada");
  const b = await openChat(browser, "B", baseB, "admin", "correct-horse-admin");
  const n = Date.now();
  const fromA = `hello from A ${n}`;
  const fromB = `hello from B ${n}`;

  // Type for about 3 s: the client sends a typing frame at the first key and again 2 s later, so
  // one frame lost while the instances set up their subscriptions does not fail the test.
  step = 'B: waiting for "ada is typing" while A types';
  const [typingMs] = await Promise.all([
    timeUntil(b.locator("#typing", { hasText: "ada" }), 5_000),
    a.locator("#body").pressSequentially(fromA, { delay: 120 }),
  ]);

  step = "B: waiting for A's message";
  await a.press("#body", "Enter");
  const aToB = await timeUntil(b.locator("#messages li", { hasText: fromA }), 10_000);

  step = "A: waiting for the ack of its own message";
  await a.locator("#messages li[data-id]:not(.pending)", { hasText: fromA }).waitFor({ timeout: 10_000 });
  const stillPending = await a.locator("#messages li.pending", { hasText: fromA }).count();
  if (stillPending) throw new Error("A's message is both acknowledged and pending");

  step = "A: waiting for B's message";
  await b.fill("#body", fromB);
  await b.click("#send");
  const bToA = await timeUntil(a.locator("#messages li", { hasText: fromB }), 10_000);

  // Each message once on each page: the client skips ids it already shows.
  step = "checking that no message is shown twice";
  for (const [name, page] of [["A", a], ["B", b]]) {
    for (const text of [fromA, fromB]) {
      const count = await page.locator("#messages li", { hasText: text }).count();
      if (count !== 1) throw new Error(`${name} shows "${text}" ${count} times`);
    }
  }
  const author = await b.locator("#messages li", { hasText: fromA }).getAttribute("data-user");
  if (author !== "ada") throw new Error(`B shows A's message as written by ${author}`);

  step = `A: screenshot to ${screenshot}`;
  await a.screenshot({ path: screenshot });

  // Page A drops the next message frame its socket brings, as if Redis had lost it between the
  // instances. The message after it leaves a gap in the ids, which A must fill from the history.
  step = "A: filling the gap a lost message leaves";
  await a.evaluate(() => {
    const deliver = onFrame; // the client's handler of every frame (a global of chat.js)
    let dropped = false;
    onFrame = (data) => {
      if (!dropped && JSON.parse(data).type === "message") dropped = true;
      else deliver(data);
    };
  });
  const lost = `lost on the way ${n}`;
  const after = `after the lost one ${n}`;
  for (const text of [lost, after]) {
    await b.fill("#body", text);
    await b.click("#send");
    await b.locator("#messages li[data-id]:not(.pending)", { hasText: text }).waitFor({ timeout: 10_000 });
  }
  const gapMs = await timeUntil(a.locator("#messages li", { hasText: lost }), 10_000);
  const shown = await a.locator("#messages li[data-id]").allInnerTexts();
  const [lostAt, afterAt] = [lost, after].map((text) => shown.findIndex((line) => line.includes(text)));
  if (!(lostAt >= 0 && lostAt < afterAt)) throw new Error(`A shows the two out of order: ${lostAt}, ${afterAt}`);
  return { ok: true, typing_ms: typingMs, a_to_b_ms: aToB, b_to_a_ms: bToA, gap_filled_ms: gapMs };
}

function withTimeout(ms, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// What each page showed, so that a failure can be understood without rerunning.
async function describePages() {
  const lines = [];
  for (const { name, page } of pages) {
    try {
      const seen = await withTimeout(3_000, page.evaluate(() => ({
        url: location.href,
        status: document.querySelector("#status")?.textContent ?? "(no #status)",
        loginError: document.querySelector("#login-error")?.textContent ?? "",
        typing: document.querySelector("#typing")?.textContent ?? "",
        messages: [...document.querySelectorAll("#messages li")].slice(-5).map((li) =>
          `${li.className ? `[${li.className}] ` : ""}${li.innerText.replace(/\s+/g, " ").trim()}`),
      })));
      lines.push(`[${name}] ${seen.url}`, `[${name}]   status: ${seen.status}`);
      if (seen.loginError) lines.push(`[${name}]   login error: ${seen.loginError}`);
      if (seen.typing) lines.push(`[${name}]   typing: ${seen.typing}`);
      lines.push(`[${name}]   last messages:${seen.messages.length ? "" : " (none)"}`);
      for (const message of seen.messages) lines.push(`[${name}]     ${message}`);
    } catch (error) {
      lines.push(`[${name}] could not read the page: ${error.message}`);
    }
  }
  return lines.join("\n");
}

let browser;
let overall;
let exitCode = 1;
try {
  const timeout = new Promise((_, reject) => {
    overall = setTimeout(() => reject(new Error(`gave up after ${OVERALL_MS / 1000} s`)), OVERALL_MS);
  });
  const test = (async () => {
    // The system's Chromium: playwright-core brings no browser and is never told to fetch one.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: LAUNCH_ARGS,
    });
    return run(browser);
  })();
  test.catch(() => {}); // if the timeout wins, the test's own failure comes later: ignore it
  const summary = await Promise.race([test, timeout]);
  console.log(JSON.stringify(summary));
  exitCode = 0;
} catch (error) {
  console.error(`chat browser test failed at step: ${step}`);
  // Playwright's messages end with a call log of what it was waiting for: keep its start.
  const message = error.message.replace(/\x1b\[[0-9;]*m/g, ""); // without the terminal colours
  console.error(message.split("\n").slice(0, 12).map((line) => `  ${line}`).join("\n"));
  console.error(await describePages());
} finally {
  clearTimeout(overall);
  await browser?.close().catch(() => {});
}
process.exit(exitCode);
