"""A reviewer uses the review console in a real browser (Debian's chromium, driven by
Playwright; no browser is downloaded) while an agent (the official MCP Python client) calls
tools through the gateway. Prints one JSON object with what it saw; integration/console/browser.rs
checks it. Usage:

  console_check.py ADMIN_URL PROXY_URL TOKEN OUT_DIR CHROMIUM RUN_ID

Every step waits for what a person would wait for (a card to appear, a state to change),
with generous limits; nothing is timed. Screenshots of each page go to OUT_DIR.
"""

import asyncio
import json
import sys
import tempfile
import urllib.request

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError
from playwright.async_api import async_playwright, expect

ADMIN, PROXY, TOKEN, OUT, CHROMIUM, RUN = sys.argv[1:7]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT = 30_000  # ms: the longest any one step may take
expect.set_options(timeout=WAIT)
SCRIPT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'

report = {"screenshots": [], "console_errors": []}


async def agent_call(tool, args, run=RUN):
    """One MCP session through the gateway, one tool call in `run`; what the agent got."""
    async with streamablehttp_client(PROXY, headers={"x-sec0-run-id": run}, timeout=120) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            try:
                r = await session.call_tool(tool, args)
                return {"ok": True, "text": r.content[0].text if r.content else None, "is_error": r.isError}
            except McpError as e:
                return {"ok": False, "code": e.error.code, "message": e.error.message, "data": e.error.data}


