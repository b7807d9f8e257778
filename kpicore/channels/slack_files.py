"""Slack file uploads in their three steps, and the clean-up of a chart shared twice in a thread.

:func:`upload_files` does what slack_sdk's ``files_upload_v2`` does — files.getUploadURLExternal per
file, the bytes POSTed to its upload URL, then one files.completeUploadExternal that shares them — but
calls ``before_share`` between the upload and the share: a delivery proves its claim there, so a sender
paused past its lease during the upload never shares its files (they stay private and it deletes them).
The client's retry handlers and timeout apply as they do to ``files_upload_v2``.

:func:`remove_second_charts` is the holder's side: a file shared in the thread of a delivery's first
part, under the title of one of its charts, is that chart; a second copy there is deleted (files.delete).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("kpicore.delivery")


def upload_files(
    client,
    uploads: list[dict[str, Any]],
    *,
    channel_id: str,
    thread_ts: str | None = None,
    before_share: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Upload ``uploads`` (each ``content`` bytes, ``filename``, ``title``, optional ``alt_txt``) and
    share them in ``channel_id`` (in the thread of ``thread_ts``); the files Slack answers with.

    ``before_share`` runs after every upload and before the share; when it raises, the uploaded files
    are deleted (they were never shared) and the error goes on."""
    from slack_sdk.errors import SlackRequestError

    staged: list[dict[str, Any]] = []
    for upload in uploads:
        data: bytes = upload["content"]
        answer = client.files_getUploadURLExternal(
            filename=upload["filename"], length=len(data), alt_txt=upload.get("alt_txt")
        )
        staged.append({"id": answer["file_id"], "title": upload["title"]})
        # The SDK's own step 2 of files_upload_v2: one POST, the client's timeout, proxy and TLS context.
        result = client._upload_file(
            url=answer["upload_url"],
            data=data,
            logger=client._logger,
            timeout=client.timeout,
            proxy=client.proxy,
            ssl=client.ssl,
        )
        if result.status != 200:
            raise SlackRequestError(
                f"Failed to upload {upload['filename']!r} (HTTP {result.status}, body: {result.body})"
            )
    if before_share is not None:
        try:
            before_share()
        except BaseException:
            delete_files(client, (item["id"] for item in staged))
            raise
    response = client.files_completeUploadExternal(files=staged, channel_id=channel_id, thread_ts=thread_ts)
    return list(response.get("files") or [])


def delete_files(client, file_ids: Iterable[str]) -> int:
    """files.delete each file, ignoring the ones already gone; how many were deleted."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    deleted = 0
    for file_id in file_ids:
        try:
            client.files_delete(file=file_id)
            deleted += 1
        except SlackApiError as error:
            if error.response.get("error") not in ("file_not_found", "file_deleted"):
                log.warning("slack: could not delete file %s: %s", file_id, error.response.get("error"))
        except (SlackClientError, OSError) as error:
            log.warning("slack: could not delete file %s: %s", file_id, type(error).__name__)
    return deleted


def files_in_thread(client, channel_id: str, thread_ts: str) -> dict[str, list[str]]:
    """Title -> the ids of the files shared in a thread under that title, oldest first."""
    present: dict[str, list[str]] = {}
    cursor = None
    while True:
        response = client.conversations_replies(channel=channel_id, ts=thread_ts, limit=200, cursor=cursor)
        for item in response.get("messages") or []:
            for shared in item.get("files") or []:
                ids = present.setdefault(shared.get("title") or "", [])
                if shared.get("id") not in ids:  # a share repeated (a retried completion) is one copy
                    ids.append(shared.get("id"))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return present


def charts_in_thread(client, channel_id: str, thread_ts: str) -> dict[str, str]:
    """Title -> file id of the files already shared in a thread (the charts of an interrupted send;
    the oldest copy when a chart is there twice)."""
    return {title: ids[0] for title, ids in files_in_thread(client, channel_id, thread_ts).items()}


def remove_second_charts(
    client, channel_id: str, thread_ts: str, titles: Iterable[str], kept: Iterable[str]
) -> int:
    """Delete every second copy of a chart in the thread of ``thread_ts``: for each of ``titles`` shared
    more than once, every copy but the one in ``kept`` (file ids; the oldest when none is). Returns how
    many were deleted."""
    wanted, kept = set(titles), set(kept)
    second: list[str] = []
    for title, ids in files_in_thread(client, channel_id, thread_ts).items():
        if title in wanted and len(ids) > 1:
            keep = next((i for i in ids if i in kept), ids[0])
            second.extend(i for i in ids if i != keep)
    removed = delete_files(client, second)
    if removed:
        log.warning(
            "slack: removed %d second cop%s of a chart in thread %s",
            removed,
            "y" if removed == 1 else "ies",
            thread_ts,
        )
    return removed
