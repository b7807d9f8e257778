"""Screenshots of what the Telegram and Teams channels deliver, in every language kpicore speaks.

For each locale, `kpi digest send` (a real process, on the demo data) delivers one digest to the
loopback Bot API and the loopback Workflows webhook of the plugins' tests; what arrived is drawn the
way each client shows it (Telegram's HTML subset in a Telegram-like chat bubble; the Adaptive Card by
a renderer of the elements kpicore uses: RichTextBlock/TextRun weights, sizes and subtle text,
Container separators, the card's rtl) and photographed with headless Chromium:

    .venv/bin/python docs/screens/capture.py          # writes docs/screens/{telegram,teams}-LOCALE.png
    .venv/bin/python docs/screens/capture.py fa_IR    # one language only
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT / "plugins/kpicore-telegram/tests"), str(ROOT / "plugins/kpicore-teams/tests")]

from teams_server import WorkflowsServer  # noqa: E402
from telegram_server import TOKEN, TelegramServer  # noqa: E402

LOCALES = ("en", "fa_IR", "bn", "ml", "ig")
KPI = str(Path(sys.executable).with_name("kpi"))
CHAT = -1001000000001
FONT = "'Noto Sans', 'Lohit Bengali', 'Lohit Malayalam', 'Vazirmatn', 'Noto Naskh Arabic', sans-serif"

TELEGRAM_PAGE = """<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #9bb6cf; font: 15px/1.38 {font}; }}
.top {{ background: #517da2; color: #fff; padding: 10px 16px; font-weight: 600; }}
.chat {{ padding: 12px 16px; display: flex; flex-direction: column; gap: 8px; width: 460px; }}
.bubble {{ background: #fff; border-radius: 12px 12px 12px 4px; padding: 7px 10px; white-space: pre-wrap;
  box-shadow: 0 1px 1px rgba(0,0,0,.15); unicode-bidi: plaintext; }}
.photo img {{ width: 100%; border-radius: 8px; display: block; }} .photo .caption {{ padding-top: 4px; }}
.album {{ display: grid; grid-template-columns: 1fr 1fr; gap: 2px; }}
</style><div class="top">Sales · KPI bot</div><div class="chat">{bubbles}</div>"""

CARD_PAGE = """<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #f5f5f5; font: 14px/1.43 'Segoe UI', {font}; color: #242424; }}
.post {{ margin: 16px; width: 560px; background: #fff; border-radius: 6px; padding: 12px 16px;
  box-shadow: 0 1px 2px rgba(0,0,0,.12); }}
.who {{ font-weight: 600; margin-bottom: 8px; }} .who span {{ color: #616161; font-weight: 400; }}
.card {{ border: 1px solid #e0e0e0; border-radius: 4px; padding: 12px; }}
.rich {{ margin-top: 4px; white-space: pre-wrap; }} .sep {{ border-top: 1px solid #e0e0e0; margin-top: 10px; padding-top: 8px; }}
.Bolder {{ font-weight: 600; }} .Medium {{ font-size: 17px; }} .subtle {{ color: #616161; }}
</style>{posts}"""


def kpi_toml(folder: Path, demo_db: Path, locale: str, telegram, flow_url: str) -> None:
    (folder / "kpi.toml").write_text(
        f"""state_url = "sqlite:///{folder / "state.db"}"
timezone = "UTC"
locale = "{locale}"
[source]
url = "sqlite:///{demo_db}"
[channels.telegram]
api_base = "{telegram.api_base}"
[channels.teams.webhooks]
sales = "${{TEAMS_WEBHOOK_SALES}}"
[digests.weekly]
title = "Weekly KPIs"
metrics = ["revenue", "nps", "churn_rate"]
period = "2026-W47"
trend = 8
breakdowns = {{ revenue = "region" }}
destinations = ["telegram:{CHAT}", "teams:sales"]
""",
        encoding="utf-8",
    )


def telegram_page(messages, photos) -> str:
    bubbles, album = [], []
    for message in messages:
        if "html" in message:
            bubbles.append(f'<div class="bubble">{message["html"]}</div>')
        else:
            png = base64.b64encode(photos[message["photo"][0]["file_id"]]).decode()
            album.append(f'<div class="photo"><img src="data:image/png;base64,{png}"></div>')
    if album:
        caption = html.escape(next(m for m in messages if "photo" in m)["caption"])
        bubbles.append(
            f'<div class="bubble"><div class="album">{"".join(album)}</div><div class="caption">{caption}</div></div>'
        )
    return TELEGRAM_PAGE.format(font=FONT, bubbles="".join(bubbles))


def card_html(element: dict) -> str:
    kind = element["type"]
    if kind == "RichTextBlock":
        runs = []
        for run in element["inlines"]:
            classes = " ".join(
                filter(None, [run.get("weight"), run.get("size"), "subtle" if run.get("isSubtle") else ""])
            )
            runs.append(f'<span class="{classes}">{html.escape(run["text"])}</span>')
        return f'<div class="rich">{"".join(runs)}</div>'
    if kind == "Image":  # a chart at its [serve] public_url link
        return f'<img src="{html.escape(element["url"])}" alt="{html.escape(element.get("altText", ""))}" style="width:100%">'
    if kind == "Container":
        inner = "".join(card_html(item) for item in element["items"])
        return f'<div class="{"sep" if element.get("separator") else ""}">{inner}</div>'
    raise ValueError(f"no renderer for {kind}")


def teams_page(posts) -> str:
    rendered = []
    for post in posts:
        content = post["card"]
        direction = "rtl" if content.get("rtl") else "ltr"
        body = "".join(card_html(element) for element in content["body"])
        rendered.append(
            f'<div class="post"><div class="who">Workflows <span>via Flow bot</span></div>'
            f'<div class="card" dir="{direction}">{body}</div></div>'
        )
    return CARD_PAGE.format(font=FONT, posts="".join(rendered))


def screenshot(page: str, png: Path, height: int, width: int = 600) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False, encoding="utf-8") as handle:
        handle.write(page)
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", f"--window-size={width},{height}", f"file://{handle.name}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    os.unlink(handle.name)


def main() -> None:
    from kpicore.demo_data import generate_demo_database

    work = Path(tempfile.mkdtemp(prefix="kpi-screens-"))
    demo_db = work / "demo.db"
    generate_demo_database(demo_db, today=dt.date(2026, 11, 25))
    for locale in sys.argv[1:] or LOCALES:
        with TelegramServer() as telegram, WorkflowsServer() as workflows:
            folder = work / locale
            folder.mkdir()
            url = workflows.fake.add_flow("Sales")
            kpi_toml(folder, demo_db, locale, telegram, url)
            env = {
                **os.environ,
                "KPI_LOAD_PLUGINS": "telegram,teams",
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TEAMS_WEBHOOK_SALES": url,
            }
            result = subprocess.run(
                [KPI, "digest", "send", "weekly"], cwd=folder, env=env, capture_output=True, text=True
            )
            if result.returncode:
                raise SystemExit(result.stdout + result.stderr)
            assert not workflows.fake.failed_runs, workflows.fake.failed_runs
            screenshot(
                telegram_page(telegram.fake.messages, telegram.fake.photos),
                HERE / f"telegram-{locale}.png",
                1500,
            )
            screenshot(
                teams_page(workflows.fake.channel_posts), HERE / f"teams-{locale}.png", 1100, width=640
            )
            (HERE / f"teams-{locale}.json").write_text(
                json.dumps(workflows.fake.channel_posts[0]["card"], ensure_ascii=False, indent=1) + "\n"
            )
            print(
                f"{locale}: {len(telegram.fake.messages)} Telegram message(s), {len(workflows.fake.channel_posts)} card(s)"
            )


if __name__ == "__main__":
    main()
