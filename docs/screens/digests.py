"""Screenshots of the demo digest's HTML email in every language kpicore speaks, at a desktop mail
client's width (800 px) and a phone's (390 px), photographed with headless Chromium.

For each locale, `kpi demo --locale LOCALE` (a real process) writes the demo database, its kpi.toml and
the weekly digest of last week in an empty folder; its `digest.html` is photographed, the empty page
below it cut off, and the PNG reduced to 256 colours so the files stay small:

    .venv/bin/python docs/screens/digests.py          # writes docs/screens/digest-LOCALE-{800,390}.png
    .venv/bin/python docs/screens/digests.py fa_IR    # one language only

The demo's data ends with the week before the day it is run, so the figures change with the date.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCALES = ("en", "ml_IN", "bn_BD", "fa_IR", "ig_NG")
WIDTHS = (800, 390)
KPI = str(Path(sys.executable).with_name("kpi"))
#: The page's grey background below the digest: rows of only this colour are cut off.
BACKGROUND = (243, 244, 246)


def photograph(page: Path, width: int, out: Path) -> None:
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={out}", f"--window-size={width},4000", page.as_uri()],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    trimmed(out)


def trimmed(path: Path) -> None:
    """Cut the background rows off the bottom (16 px kept) and store the PNG with a 256-colour palette."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    pixels = image.load()
    bottom = image.height
    while bottom > 1 and all(pixels[x, bottom - 1] == BACKGROUND for x in range(0, image.width, 7)):
        bottom -= 1
    image = image.crop((0, 0, image.width, min(image.height, bottom + 16)))
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(locales: tuple[str, ...]) -> None:
    for locale in locales:
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([KPI, "demo", "--locale", locale], cwd=folder, check=True, capture_output=True)
            for width in WIDTHS:
                out = HERE / f"digest-{locale}-{width}.png"
                photograph(Path(folder) / "digest.html", width, out)
                print(f"wrote {out.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or LOCALES)
