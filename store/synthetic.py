"""A synthetic catalog and interaction log of any size, for measuring whyrec past one small catalog.

MovieLens-100K has 1,682 items; the questions that only show at 100k items (which collaborative
model fits in memory, what an ingest costs, how a ranking's latency grows) need a log that size.
This one is drawn from a latent-factor model with the properties that matter to the recommender:

* **Taste**: 18 genres (MovieLens's names) each have a direction in a latent space; an item's vector
  is the mean of its genres' plus noise, a user's the mean of one or two favourite genres' plus noise.
  A user picks among candidates by ``exp(affinity * user . item)``, so histories carry a collaborative
  signal, and item texts (title, year, genres, description) carry the same genres, so content
  retrieval and the embedding model have something true to find.
* **Popularity skew**: each item has a Zipf-like base popularity ``rank ** -popularity_skew``.
* **Time**: 30 % of items are an older back catalog, the rest are released during the log; an item
  draws most of its attention in the weeks after release (``freshness_days``), so what is popular
  lately differs from what is popular ever, and a split at a point in time is meaningful. Users are
  active over windows (an exponential length), never before an item's release.

Candidates for each interaction are drawn by popularity x freshness among the items already
released, and one is kept by a Gumbel-max over affinities: one vectorised pass per week of the log,
so 5M interactions take seconds of numpy (building the Python records takes most of the time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from whyrec.store.records import Dataset, Interaction, Item

DAY = 86400.0

GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
"""MovieLens's genre names, so request understanding's vocabulary ("something scary") applies unchanged."""

GENRE_SHARE = np.array([8, 6, 2, 3, 12, 4, 2, 16, 2, 1, 4, 2, 3, 7, 4, 8, 2, 2], dtype=np.float64)
"""How often each genre is an item's first: drama and comedy common, film-noir rare (roughly MovieLens)."""

# (adjectives, nouns, what the story is about) per genre: the words the embedding model reads
GENRE_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Action": (("Iron", "Rapid", "Final", "Burning"), ("Strike", "Fury", "Mission", "Target"), ("a soldier on a rescue mission", "car chases and explosions", "a bodyguard against an army")),
    "Adventure": (("Lost", "Wild", "Golden", "Distant"), ("Expedition", "Island", "Treasure", "Journey"), ("explorers searching for a lost city", "a voyage across uncharted seas", "a quest through the jungle")),
    "Animation": (("Little", "Magic", "Bright", "Tiny"), ("Toys", "Dragon", "Forest", "Robot"), ("animated animals on a big adventure", "a cartoon world of talking toys", "a hand-drawn fairy tale")),
    "Children's": (("Happy", "Friendly", "Silly", "Brave"), ("Puppy", "Friends", "Summer", "Kids"), ("children and their dog", "a family holiday for young viewers", "a school trip that goes wrong")),
    "Comedy": (("Crazy", "Funny", "Awkward", "Lucky"), ("Weekend", "Neighbours", "Wedding", "Roommates"), ("a hilarious mix-up", "friends pulling pranks", "a clumsy man with a big plan")),
    "Crime": (("Dirty", "Cold", "Silent", "Crooked"), ("Heist", "Money", "Streets", "Deal"), ("gangsters planning a robbery", "a detective chasing a con artist", "a mob family's war")),
    "Documentary": (("True", "Hidden", "Real", "Inside"), ("Story", "Lives", "Planet", "Record"), ("interviews with real people", "a film about wildlife and nature", "the history of an invention")),
    "Drama": (("Quiet", "Broken", "Long", "Second"), ("Years", "Promise", "Family", "Letters"), ("a family torn apart by grief", "a teacher who changes a life", "a long road to forgiveness")),
    "Fantasy": (("Enchanted", "Ancient", "Shadow", "Crystal"), ("Kingdom", "Sword", "Wizard", "Realm"), ("a wizard and a cursed kingdom", "elves and dragons at war", "a magic sword and a chosen hero")),
    "Film-Noir": (("Dark", "Deadly", "Midnight", "Smoky"), ("Alley", "Dame", "Alibi", "City"), ("a private eye and a femme fatale", "murder in a rain-soaked city", "a double cross at midnight")),
    "Horror": (("Haunted", "Bloody", "Cursed", "Evil"), ("House", "Night", "Ghost", "Woods"), ("a ghost haunting a family", "a killer stalking teenagers", "a demon in an old house")),
    "Musical": (("Singing", "Dancing", "Golden", "Starlit"), ("Stage", "Melody", "Broadway", "Ballroom"), ("singers chasing fame on Broadway", "a dance contest set to music", "songs and a love affair on stage")),
    "Mystery": (("Secret", "Missing", "Strange", "Locked"), ("Clue", "Room", "Case", "Puzzle"), ("a detective solving a locked-room murder", "a missing heiress and a riddle", "clues hidden in an old mansion")),
    "Romance": (("Sweet", "Endless", "First", "Tender"), ("Kiss", "Love", "Heart", "Summer"), ("two strangers falling in love", "a love affair in Paris", "a wedding that almost never happens")),
    "Sci-Fi": (("Cosmic", "Stellar", "Quantum", "Alien"), ("Planet", "Galaxy", "Starship", "Future"), ("astronauts on a distant planet", "robots and time travel", "first contact with an alien race")),
    "Thriller": (("Deadly", "Fatal", "Hidden", "Last"), ("Conspiracy", "Hostage", "Pursuit", "Witness"), ("a spy racing to stop a bomb", "a witness hunted by killers", "a conspiracy at the highest level")),
    "War": (("Fallen", "Brave", "Bloody", "Last"), ("Battalion", "Front", "Battle", "Soldiers"), ("soldiers fighting on the front line", "a platoon behind enemy lines", "the last days of a great war")),
    "Western": (("Dusty", "Lonesome", "Wild", "Outlaw"), ("Ranch", "Frontier", "Gunfighter", "Canyon"), ("a cowboy and a gunfight at noon", "outlaws riding across the frontier", "a sheriff defending a small town")),
}

