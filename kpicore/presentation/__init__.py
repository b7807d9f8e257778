"""Presentation: numbers, units, dates and periods formatted for a locale (``formatting``), trend charts
(``charts``) and Slack's Block Kit limits and escaping (``blockkit``). Every surface a person reads (digests,
alerts, ``/kpi`` answers, the ``kpi compute`` table, insights) formats through here."""
