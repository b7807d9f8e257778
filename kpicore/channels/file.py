"""The file channel: writes every rendered format of the digest into a folder.

``file:./digests`` writes ``<digest>-<period>.html``, ``.slack.json``, ``.txt`` and ``.md``
(a relative folder resolves against the ``base_dir`` setting — the core passes kpi.toml's
folder — else the working directory). Chart PNGs are written next to the HTML, which refers to
them by ``cid:`` in email; in the file copy the references are rewritten to the PNG files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from kpicore.channels.base import Channel, Delivery, Message
from kpicore.errors import ConfigError, DeliveryError
from kpicore.message import FILE_EXTENSIONS


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", part).strip("._") or "digest"


class FileChannel(Channel):
    """Writes the digest in every format to a folder."""

    scheme = "file"
    description = "write digest files (html, slack.json, txt, md) into a folder"
    formats = ("html", "slack", "text", "md")
    setting_keys = ("base_dir",)

    def settings(self, config) -> dict[str, Any]:
        """Relative folders resolve against kpi.toml's folder."""
        return {"base_dir": str(config.base_dir)}

    def check_target(self, target: str) -> None:
        """A folder must be named."""
        if not target:
            raise ConfigError("destination 'file:' names no folder: write file:./digests")

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Write ``<digest>-<period>.<ext>`` for each format into the folder ``target``."""
        folder = Path(target or ".").expanduser()
        if not folder.is_absolute() and settings.get("base_dir"):
            folder = Path(settings["base_dir"]) / folder
        stem = f"{_safe(message.name)}-{_safe(message.period_label)}"
        written = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for fmt in self.formats:
                rendered = message.rendered(fmt)
                body = rendered.body
                if fmt == "html":
                    for content_id, png in rendered.images.items():
                        image = folder / f"{stem}-{_safe(content_id.split('@')[0])}.png"
                        _write_whole(image, png)
                        body = body.replace(f"cid:{content_id}", image.name)
                path = folder / f"{stem}.{FILE_EXTENSIONS[fmt]}"
                _write_whole(path, body.encode("utf-8"))
                written.append(str(path))
        except OSError as error:
            raise DeliveryError(f"Could not write the digest to file:{target}: {error}") from None
        return Delivery(message_ids=written, detail=f"{len(written)} files in {folder}")


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: into ``<name>.part``, then renamed over it.

    A full disk (or any write error) leaves the previous file, never a truncated digest.
    """
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
    except OSError:
        part.unlink(missing_ok=True)
        raise
