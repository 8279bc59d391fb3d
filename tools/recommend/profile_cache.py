"""Interest profiles kept in the store under a key that names the profile's version and the user's history version.

A profile is rebuilt only when the user's history or feedback changed, or when :data:`PROFILE_CACHE_KEY` moves on
(a change to what a profile holds); a summarizer words a new profile in the background, and the template shows
until its words are saved under the same key.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from whyrec.store.database import Database, Feedback
from whyrec.store.records import Interaction
from whyrec.tools.recommend.profile import InterestProfile, InterestProfiler
from whyrec.tools.recommend.profile_summary import BackgroundSummaries

PROFILE_CACHE_KEY = "profile-v5"  # v2: a like given today no longer ages an old history; v3: summaries name titles as people say them; v4: interests carry themes from item keywords; v5: no two interests of a profile are named by the same categories (older ones are rebuilt)


def cached_profile(
    db: Database,
    profiler: InterestProfiler,
    summaries: BackgroundSummaries | None,
    user_id: str,
    history: list[Interaction],
    feedback: list[Feedback],
    vectors: dict[str, np.ndarray],
    vocabulary: CatalogVocabulary,
) -> InterestProfile:
    """The user's profile from the store's cache, or built now and saved (and sent to ``summaries`` to be worded).
    ``vocabulary`` is the catalog's: its items build the profile, and the summary's check reads its title index."""
    key = f"{PROFILE_CACHE_KEY}:{db.history_version(user_id)}"
    cached = db.cached_profile(user_id, key)
    if cached is not None:
        return InterestProfile.from_cache(cached)
    profile = profiler.profile(user_id, history, feedback, vectors, vocabulary.items)
    db.save_profile(user_id, key, asdict(profile))
    if summaries is not None:  # worded in the background; the template shows until it is saved under this key
        summaries.submit(user_id, key, profile, vocabulary)
    return profile
