"""The compute engine: metrics -> measures -> a few SQL queries per entity -> results.

One module per job: ``planning`` (the metrics, windows and measures asked for), ``sql`` (a measure's
aggregate, the prefilter, segments), ``bucketed`` (GROUP BYs over window buckets), ``queries`` (a plan's
queries and their readers), ``running`` (executing them, an entity at a time when one fails),
``values`` (rows back to metric values), ``assembling`` (comparisons and segments of a result),
``segments`` (breakdowns and their history) and ``engine`` (``compute``, the entry point).
"""

from ..buckets import state_query
from ..metric import as_sql
from .bucketed import BUCKETED_AGGREGATES, NULL_BUCKET, BucketQuery, bucket_queries, bucketable
from .engine import compute
from .planning import COMPARISONS, Plan, plan, select_metrics
from .queries import columns_read, entity_queries, plan_queries, preview_sql
from .running import ANSWERS
from .segments import segment_history
from .sql import measure_query, plain_queries, segment_expression
from .values import NONE_SEGMENT

__all__ = [
    "ANSWERS",
    "BUCKETED_AGGREGATES",
    "COMPARISONS",
    "NONE_SEGMENT",
    "NULL_BUCKET",
    "BucketQuery",
    "Plan",
    "as_sql",
    "bucket_queries",
    "bucketable",
    "columns_read",
    "compute",
    "entity_queries",
    "measure_query",
    "plain_queries",
    "plan",
    "plan_queries",
    "preview_sql",
    "segment_expression",
    "segment_history",
    "select_metrics",
    "state_query",
]
