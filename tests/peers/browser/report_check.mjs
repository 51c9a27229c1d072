#!/usr/bin/env node
// Browser peer for veil's tests: renders the self-contained HTML report veil writes in Debian's
// chromium, headless, driven by playwright-core (pinned in package.json), and describes what the
// browser saw.
//
//   node report_check.mjs REPORT.html [SCREENSHOT.png]
//
// stdout: one JSON document
//   {"title",
//    "images": [{"kind" (data-kind or null), "alt", "complete", "naturalWidth", "naturalHeight",
//                "src_scheme" ("data", "file", "http", …; "" without a src)}],
//    "rows": [{"uid" (data-uid or null), "hotkey" (data-hotkey or null), "cells": [trimmed text]}]
//            (the <tr> of `table#summary tbody`),
//    "console": [console messages of type error or warning],
//    "page_errors": [uncaught exceptions],
//    "requests": [every requested URL that is not a data: URL, the report's own file: URL first]}
// With SCREENSHOT, a full-page PNG screenshot is saved there.
//
// The browser is $VEIL_CHROMIUM (default /usr/bin/chromium) with a fresh, empty profile. It never
// reaches the network: requests to http(s) are recorded, then aborted (so they fail in the page,
// and chromium logs an error on the console). On failure (bad arguments, launch failure, more than
// 60 s in all, 30 s of it to launch) the exit code is 1 and stderr holds one line. The browser is
// always closed.

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const USAGE = "usage: report_check.mjs REPORT.html [SCREENSHOT.png]";
const LIMIT_MS = 60_000;
// Below LIMIT_MS, so a browser that never comes up is cleaned up by playwright (its profile and
// artifacts directories removed) rather than abandoned at the overall time-out.
const LAUNCH_MS = 30_000;
const CLOSE_MS = 10_000;
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let browser = null;

// playwright's errors span many lines: keep the first and what the browser itself said (its
// "Browser logs", without the launch command line), drop the "Call log" and colour codes.
function oneLine(error) {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\x1b\[[0-9;]*m/g, "");
  const [head, ...rest] = text.split("\n");
  const callLog = rest.indexOf("Call log:");
  const logs = (callLog < 0 ? rest : rest.slice(0, callLog)).filter(
    (line) => !/^(Browser logs:|<launching>|<launched>)/.test(line.trim()),
  );
  const line = [head, ...logs].join(" ").replace(/\s+/g, " ").trim();
  return line.length > 2000 ? `${line.slice(0, 2000)}…` : line;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms).unref());

// What the page holds once loaded; runs inside the page.
function describePage() {
  const scheme = (src) => {
    try {
      return src ? new URL(src).protocol.replace(/:$/, "") : "";
    } catch {
      return "";
    }
  };
  return {
    title: document.title,
    images: Array.from(document.images, (img) => ({
      kind: img.dataset.kind || null,
      alt: img.alt,
      complete: img.complete,
      naturalWidth: img.naturalWidth,
      naturalHeight: img.naturalHeight,
      src_scheme: scheme(img.currentSrc || img.src),
    })),
    rows: Array.from(document.querySelectorAll("table#summary tbody tr"), (tr) => ({
      uid: tr.dataset.uid ?? null,
      hotkey: tr.dataset.hotkey ?? null,
      cells: Array.from(tr.cells, (cell) => cell.textContent.trim()),
    })),
  };
}

async function run(argv) {
  if (argv.length < 1 || argv.length > 2 || argv.some((a) => a.startsWith("-"))) {
    throw new Error(USAGE);
  }
  const report = resolve(argv[0]);
  const screenshot = argv[1] === undefined ? null : resolve(argv[1]);
  let isFile = false;
  try {
    isFile = statSync(report).isFile();
  } catch (e) {
    throw new Error(`cannot read ${report}: ${oneLine(e)}`);
  }
  if (!isFile) throw new Error(`${report} is not a file`);

  const executablePath = process.env.VEIL_CHROMIUM || "/usr/bin/chromium";
  try {
    browser = await chromium.launch({ executablePath, headless: true, args: ARGS, timeout: LAUNCH_MS });
  } catch (e) {
    throw new Error(`cannot launch ${executablePath}: ${oneLine(e)}`);
  }
  const context = await browser.newContext({ serviceWorkers: "block" });
  const page = await context.newPage();

  const consoleMessages = [];
  const pageErrors = [];
  const requests = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") consoleMessages.push(msg.text());
  });
  page.on("pageerror", (error) => pageErrors.push(oneLine(error)));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith("data:")) requests.push(url);
  });
  await context.route(
    (url) => url.protocol === "http:" || url.protocol === "https:",
    (route) => route.abort("blockedbyclient"),
  );

  await page.goto(pathToFileURL(report).href, { waitUntil: "load", timeout: LIMIT_MS });
  const seen = await page.evaluate(describePage);
  if (screenshot !== null) await page.screenshot({ path: screenshot, fullPage: true });
  return { ...seen, console: consoleMessages, page_errors: pageErrors, requests };
}

let timer;
const timeout = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new Error(`gave up after ${LIMIT_MS / 1000} s`)), LIMIT_MS);
});
try {
  const result = await Promise.race([run(process.argv.slice(2)), timeout]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = 0;
} catch (e) {
  process.stderr.write(`report_check: ${oneLine(e)}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  if (browser !== null) await Promise.race([browser.close().catch(() => {}), sleep(CLOSE_MS)]);
}
// A launch still under way at the time-out leaves work pending: exit now (playwright-core kills
// the browsers it launched when the process exits).
process.exit(process.exitCode);
