"""``/kpi`` in Slack: the command grammar (a pure function), the answers, and the Bolt app.

``grammar`` turns command text into a typed request, ``answers`` turns a request into a Block Kit
reply, ``app`` wires both into a slack_bolt App, ``http`` mounts it on Starlette, ``socket_mode``
runs it over Slack's Socket Mode, ``manifest`` describes the Slack app.
"""
