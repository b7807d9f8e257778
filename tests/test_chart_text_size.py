"""Chart text measured where a reader sees it: the HTML digest opened in headless Chromium at a phone's
390 px and a desktop's 800 px, photographed, and the height of every chart text's ink counted in the
screenshot's pixels (CSS px at device scale 1). Each text is found from matplotlib's own boxes, scaled
to the width Chromium shows the image at. Also: no chart text runs outside its image."""

from __future__ import annotations

import html
import itertools
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from kpicore import i18n
from kpicore.digest import render
from kpicore.digest.render import standalone_html
from kpicore.presentation.charts import trend_figure
from tests.digest_data import result, sample_results, sample_spec, weekly_trend

#: Chart text at least this tall on the screen, in CSS px (ink of a label: a digit or capital's height).
SMALLEST_TEXT_PX = 11
#: A pixel darker than this is ink (text is #111827 to #6b7280; grid lines and fills are lighter).
INK = 180

#: Headless Chromium makes no window narrower than 500 px: a phone's width is a frame's.
FRAME = '<body style="margin:0"><iframe srcdoc="{page}" style="border:0;width:{width}px;height:{height}px">'
REPORT = """<script>window.addEventListener("load", () => {
  const charts = [...document.images].filter(i => i.currentSrc.startsWith("data:")).map(i => {
    const r = i.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, alt: i.alt, natural: i.naturalWidth};
  });
  const report = {width: innerWidth, height: document.documentElement.scrollHeight, charts};
  parent.document.body.insertAdjacentHTML("beforeend", "<pre id=report>" + JSON.stringify(report) + "</pre>");
});</script></body>"""


def chromium(*args: str) -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "headless Chromium is needed: apt-get install -y chromium fonts-noto-core"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += ["--force-device-scale-factor=1", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def text_boxes(figure):
    """Every drawn text of ``figure`` as (text, rotated, (left, top, right, bottom) in image px)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    texts = [*axes.get_xticklabels(), *axes.get_yticklabels(), *axes.texts, axes.yaxis.label]
    height = figure.bbox.height
    for text in texts:
        if text.get_text() and text.get_visible():
            box = text.get_window_extent(renderer)
            yield (
                text.get_text(),
                text.get_rotation() == 90,
                (box.x0, height - box.y1, box.x1, height - box.y0),
            )


def ink_height(shot: np.ndarray, box, rotated: bool) -> int:
    """Rows (columns for rotated text) of ``shot`` inside ``box`` that hold ink, first to last."""
    left, top, right, bottom = (round(v) for v in box)
    dark = shot[max(top, 0) : bottom + 1, max(left, 0) : right + 1] < INK
    lines = np.flatnonzero(dark.any(axis=0 if rotated else 1))
    return int(lines[-1] - lines[0] + 1) if len(lines) else 0


def measured(tmp_path, locale: str, currency: str, viewport: int) -> list[tuple[str, str, float]]:
    """(metric, text, ink height in CSS px) of every chart text in the digest shown ``viewport`` px wide."""
    results = sample_results()
    rendered = render(
        sample_spec(), results, "html", period_label="2026-W47", locale=locale, currency=currency
    )
    digest = html.escape(standalone_html(rendered).replace("</body>", REPORT))
    page = tmp_path / f"digest-{locale}.html"
    page.write_text(FRAME.format(page=digest, width=viewport, height=20000), encoding="utf-8")
    window = f"--window-size={max(viewport, 500)},900"
    dom = chromium(window, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    report = json.loads(html.unescape(re.search(r'<pre id="report">(.*?)</pre>', dom, re.S).group(1)))
    assert report["width"] == viewport and len(report["charts"]) >= 3, report
    page.write_text(FRAME.format(page=digest, width=viewport, height=report["height"]), encoding="utf-8")
    shot_path = tmp_path / f"shot-{locale}-{viewport}.png"
    window = f"--window-size={max(viewport, 500)},{report['height']}"
    chromium(window, "--virtual-time-budget=5000", f"--screenshot={shot_path}", page.as_uri())
    shot = np.asarray(Image.open(shot_path).convert("L"), dtype=float)
    by_alt = {alt: metric for metric, alt in rendered.chart_alts.items()}
    heights = []
    for chart in report["charts"]:
        metric = by_alt[chart["alt"]]
        the_result = next(r for r in results if r.metric == metric)
        narrow = chart["natural"] < 800  # the phone chart was shown
        with i18n.using(locale):
            figure = trend_figure(the_result, locale=locale, currency=currency, narrow=narrow)
        scale = chart["w"] / chart["natural"]
        for text, rotated, (left, top, right, bottom) in text_boxes(figure):
            on_screen = (
                chart["x"] + left * scale - 1,
                chart["y"] + top * scale - 1,
                chart["x"] + right * scale + 1,
                chart["y"] + bottom * scale + 1,
            )
            heights.append((metric, text, ink_height(shot, on_screen, rotated)))
    return heights


@pytest.mark.parametrize("viewport", [390, 800])
@pytest.mark.parametrize("locale, currency", [("en", "EUR"), ("fa_IR", "IRR")])
def test_chart_text_is_legible_on_a_phone_and_a_desktop(tmp_path, locale, currency, viewport):
    heights = measured(tmp_path, locale, currency, viewport)
    assert all(height > 0 for _, _, height in heights), heights  # every text was found on the screen
    small = [(metric, text, height) for metric, text, height in heights if height < SMALLEST_TEXT_PX]
    assert not small, f"chart text under {SMALLEST_TEXT_PX} px at {viewport} px: {small}"


def turnover(values):
    return result(
        "table_turnover_time", "Table turnover", "minutes", "lower", values[-1], values[-2], 300,
        trend=weekly_trend(values),
    )  # fmt: skip


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize(
    "values",
    [
        [98.1, 101.5, 99.0, 103.2, 104.0, 102.2, 99.7, 100.3, 103.9, 101.1, 104.4, 105.2],
        [98.1, 101.5, 99.0, 103.2, 104.0, 1105.2],
        [1.0, 2.0],
    ],
)
def test_every_chart_text_lies_inside_the_image(values, narrow):
    """The current value's label (``105.2 min``) ends inside the image, however long it is."""
    figure = trend_figure(turnover(values), narrow=narrow)
    width, height = figure.bbox.width, figure.bbox.height
    boxes = list(text_boxes(figure))
    assert any(text.endswith("min") for text, _, _ in boxes)
    for text, _, (left, top, right, bottom) in boxes:
        assert left >= 0 and top >= 0 and right <= width and bottom <= height, (text, (left, right), width)
    # and no two of them touch (a long value label leaves less room for the period labels)
    for (a, _, box_a), (b, _, box_b) in itertools.combinations(boxes, 2):
        apart = box_a[2] <= box_b[0] or box_b[2] <= box_a[0] or box_a[3] <= box_b[1] or box_b[3] <= box_a[1]
        assert apart, (a, b, box_a, box_b)
