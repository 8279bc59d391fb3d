"""A simulated user who wants one hidden item, and talks to a recommender to find it.

Why: history-only accuracy never sees what a person meets in a conversation (asking for
"something scary from the 80s", refining, saying no, asking why). This user plays such a
conversation against any system under test, and the metrics in
:mod:`tools.evaluation.conversation.metrics` score what the system showed.

The protocol (the numbers in ``benchmarks/conversation.json`` come from exactly this):

* **Session**: an evaluated user of the leave-one-out split (:func:`tools.evaluation.splits.leave_one_out`)
  and their held-out test item, the **target**. The system sees the user's history up to the
  target (the simulation store holds no target), never the target itself.
* **Never naming the target**: the target's title (normalised: case, punctuation, leading
  article, year) never appears in anything the user says. Every line is checked by
  :func:`names_item` and rephrased or dropped when it would leak (the leakage SimpleUserSim,
  arXiv 2403.16416, found in LLM simulators).
* **Facets** that describe the target, in everyday words: its genres ("funny", "scary",
  "a love story", "something for the kids"), its era (the decade, or a year range around its
  year), and "something like <the liked history item most similar to the target>". The
  opening request states a random non-empty subset of facets (one facet 50%, two 35%,
  three 15%), so requests vary in specificity.
* **Follow-ups** while the target is not among the items shown: refine with a facet not yet
  stated (60% when one is left), otherwise reject the best shown item, as text ("Not <title>.")
  or as feedback ("I didn't like <title>."), half each. Rejected items join the exclusions.
* **Why turns**: after a turn that showed items, with probability ``why_rate`` the user asks
  "Why did you recommend <a shown item>?" or "Why not <item>?" about an item whose true status
  we know from the store: one they already interacted with, one they rejected, or one outside
  what they asked for. Why turns come on top of the turn budget (at most ``max_why`` a session).
* **Hard constraints** so far: every stated genre, the stated year range, and no rejected item.
* **Determinism**: every choice comes from ``random.Random`` seeded with (seed, user); the
  optional paraphraser (an LLM, ``WHYREC_LLM_BASE_URL``) rewords lines, and a reworded line
  that names the target is replaced by the template line.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from whyrec.store.records import Interaction, Item
from whyrec.tools.understanding.titles import normalise_title
from whyrec.tools.understanding.titles import display_title

log = logging.getLogger(__name__)

# Everyday words for each MovieLens genre: several ways a person asks for it.
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Action": ("an action movie", "something action-packed"),
    "Adventure": ("an adventure", "a big adventure story"),
    "Animation": ("an animated film", "a cartoon"),
    "Children's": ("something for the kids", "a family film the kids can watch"),
    "Comedy": ("something funny", "a comedy that makes me laugh"),
    "Crime": ("a crime story", "something about gangsters or heists"),
    "Documentary": ("a documentary", "a real-life documentary"),
    "Drama": ("a good drama", "something serious and moving"),
    "Fantasy": ("a fantasy film", "something magical"),
    "Film-Noir": ("a film noir", "a dark noir detective story"),
    "Horror": ("something scary", "a horror movie"),
    "Musical": ("a musical", "something with songs and dancing"),
    "Mystery": ("a mystery", "a whodunit"),
    "Romance": ("a love story", "something romantic"),
    "Sci-Fi": ("a sci-fi movie", "some science fiction"),
    "Thriller": ("a thriller", "something suspenseful"),
    "War": ("a war movie", "something set in a war"),
    "Western": ("a western", "a cowboy movie"),
}

OPENERS = ("Recommend me {}.", "I'm in the mood for {}.", "Can you suggest {}?", "Show me {}.", "I want to watch {}.")
REFINERS = ("Make it {}.", "Something {} please.", "Only {}.", "I'd prefer {}.")


# --- what the user wants -----------------------------------------------------------------------

@dataclass(frozen=True)
class Constraints:
    """The hard constraints stated so far: shown items must meet all of them."""

    genres: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    excluded: frozenset[str] = frozenset()

    @property
    def any(self) -> bool:
        return bool(self.genres or self.year_min is not None or self.year_max is not None or self.excluded)

    def met_by(self, item: Item) -> bool:
        """Every stated genre, inside the year range, and not rejected."""
        return self.genres <= set(item.categories) and self._years_and_exclusions(item)

    def softly_met_by(self, item: Item) -> bool:
        """At least one stated genre (when any was stated); years and exclusions still hard."""
        genres_ok = not self.genres or bool(self.genres & set(item.categories))
        return genres_ok and self._years_and_exclusions(item)

    def _years_and_exclusions(self, item: Item) -> bool:
        if item.item_id in self.excluded:
            return False
        if self.year_min is not None or self.year_max is not None:
            if item.year is None:
                return False
            if self.year_min is not None and item.year < self.year_min:
                return False
            if self.year_max is not None and item.year > self.year_max:
                return False
        return True


@dataclass(frozen=True)
class Facet:
    """One way to describe the target: the words a user says and the constraint they state."""

    kind: str  # "genre" | "era" | "like"
    phrase: str  # a noun phrase for an opening ("something scary") or a modifier for the era ("from the 80s")
    genre: str | None = None
    years: tuple[int, int] | None = None
    like_item: str | None = None

    def add_to(self, constraints: Constraints) -> Constraints:
        if self.genre:
            return replace(constraints, genres=constraints.genres | {self.genre})
        if self.years:
            return replace(constraints, year_min=self.years[0], year_max=self.years[1])
        return constraints


@dataclass(frozen=True)
class UserTurn:
    """One thing the simulated user says, and what it means (for scoring, never shown to the system
    except through ``text``; the API system also reads ``feedback``, as a UI's thumbs-down button would)."""

    kind: str  # "request" | "refine" | "reject" | "why" | "why_not"
    text: str
    constraints: Constraints
    item_id: str | None = None  # the rejected item, or the item asked about
    feedback: str | None = None  # "disliked" when a rejection is given as feedback
    expected_tool: str = "recommend"  # the tool a correct system calls for this turn

    @property
    def asks_for_items(self) -> bool:
        return self.kind in ("request", "refine", "reject")


@dataclass
class Session:
    """One simulated conversation's fixed inputs."""

    user_id: str
    target: Item
    history: list[Interaction]  # what the system knows about the user (the target is not in it)
    seed: int
    asked_at: float | None = None  # the moment the conversation replays (Unix seconds); None: the present


# --- naming --------------------------------------------------------------------------------------


def normalised(text: str) -> str:
    """The product's own title normalisation (case, year, punctuation, trailing article), applied to any text."""
    return normalise_title(text)


def _without_article(title: str) -> str:
    return re.sub(r"^(the|a|an) ", "", title)


def names_item(text: str, item: Item) -> bool:
    """Whether ``text`` names ``item``: its title (with or without a leading article) as whole words."""
    haystack = f" {normalised(text)} "
    title = normalised(item.title)
    forms = {title, _without_article(title)} - {""}
    return any(f" {form} " in haystack for form in forms)


# --- the simulated user -------------------------------------------------------------------------

def spoken_line(answer: str) -> str:
    """What a paraphrasing model's answer has the person say: its last line, unquoted. A small model often answers
    'Sure! Here's the line as a person would say it:\n"…"', and the preamble is nobody's request."""
    lines = [line.strip().strip("\"“”'").strip() for line in answer.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class SimulatedUser:
    """Plays one session: an opening request, follow-ups that react to what was shown, why turns.

    ``items`` is the catalog; ``vectors`` maps item id to its (unit) embedding, used only to pick
    the liked history item most similar to the target. ``paraphrase`` (optional) rewords a line.
    ``stop_when_found=False`` keeps talking after the target was shown (tests use it to reach every kind of turn).
    """

    def __init__(
        self,
        items: Mapping[str, Item],
        vectors: Mapping[str, np.ndarray],
        *,
        why_rate: float = 0.3,
        max_why: int = 2,
        k: int = 10,
        paraphrase: Callable[[str], str] | None = None,
        stop_when_found: bool = True,
    ) -> None:
        self.stop_when_found = stop_when_found  # False: a user who plays every turn (to exercise all turn kinds)
        self.items = items
        self.vectors = vectors
        self.why_rate = why_rate
        self.max_why = max_why
        self.k = k
        self.paraphrase = paraphrase

    # facets ---------------------------------------------------------------------------------

    def facets(self, session: Session, rng: random.Random) -> list[Facet]:
        """Every facet that describes the target without naming it, in a random order."""
        target = session.target
        found: list[Facet] = []
        for genre in target.categories:
            if genre in GENRE_WORDS:
                found.append(Facet("genre", rng.choice(GENRE_WORDS[genre]), genre=genre))
        if target.year:
            if rng.random() < 0.6:
                lo = target.year // 10 * 10
                name = f"the {lo % 100:02d}s" if lo >= 1930 else f"the {lo}s"
                found.append(Facet("era", f"from {name}", years=(lo, lo + 9)))
            else:
                lo, hi = target.year - rng.randint(0, 4), target.year + rng.randint(0, 4)
                found.append(Facet("era", f"made between {lo} and {hi}", years=(lo, hi)))
        if (like := self.most_similar_liked(session)) is not None:
            found.append(Facet("like", f"something like {display_title(like.title)}", like_item=like.item_id))
        found = [f for f in found if not names_item(f.phrase, target)]
        rng.shuffle(found)
        return found

    def most_similar_liked(self, session: Session) -> Item | None:
        """The liked history item closest to the target in embedding space (never one that names it)."""
        target = session.target
        if target.item_id not in self.vectors:
            return None
        liked = [
            self.items[x.item_id] for x in session.history
            if x.liked and x.item_id in self.vectors and x.item_id in self.items
            and x.item_id != target.item_id
        ]
        liked = [i for i in liked if not names_item(i.title, target) and not names_item(target.title, i)]
        if not liked:
            return None
        t = self.vectors[target.item_id]
        return max(liked, key=lambda i: (float(np.dot(self.vectors[i.item_id], t)), i.item_id))

    # wording --------------------------------------------------------------------------------

    def _say(self, text: str, session: Session) -> str:
        """The line as said: paraphrased when a paraphraser is set, unless that would name the target."""
        if names_item(text, session.target):  # the templates never should; a guard, not a path
            raise AssertionError(f"a template line names the target: {text!r}")
        if self.paraphrase is None:
            return text
        try:
            reworded = spoken_line(self.paraphrase(text))
        except Exception as err:  # noqa: BLE001 — the paraphrase is for robustness only: the template line stands
            log.warning("paraphrase failed, keeping the template line: %s", err)
            return text
        if not reworded or names_item(reworded, session.target):
            return text
        return reworded

    @staticmethod
    def _opening(facets: Sequence[Facet], rng: random.Random) -> str:
        nouns = [f.phrase for f in facets if f.kind in ("genre", "like")]
        era = next((f.phrase for f in facets if f.kind == "era"), None)
        if not nouns:
            nouns = ["a movie"]
        body = nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " and " + nouns[-1]
        if len(nouns) > 1 and not any(n.startswith("something like") for n in nouns) and rng.random() < 0.5:
            body = nouns[0] + " that is also " + " and ".join(nouns[1:])
        if era:
            body += f" {era}"
        return rng.choice(OPENERS).format(body)

    @staticmethod
    def _refinement(facet: Facet, rng: random.Random) -> str:
        if facet.kind == "era":
            return rng.choice(REFINERS).format(facet.phrase)
        if facet.kind == "like":
            return f"More {facet.phrase.replace('something ', '')}, please."
        return rng.choice(("I'd rather have {}.", "It should also be {}.", "Can it be {} too?")).format(facet.phrase)

    # the conversation ------------------------------------------------------------------------

    def open(self, session: Session) -> tuple[UserTurn, SessionState]:
        """The first line of a session and the state the follow-ups read."""
        rng = random.Random(f"{session.seed}:{session.user_id}:{session.target.item_id}")
        facets = self.facets(session, rng)
        size = 1 if not facets else min(len(facets), rng.choices((1, 2, 3), weights=(50, 35, 15))[0])
        stated, left = facets[:size], facets[size:]
        constraints = Constraints()
        for f in stated:
            constraints = f.add_to(constraints)
        state = SessionState(rng=rng, left=list(left), constraints=constraints)
        text = self._say(self._opening(stated, rng), session)
        return UserTurn("request", text, constraints), state

    def next_turn(self, session: Session, state: SessionState, shown: Sequence[str]) -> UserTurn | None:
        """What the user says after seeing ``shown`` (item ids, best first); None when satisfied."""
        rng = state.rng
        top = list(shown)[: self.k]
        if shown:
            state.last_shown = list(shown)
        if self.stop_when_found and session.target.item_id in top:
            return None
        if state.pending_why is None and state.whys < self.max_why and state.last_shown and rng.random() < self.why_rate:
            state.pending_why = self._why(session, state)
            if state.pending_why is not None:
                state.whys += 1
                return state.pending_why
        state.pending_why = None
        if state.left and (rng.random() < 0.6 or not state.last_shown):
            facet = state.left.pop(0)
            state.constraints = facet.add_to(state.constraints)
            return UserTurn("refine", self._say(self._refinement(facet, rng), session), state.constraints)
        candidates = [  # never the target, nor another copy of it under its title (MovieLens lists some films twice)
            i for i in state.last_shown
            if i != session.target.item_id and i not in state.constraints.excluded and i in self.items and not names_item(display_title(self.items[i].title), session.target)
        ]
        if not candidates:
            return UserTurn("refine", self._say("Show me something else.", session), state.constraints)
        rejected = self.items[candidates[0]]
        state.constraints = replace(state.constraints, excluded=state.constraints.excluded | {rejected.item_id})
        if rng.random() < 0.5:
            text = rng.choice(("Not {}. Something else?", "No, not {}.", "Anything but {}?")).format(display_title(rejected.title))
            return UserTurn("reject", self._say(text, session), state.constraints, rejected.item_id)
        text = rng.choice(("I didn't like {}.", "I did not enjoy {}, show me others.", "I don't like {}.")).format(display_title(rejected.title))
        state.disliked.add(rejected.item_id)
        return UserTurn("reject", self._say(text, session), state.constraints, rejected.item_id, feedback="disliked", expected_tool="record_feedback")

    def _why(self, session: Session, state: SessionState) -> UserTurn | None:
        rng = state.rng
        options: list[tuple[str, Item]] = []
        shown = [self.items[i] for i in state.last_shown[: self.k] if i in self.items and i != session.target.item_id]
        if shown:
            options.append(("why", rng.choice(shown)))
        history = [self.items[x.item_id] for x in session.history if x.item_id in self.items]
        if history:
            options.append(("why_not", rng.choice(history)))
        rejected = [self.items[i] for i in sorted(state.constraints.excluded) if i in self.items]
        if rejected:
            options.append(("why_not", rng.choice(rejected)))
        if state.constraints.genres or state.constraints.year_min is not None:
            seen = {x.item_id for x in session.history}
            outside = [
                i for i in self.items.values()
                if i.item_id not in seen and i.item_id != session.target.item_id and not state.constraints.met_by(i) and i.item_id not in state.constraints.excluded
            ]
            if outside:
                options.append(("why_not", outside[rng.randrange(len(outside))]))
        options = [(kind, item) for kind, item in options if not names_item(item.title, session.target) and not names_item(session.target.title, item)]
        if not options:
            return None
        kind, item = rng.choice(options)
        if kind == "why":
            text = rng.choice(("Why did you recommend {}?", "Why {}?", "Why would I like {}?")).format(display_title(item.title))
        else:
            text = rng.choice(("Why not {}?", "Why didn't you recommend {}?")).format(display_title(item.title))
        return UserTurn(kind, self._say(text, session), state.constraints, item.item_id, expected_tool="explain_recommendation")


@dataclass
class SessionState:
    """What the simulated user remembers during a session."""

    rng: random.Random
    left: list[Facet]
    constraints: Constraints
    last_shown: list[str] = field(default_factory=list)
    disliked: set[str] = field(default_factory=set)
    whys: int = 0
    pending_why: UserTurn | None = None
