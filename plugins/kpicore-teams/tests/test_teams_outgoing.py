"""/kpi on Teams through an outgoing webhook, against a real `kpi serve`: HMAC-verified, the mention
stripped, the answer an Adaptive Card in the response; a wrong key, a repeated Authorization header,
a body over 1 MB and a replayed activity id run nothing; [chat] allow keyed teams:TEAM/CHANNEL, a
refused channel told its ids; /kpi follow not offered."""

from __future__ import annotations

import base64
import json

from teams_kpi import kpi_env
from teams_server import OutgoingClient, card_problems, sign

from tests.test_serve import Serve

KEY = base64.b64encode(b"outgoing-key-do-not-leak-0123456").decode()
TEAM, CHANNEL = "19:team-sales@thread.tacv2", "19:general@thread.tacv2"


def start(tmp_path, demo_database, servers, allow="", write=True):
    if write:
        write_config(tmp_path, demo_database, allow)
    serve = Serve(tmp_path, kpi_env(TEAMS_OUTGOING_KPI=KEY))
    servers.append(serve)
    serve.started()
    return serve, OutgoingClient(f"http://127.0.0.1:{serve.port}/teams/messages", KEY)


def write_config(tmp_path, demo_database, allow):
    (tmp_path / "kpi.toml").write_text(
        f"""state_url = "sqlite:///{tmp_path / "state.db"}"
timezone = "UTC"
[source]
url = "sqlite:///{demo_database}"
[channels.teams.outgoing]
kpi = "${{TEAMS_OUTGOING_KPI}}"
[chat]
{allow}
""",
        encoding="utf-8",
    )


def texts(answer):
    (attachment,) = answer["attachments"]
    assert card_problems(attachment["content"]) == []
    return [block["inlines"][0]["text"] for block in attachment["content"]["body"]]


def test_a_signed_message_is_answered_with_a_card(tmp_path, demo_database, servers):
    serve, client = start(tmp_path, demo_database, servers)
    status, answer = client.send(client.activity("nps 2026-W47"))
    assert status == 200, answer
    lines = texts(answer)
    assert lines[0].startswith("Net Promoter Score") and "2026-W47" in lines[0]
    status, answer = client.send(client.activity("follow nps"))
    assert status == 200 and texts(answer) == [
        "Following metrics is not offered here: this channel cannot post later."
    ]
    status, answer = client.send(client.activity("help"))
    help_text = "\n".join(texts(answer))
    assert status == 200 and "/kpi nps last week" in help_text  # the help itself
    assert "/kpi follow" not in help_text and "Following metrics is not offered here" in help_text
    # a Teams channel sees every answer: the help does not promise a private one
    assert "Everyone in this conversation sees the answer" in help_text and "Only you" not in help_text
    serve.stop(timeout=120)  # the answerer finishes its insight jobs first (statsmodels loads slowly)
    assert KEY not in serve.text()


def test_what_is_not_signed_once_runs_nothing(tmp_path, demo_database, servers):
    serve, client = start(tmp_path, demo_database, servers)
    activity = client.activity("nps 2026-W47")
    body = json.dumps(activity).encode()
    other = base64.b64encode(b"another-key-0123456789abcdef0000").decode()
    assert client.send(activity, key=other)[0] == 401
    assert client.send(activity, headers=[])[0] == 401
    assert client.send(body, headers=[("Authorization", sign(KEY, body))] * 2)[0] == 400
    big = json.dumps({**activity, "pad": "x" * (1024 * 1024)}).encode()
    assert client.send(big)[0] == 413
    assert client.send(activity)[0] == 200
    assert client.send(activity)[0] == 401  # the same activity id again: a replay
    # The 413 is the service's own body limit, in front of every route; the other refusals are the plugin's.
    assert serve.text().count("teams: refused") == 4


def test_permissions_are_keyed_by_team_and_channel_and_a_refusal_shows_the_ids(
    tmp_path, demo_database, servers
):
    allow = f'allow = {{ "teams:{TEAM}/{CHANNEL}" = ["revenue"], "*" = ["nps"] }}'
    _, client = start(tmp_path, demo_database, servers, allow=allow)
    status, answer = client.send(client.activity("revenue 2026-W47"))
    assert status == 200 and texts(answer)[0].startswith("Revenue")
    status, answer = client.send(client.activity("revenue 2026-W47", channel="19:random@thread.tacv2"))
    lines = texts(answer)
    assert status == 200 and not lines[0].startswith("Revenue")
    assert f"teams:{TEAM}/19:random@thread.tacv2" in lines[-1]


def test_a_question_too_slow_for_teams_window_gets_the_too_slow_card_within_it(
    tmp_path, demo_database, servers
):
    """Nothing stored and a source slower than Teams' 5 s: the HTTP response is the "too slow, ask
    again" card, and it arrives inside the window (nothing could be posted later)."""
    import time

    slow = (
        "SELECT * FROM survey_responses WHERE (SELECT count(*) FROM (WITH RECURSIVE c(x) AS "
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500000000) SELECT x FROM c)) > 0"
    )
    write_config(tmp_path, demo_database, "")
    config = (tmp_path / "kpi.toml").read_text()
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "kpi.toml").write_text(
        config.replace(str(tmp_path / "state.db"), str(tmp_path / "slow" / "state.db")).replace(
            "[channels.teams.outgoing]",
            f'timeout = 8\n[entities.survey_responses]\nquery = "{slow}"\n[channels.teams.outgoing]',
        ),
        encoding="utf-8",
    )
    _, slow_client = start(tmp_path / "slow", demo_database, servers, write=False)
    started = time.monotonic()
    status, answer = slow_client.send(slow_client.activity("nps 2026-W47"))
    took = time.monotonic() - started
    lines = texts(answer)
    assert status == 200 and lines[0].startswith("That takes too long to answer here."), lines
    assert "Ask again in a minute" in lines[0]
    assert took < 5.0, took  # inside Teams' window


def test_teams_own_lines_speak_the_language_of_kpi_toml(tmp_path, demo_database, servers):
    write_config(tmp_path, demo_database, 'allow = { "teams:other/place" = ["*"] }')
    config = (tmp_path / "kpi.toml").read_text(encoding="utf-8")
    (tmp_path / "kpi.toml").write_text('locale = "fa_IR"\n' + config, encoding="utf-8")
    _, client = start(tmp_path, demo_database, servers, write=False)
    status, answer = client.send(client.activity("follow nps"))
    (line,) = texts(answer)
    assert status == 200 and "Following" not in line and "دنبال" in line, line
    status, answer = client.send(client.activity("help"))
    help_text = "\n".join(texts(answer))
    assert "Only you" not in help_text and "همهٔ" in help_text, help_text
    status, answer = client.send(client.activity("nps 2026-W47"))  # this channel is not allowed
    lines = texts(answer)
    assert any(f"teams:{TEAM}/{CHANNEL}" in line and "[chat] allow" in line for line in lines), lines
    assert not any("This channel is" in line for line in lines), lines
