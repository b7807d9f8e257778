"""`kpi serve`: the scheduler, the HTTP app (health, metrics), structured logs and a clean shutdown."""