def admin_answer(escalation_id, verb, reviewer):
    """Another reviewer answers through the admin API (elsewhere, as far as the page knows)."""
    req = urllib.request.Request(
        f"{ADMIN}/v1/escalations/{escalation_id}/{verb}", method="POST",
        data=json.dumps({"reviewer": reviewer}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def admin_get(path):
    req = urllib.request.Request(f"{ADMIN}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


async def shot(page, name, full_page=True):
    path = f"{OUT}/{name}.png"
    await page.screenshot(path=path, full_page=full_page)
    report["screenshots"].append(path)


def card(page, tool):
    """The newest card for `tool` still waiting for an answer."""
    return page.locator("#pending-list article.esc:not(.decided)", has=page.locator("h2", has_text=tool)).first


async def measure(page):
    return await page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        const paint = performance.getEntriesByName('first-contentful-paint')[0];
        const ready = performance.getEntriesByName('console-ready')[0];
        return {
            transferred_bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
            decoded_bytes: nav.decodedBodySize + res.reduce((a, r) => a + r.decodedBodySize, 0),
            requests: 1 + res.length,
            resources: res.map((r) => [new URL(r.name).pathname, r.transferSize]),
            first_contentful_paint_ms: paint ? paint.startTime : null,
            dom_content_loaded_ms: nav.domContentLoadedEventEnd,
            ready_ms: ready ? ready.startTime : null,
        };
    }""")


async def main():
    async with async_playwright() as pw:
        ctx = await pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="sec0-console-profile-"), executable_path=CHROMIUM,
            headless=True, args=FLAGS, viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        page.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text
                and report["console_errors"].append(m.text))
        page.on("pageerror", lambda e: report["console_errors"].append(str(e)))
        cdp = await ctx.new_cdp_session(page)
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

        # A wrong token is refused.
        await page.goto(f"{ADMIN}/console")
        await expect(page.locator("#login")).to_be_visible(timeout=WAIT)
        report["first_load"] = await measure(page)
        await page.fill("#login-token", "a-wrong-token-of-some-length")
        await page.fill("#login-reviewer", "console-test")
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#login-error")).to_contain_text("refused this token (401)", timeout=WAIT)
        report["wrong_token_refused"] = True
        await shot(page, "01-sign-in-refused")

        # The right one opens the console; loaded again, it is measured with its data.
        await page.fill("#login-token", TOKEN)
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#page-pending")).to_be_visible(timeout=WAIT)
        await page.reload()
        await expect(page.locator("#page-pending")).to_be_visible(timeout=WAIT)
        await page.wait_for_function("performance.getEntriesByName('console-ready').length > 0", timeout=WAIT)
        report["signed_in_load"] = await measure(page)

        # A held call appears without a reload; approved by keyboard, the agent gets its result.
        approved = asyncio.create_task(agent_call("add", {"a": 2, "b": 40}))
        await expect(card(page, "add")).to_be_visible(timeout=WAIT)
        a = page.locator(f'article.esc[data-id="{await card(page, "add").get_attribute("data-id")}"]')
        await expect(a).to_contain_text("agent_to_tool", timeout=WAIT)
        await expect(a).to_contain_text(RUN)
        await expect(a).to_contain_text("needs_review")
        await expect(a.locator(".left")).to_contain_text("left")
        await expect(a.locator("pre.args")).to_contain_text('"b": 40')
        report["pending_card"] = await a.inner_text()
        await shot(page, "02-pending")
        await page.keyboard.press("a")
        report["approved_call"] = await asyncio.wait_for(approved, 60)
        await expect(a.locator(".outcome")).to_contain_text("You approved it", timeout=WAIT)

        # Rejected with a comment: the agent gets its rejection error; the markup stays text.
        rejected = asyncio.create_task(agent_call("send_note", {"text": SCRIPT}))
        await expect(card(page, "send_note")).to_be_visible(timeout=WAIT)
        b = page.locator(f'article.esc[data-id="{await card(page, "send_note").get_attribute("data-id")}"]')
        await expect(b.locator("pre.args")).to_contain_text("<script>window.__pwned=1</script>")
        report["script_shown_as_text"] = json.dumps(SCRIPT) in await b.locator("pre.args").inner_text()
        report["script_ran"] = await page.evaluate("window.__pwned !== undefined")
        report["img_elements_in_card"] = await b.locator("img").count()
        await b.locator("textarea").fill("not from an agent")
        await shot(page, "03-script-as-text")
        await b.locator("button.reject").click()
        report["rejected_call"] = await asyncio.wait_for(rejected, 60)
        await expect(b.locator(".outcome")).to_contain_text("You rejected it", timeout=WAIT)

        # Answered elsewhere: shown at once.
        elsewhere = asyncio.create_task(agent_call("add", {"a": 7, "b": 7}))
        c = card(page, "add")
        await expect(c).to_be_visible(timeout=WAIT)
        cid = await c.get_attribute("data-id")
        report["other_reviewer_status"] = await asyncio.to_thread(admin_answer, cid, "approve", "other-reviewer")
        c = page.locator(f'article.esc[data-id="{cid}"]')
        await expect(c.locator(".outcome")).to_contain_text("Answered elsewhere: approved by other-reviewer", timeout=WAIT)
        report["elsewhere_call"] = await asyncio.wait_for(elsewhere, 60)

        # The same call again, in a fresh run (the first run has a refusal now, which is part
        # of what a precedent covers): the approval made a precedent, and every decision it
        # makes is spot-checked here (rate 1): shown as a spot check, approved by a click.
        for _ in range(100):
            if admin_get("/v1/precedents")["precedents"]:
                break
            await asyncio.sleep(0.1)
        spot = asyncio.create_task(agent_call("add", {"a": 2, "b": 40}, run=f"{RUN}-b"))
        await expect(card(page, "add")).to_be_visible(timeout=WAIT)
        sc = page.locator(f'article.esc[data-id="{await card(page, "add").get_attribute("data-id")}"]')
        await expect(sc.locator(".badge.spot")).to_be_visible()
        await expect(sc.locator(".note.spot")).to_contain_text("Spot check of learned precedent precedent-")
        report["spot_check_text"] = await sc.locator(".note.spot").inner_text()
        await shot(page, "04-spot-check")
        await sc.locator("button.approve").click()
        report["spot_checked_call"] = await asyncio.wait_for(spot, 60)

        # A deferred escalation nobody answers expires, and says so.
        report["deferred_call"] = await agent_call("contact", {})
        await expect(card(page, "contact")).to_be_visible(timeout=WAIT)
        d = page.locator(f'article.esc[data-id="{await card(page, "contact").get_attribute("data-id")}"]')
        await expect(d.locator(".badge.expired")).to_be_visible(timeout=60_000)
        await expect(d.locator(".outcome")).to_contain_text("Nobody answered in time", timeout=WAIT)
        await shot(page, "05-answered-elsewhere-and-expired")

        # A denial, for the charts and the audit link.
        report["denied_call"] = await agent_call("add", {"a": 13, "b": 1})

        # Precedents: the approval taught one; the rules file downloads; revoke it.
        await page.keyboard.press("3")
        rows = page.locator("#precedents-body tbody tr")
        await expect(rows.first).to_be_visible(timeout=WAIT)
        report["precedents_before"] = await rows.count()
        report["precedent_row"] = await rows.first.inner_text()
        await shot(page, "06-precedents")
        async with page.expect_download(timeout=WAIT) as dl:
            await page.click("text=Download as rules")
        report["export"] = open(await (await dl.value).path(), encoding="utf-8").read()
        first_id = (await rows.first.locator("td").first.inner_text()).strip()
        report["revoked_id"] = first_id
        button = rows.first.locator("button.reject")
        await button.click()
        await expect(button).to_have_text("Confirm revoke")
        await button.click()
        await expect(page.locator("#banners")).to_contain_text(f"Revoked {first_id}", timeout=WAIT)
        await expect(page.locator("#precedents-body")).not_to_contain_text(first_id, timeout=WAIT)
        report["precedents_after"] = [p["id"] for p in admin_get("/v1/precedents")["precedents"]]

        # Decisions: the charts count the calls just made.
        await page.keyboard.press("4")
        fig = page.locator("#decisions-body figure[data-totals]")
        await expect(fig).to_be_visible(timeout=WAIT)
        await expect(fig.locator("canvas").first).to_be_visible(timeout=WAIT)
        report["chart_totals"] = json.loads(await fig.get_attribute("data-totals"))
        report["decisions_text"] = await page.locator("#decisions-body").inner_text()
        await shot(page, "07-decisions")
        report["after_charts_load"] = await measure(page)

        # The denial's audit record, one click away.
        await page.locator("#decisions-body tbody tr", has_text="unlucky_number").first.locator("a").click()
        await expect(page.locator("#audit-body")).to_contain_text("unlucky_number", timeout=WAIT)
        report["audit_text"] = await page.locator("#audit-body").inner_text()
        await shot(page, "08-audit-record")

        # History, filtered by tool.
        await page.keyboard.press("2")
        await expect(page.locator("#history-body tbody tr").first).to_be_visible(timeout=WAIT)
        report["history_text"] = await page.locator("#history-body").inner_text()
        await page.fill("#history-body input[name=tool]", "send_note")
        await page.click("#history-body button[type=submit]")
        await expect(page.locator("#history-body tbody tr")).to_have_count(1, timeout=WAIT)
        report["history_filtered"] = await page.locator("#history-body tbody").inner_text()
        await shot(page, "09-history")

        # Runs: the hops of the agent's run.
        await page.keyboard.press("5")
        await page.fill("#run-id", RUN)
        await page.keyboard.press("Enter")
        await expect(page.locator("#runs-body tbody tr").first).to_be_visible(timeout=WAIT)
        report["run_rows"] = await page.locator("#runs-body tbody tr").count()
        report["run_text"] = await page.locator("#runs-body").inner_text()
        await shot(page, "10-run")

        # A small screen, by keyboard only: a held call is approved with one key.
        await page.set_viewport_size({"width": 375, "height": 800})
        await page.keyboard.press("Escape")
        await page.keyboard.press("1")
        small = asyncio.create_task(agent_call("add", {"a": 300, "b": 4000}))
        s = card(page, "add")
        await expect(s).to_be_visible(timeout=WAIT)
        report["small_screen_overflow"] = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        await shot(page, "11-small-screen", full_page=False)
        await page.keyboard.press("a")
        report["small_screen_call"] = await asyncio.wait_for(small, 60)
        await ctx.close()
    with open(f"{OUT}/report.json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report), flush=True)


asyncio.run(main())
