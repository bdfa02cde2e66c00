// What a headless Chromium shows of a page: `node look.mjs URL [WAIT_FOR_TEXT] [TIMEOUT_MS]`
// prints one JSON object: the page's visible text, its drawn SVG charts (those with a non-empty
// box and at least one mark) and the errors its scripts raised. Used by tests/browser_kit.py.
import chromium from "@sparticuz/chromium";
import puppeteer from "puppeteer-core";

const [url, waitFor = "", timeout = "30000"] = process.argv.slice(2);
const browser = await puppeteer.launch({
  args: chromium.args,
  executablePath: await chromium.executablePath(),
  headless: true,
  pipe: true, // DevTools over a pipe: works where the network, loopback included, is off
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error.message || error)));
  await page.goto(url, { waitUntil: "load", timeout: Number(timeout) });
  if (waitFor) {
    await page
      .waitForFunction((text) => document.body && document.body.innerText.includes(text), {
        timeout: Number(timeout),
      }, waitFor)
      .catch(() => {});
  }
  const facts = await page.evaluate(() => ({
    title: document.title,
    text: document.body ? document.body.innerText : "",
    charts: [...document.querySelectorAll("svg")].filter((svg) => {
      const box = svg.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && svg.querySelector("path, rect, line") !== null;
    }).length,
    url: location.href,
  }));
  console.log(JSON.stringify({ ...facts, errors }));
} finally {
  await browser.close();
}
