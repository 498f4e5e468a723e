"""The sandbox network: a deterministic simulated social world with ground truth.

Pure numpy, no database and no network. Everything is a function of ``(seed, WorldConfig)``::

    from dialogo.simulation import World, WorldConfig

    world = World(WorldConfig(seed=7, population=20_000))
    for event in world.events(world.config.start, world.config.end):  # 90 days of history
        ...
    truth = world.ground_truth()

See :mod:`dialogo.simulation.world` for how a provider uses a world, and
:mod:`dialogo.simulation.whatif` for campaign forecasts.
"""

from dialogo.simulation.cascade import Cascade, independent_cascade, reachable, spread
from dialogo.simulation.clock import HourMapper, SimClock
from dialogo.simulation.config import (
    DEFAULT_BRANDS,
    DEFAULT_SEGMENTS,
    BehaviourConfig,
    BrandSpec,
    SegmentSpec,
    WorldConfig,
)
from dialogo.simulation.conversation import FollowUpBehaviour, follow_up_behaviour
from dialogo.simulation.engagement import (
    PostMetricsSnapshot,
    PostOutcome,
    PostSpec,
    Targeting,
)
from dialogo.simulation.events import (
    BrandPost,
    BrandReply,
    Engagement,
    Event,
    Follow,
    Message,
    Purchase,
    event_from_dict,
    event_to_dict,
)
from dialogo.simulation.graph import (
    DiGraph,
    degree_summary,
    load_edge_list,
    weighted_cascade,
)
from dialogo.simulation.taxonomy import AGE_BANDS, INTENTS, SENTIMENTS, TOPICS
from dialogo.simulation.text import detect_topic, guess_language
from dialogo.simulation.truth import ground_truth, message_truth
from dialogo.simulation.whatif import Campaign, Forecast, Interval, PlannedPost, forecast, realise
from dialogo.simulation.world import MAX_LAG_DAYS, World, build_world

__all__ = [
    "AGE_BANDS",
    "DEFAULT_BRANDS",
    "DEFAULT_SEGMENTS",
    "INTENTS",
    "MAX_LAG_DAYS",
    "SENTIMENTS",
    "TOPICS",
    "BehaviourConfig",
    "BrandPost",
    "BrandReply",
    "BrandSpec",
    "Campaign",
    "Cascade",
    "DiGraph",
    "Engagement",
    "Event",
    "Follow",
    "FollowUpBehaviour",
    "Forecast",
    "HourMapper",
    "Interval",
    "Message",
    "PlannedPost",
    "PostMetricsSnapshot",
    "PostOutcome",
    "PostSpec",
    "Purchase",
    "SegmentSpec",
    "SimClock",
    "Targeting",
    "World",
    "WorldConfig",
    "build_world",
    "degree_summary",
    "detect_topic",
    "event_from_dict",
    "event_to_dict",
    "follow_up_behaviour",
    "forecast",
    "ground_truth",
    "guess_language",
    "independent_cascade",
    "load_edge_list",
    "message_truth",
    "reachable",
    "realise",
    "spread",
    "weighted_cascade",
]
