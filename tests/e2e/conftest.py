"""What both end-to-end journeys share: Debian's Chromium (never a downloaded browser) and screenshots.

Screenshots go to ``test-artifacts/e2e/<size>/``; with ``BENHAN_UPDATE_GUIDE=1`` (``make guide-images``) the
ones of the guide's size are copied to ``docs/guide/img/`` for the user guides."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
GUIDE_IMG = ROOT / "docs" / "guide" / "img"
UPDATE_GUIDE = os.environ.get("BENHAN_UPDATE_GUIDE") == "1"
CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
expect.set_options(timeout=10_000)  # CI machines run other suites at the same time


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian chromium is not installed (make browsers)")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"],
        )
        yield b
        await b.close()


async def screenshot(page: Page, size: str, name: str, *, guide_size: str, full: bool = False) -> None:
    folder = ARTIFACTS / size
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full)
    if size == guide_size and UPDATE_GUIDE:
        GUIDE_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, GUIDE_IMG / f"{name}.png")