LOG_START = datetime(2015, 1, 1, tzinfo=UTC).timestamp()
"""Day 0 of every synthetic log: a fixed date, so the same seed gives the same timestamps."""


@dataclass(frozen=True)
class SyntheticLog:
    """The knobs of :func:`synthetic_dataset`, kept together so a benchmark can write them down."""

    items: int = 20_000
    interactions: int = 1_000_000
    users: int | None = None  # None: one user per 50 interactions
    seed: int = 0
    factors: int = 16
    genre_taste: float = 3.0  # how strongly a user's taste picks the genre of their next item
    affinity: float = 4.0  # how strongly taste beats popularity among the candidates of that genre
    candidates: int = 5  # candidates per interaction, drawn by popularity x freshness, of which taste keeps one
    popularity_skew: float = 1.0  # Zipf exponent of the items' base popularity
    span_days: int = 730
    back_catalog: float = 0.3  # share of items released before the log starts
    novelty: float = 100.0  # a just-released item draws this many times its base popularity on top of it
    freshness_days: float = 45.0  # how fast that extra attention fades
    mean_activity_days: float = 180.0  # mean length of a user's active window
    ratings: bool = True  # 1-5 ratings that follow affinity, or unrated (implicit) events

    @property
    def user_count(self) -> int:
        return self.users if self.users is not None else max(1, self.interactions // 50)


def synthetic_dataset(log: SyntheticLog | None = None, **changes) -> Dataset:
    """A seeded catalog and log: ``synthetic_dataset(items=300, interactions=20_000, seed=1)``.

    Exactly ``log.items`` items and ``log.interactions`` interactions (each user meets an item
    at most once), time-ordered; item metadata holds its release time.
    """
    log = SyntheticLog(**changes) if log is None else log
    if log.items < 1 or log.interactions < 1 or log.user_count < 1:
        raise ValueError(f"need at least one item, interaction and user, got {log.items}, {log.interactions}, {log.user_count}")
    if log.interactions > log.items * log.user_count // 2:
        raise ValueError(
            f"{log.interactions} interactions from {log.user_count} users over {log.items} items is more than half of all "
            "user-item pairs — ask for fewer interactions, or more users or items"
        )
    rng = np.random.default_rng(log.seed)
    world = _World(rng, log)
    users, items, seconds, affinities = world.draw(rng)
    order = np.argsort(seconds, kind="stable")
    users, items, seconds, affinities = users[order], items[order], seconds[order], affinities[order]
    stamps = (LOG_START + seconds).astype(np.float64).tolist()
    if log.ratings:
        z = (affinities - affinities.mean()) / (affinities.std() or 1.0)
        ratings = np.clip(np.round(3.3 + 1.1 * z + rng.normal(0, 0.7, len(z))), 1, 5).tolist()
    else:
        ratings = [None] * len(stamps)

    user_ids = [f"u{n}" for n in range(log.user_count)]
    item_ids = [f"i{n}" for n in range(log.items)]
    bits = rng.integers(0, 1 << 30, log.items).tolist()
    catalog = [_item(item_ids[n], world.genres[n], float(world.released[n]), bits[n]) for n in range(log.items)]
    event = "rating" if log.ratings else "interaction"  # as store.files names an unrated event
    interactions = list(
        map(Interaction, map(user_ids.__getitem__, users.tolist()), map(item_ids.__getitem__, items.tolist()), stamps, ratings, [event] * len(stamps))
    )
    return Dataset(name=f"synthetic-{log.items}x{log.interactions}-seed{log.seed}", items=catalog, interactions=interactions)


class _World:
    """The latent model behind one log: genres, item and user vectors, releases, popularity, activity windows."""

    def __init__(self, rng: np.random.Generator, log: SyntheticLog):
        self.log = log
        share = GENRE_SHARE / GENRE_SHARE.sum()
        noise = 0.5 / np.sqrt(log.factors)
        self.centroids = rng.normal(size=(len(GENRES), log.factors)) / np.sqrt(log.factors)

        # items: one to three genres (the first by genre share), vector = mean of theirs + noise
        first = rng.choice(len(GENRES), size=log.items, p=share)
        extra = rng.integers(0, len(GENRES), size=(log.items, 2))
        count = rng.choice(3, size=log.items, p=[0.5, 0.35, 0.15])
        self.genres = [tuple(dict.fromkeys([f, *e[:c]])) for f, e, c in zip(first.tolist(), extra.tolist(), count.tolist(), strict=True)]
        member = np.zeros((log.items, len(GENRES)))
        for n, g in enumerate(self.genres):
            member[n, list(g)] = 1.0 / len(g)
        self.item_vectors = (member @ self.centroids + rng.normal(0, noise, (log.items, log.factors))).astype(np.float32)
        self.by_genre = np.argsort(first, kind="stable")  # items grouped by first genre, for drawing within a genre
        self.genre_start = np.searchsorted(first[self.by_genre], np.arange(len(GENRES) + 1))
        self.released = np.where(
            rng.random(log.items) < log.back_catalog,
            -rng.uniform(1, 40 * 365, log.items),  # back catalog: up to 40 years old
            rng.uniform(0, log.span_days, log.items),
        )
        self.released[np.argmin(self.released)] = min(float(self.released.min()), 0.0)  # something is out on day 0
        self.popularity = rng.permutation(np.arange(1, log.items + 1, dtype=np.float64) ** -log.popularity_skew)

        # users: one or two favourite genres, an active window, an activity weight
        n = log.user_count
        favourite = rng.choice(len(GENRES), size=(n, 2), p=share)
        second = np.where(rng.random(n) < 0.5, favourite[:, 1], favourite[:, 0])
        self.user_vectors = ((self.centroids[favourite[:, 0]] + self.centroids[second]) / 2 + rng.normal(0, noise, (n, log.factors))).astype(np.float32)
        taste = np.log(share) + log.genre_taste * (self.user_vectors @ self.centroids.T)
        taste = np.exp(taste - taste.max(axis=1, keepdims=True))
        self.genre_taste = taste / taste.sum(axis=1, keepdims=True)  # each user's chance of each genre
        self.window_start = rng.uniform(-log.mean_activity_days / 2, log.span_days, n).clip(0, log.span_days - 1)
        self.window_end = np.minimum(self.window_start + 7 + rng.exponential(log.mean_activity_days, n), log.span_days)
        activity = rng.lognormal(0.0, 1.0, n)
        self.activity = activity / activity.sum()

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(user, item, second of the log, affinity) of exactly ``log.interactions`` distinct user-item pairs."""
        wanted = self.log.interactions
        users, items, seconds = (np.zeros(0, dtype=np.int64) for _ in range(3))
        affinities = np.zeros(0, dtype=np.float32)
        kept = 0.72  # the share of a round's draws that are new pairs, measured on each round
        for _ in range(20):  # each round tops up what de-duplication took away
            missing = wanted - len(users)
            if missing <= 0:
                break
            count = int(missing / max(kept, 0.05) * 1.08) + 16
            per_user = rng.multinomial(count, self.activity)
            u = np.repeat(np.arange(len(per_user)), per_user)  # user-major: each user's rows together
            t = np.floor((self.window_start[u] + rng.random(len(u)) * (self.window_end[u] - self.window_start[u])) * DAY).astype(np.int64)
            # a genre for each row by the user's taste: the user's rows are exchangeable, so counts per genre suffice
            genres = rng.multinomial(per_user, self.genre_taste)
            g = np.repeat(np.tile(np.arange(len(GENRES)), len(per_user)), genres.ravel())
            i, a = self._pick(rng, u, g, t / DAY)
            before = len(users)
            users, items = np.concatenate([users, u]), np.concatenate([items, i])
            seconds, affinities = np.concatenate([seconds, t]), np.concatenate([affinities, a])
            by_time = np.argsort(seconds, kind="stable")  # a person meets an item once: keep the earliest of each pair
            _, first = np.unique((users * self.log.items + items)[by_time], return_index=True)
            keep = by_time[first]
            kept = (len(keep) - before) / count
            if len(keep) > wanted:
                keep = np.delete(keep, rng.choice(len(keep), size=len(keep) - wanted, replace=False))
            users, items, seconds, affinities = users[keep], items[keep], seconds[keep], affinities[keep]
        if len(users) < wanted:
            raise ValueError(f"could only draw {len(users)} distinct user-item pairs of {wanted} — ask for more users or items")
        return users, items, seconds, affinities

    def _pick(self, rng: np.random.Generator, users: np.ndarray, genre: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each (user, genre, day): candidates of that genre by popularity x freshness among the items
        already out that week, and the one that suits the user best after Gumbel noise."""
        log = self.log
        week = (days // 7).astype(np.int64)
        picked = np.zeros(len(days), dtype=np.int64)
        affinity = np.zeros(len(days), dtype=np.float32)
        by_week = np.argsort(week, kind="stable")
        weeks, first = np.unique(week[by_week], return_index=True)
        for w, rows in zip(weeks.tolist(), np.split(by_week, first[1:]), strict=True):
            age = w * 7.0 - self.released  # only items out by the week's first day: no one meets an item before its release
            weight = np.where(age >= 0, self.popularity * (1 + log.novelty * np.exp(-np.maximum(age, 0) / log.freshness_days)), 0.0)
            cdf = np.cumsum(weight[self.by_genre])
            bounds = np.r_[0.0, cdf][self.genre_start]
            low, high = bounds[genre[rows]], bounds[genre[rows] + 1]
            empty = high <= low  # nothing of that genre out yet: any genre
            low, high = np.where(empty, 0.0, low), np.where(empty, cdf[-1], high)
            draws = low[:, None] + rng.random((len(rows), log.candidates)) * (high - low)[:, None]
            candidates = self.by_genre[np.minimum(np.searchsorted(cdf, draws, side="right"), len(cdf) - 1)]
            scores = np.einsum("ncf,nf->nc", self.item_vectors[candidates], self.user_vectors[users[rows]])
            best = np.argmax(log.affinity * scores + rng.gumbel(size=scores.shape), axis=1)
            picked[rows] = candidates[np.arange(len(rows)), best]
            affinity[rows] = scores[np.arange(len(rows)), best]
        return picked, affinity


def _item(item_id: str, genres: tuple[int, ...], released: float, bits: int) -> Item:
    """An item's text from its genres' words (``bits`` choose them), and its release year."""
    names = [GENRES[g] for g in genres]
    adjectives, nouns, plots = GENRE_WORDS[names[0]]
    _, other_nouns, other_plots = GENRE_WORDS[names[-1]]
    noun = bits >> 2 & 3
    title = f"{adjectives[bits & 3]} {nouns[noun]}"
    if bits >> 4 & 1:  # "The Cursed House of the Woods": never the same noun twice
        other = bits >> 6 & 3
        title = f"The {title} of the {other_nouns[other if other_nouns[other] != nouns[noun] else (other + 1) & 3]}"
    if bits >> 8 & 7 == 0:
        title += f" {('II', 'III', 'IV')[(bits >> 11) % 3]}"
    description = f"A story about {plots[(bits >> 13) % 3]}"
    if len(names) > 1:
        description += f", and {other_plots[(bits >> 15) % 3]}"
    when = LOG_START + released * DAY
    return Item(item_id, title, description + ".", tuple(names), datetime.fromtimestamp(when, UTC).year, {"released": when})
