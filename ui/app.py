"""The whyrec web app: pick a user, chat, see the profile, get recommendation cards that explain themselves.

``build_app(recommender, chat_agent_factory)`` returns the ``gr.Blocks``;
``launch_app(settings, ...)`` opens the store and serves it (what ``whyrec demo`` /
``whyrec serve`` call). Every per-person value (the user, the conversation id, the
cards on screen, the open explanations) lives in ``gr.State``, so browser
sessions never share anything but the stores. The named API endpoints / MCP tools
are the functions of :class:`ui.api.RecommenderAPI`; every UI event is private.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

from whyrec.store.errors import InputError, SetupError, WhyrecError
from whyrec.ui.api import MAX_ITEMS, RecommenderAPI
from whyrec.ui.chat import AgentFactory, SharedAgent, default_agent_factory
from whyrec.ui.plots import category_colors, distribution_frame, evolution_frame

if TYPE_CHECKING:
    from whyrec.store.settings import Settings
    from whyrec.tools.recommender import Recommender

log = logging.getLogger(__name__)

CONCURRENCY = 2  # one worker per core on the reference machine: ranking and the LLM are CPU-bound
# Gradio's limit is per event listener; one shared concurrency_id makes it a limit for all ranking work
# (cards, Why?, feedback, the API endpoints) together. The chat has its own group.
PRIVATE = {"api_visibility": "private", "concurrency_id": "ranking"}
CHAT = {"api_visibility": "private", "concurrency_id": "chat"}
CARDS_PER_ROW = 3

CSS = """
.rec-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px !important; }
.rec-card .card-head h4 { margin: 0 0 2px 0; }
.rec-card .card-meta { color: var(--body-text-color-subdued); font-size: 0.9em; }
.rec-card .why-box { background: var(--background-fill-secondary); border-radius: 8px; padding: 6px 10px; font-size: 0.92em; }
.rec-card button { min-width: 0 !important; }
#profile-summary p { margin: 4px 0; }
"""

FEEDBACK_BUTTONS = (("👍", "liked", "I like this"), ("👎", "disliked", "Not for me"), ("Not interested", "not_interested", "Hide it"))


def ui_errors(fn: Callable) -> Callable:
    """Show a one-line message (gr.Error) instead of a traceback, for plain and generator handlers."""

    def translate(e: Exception) -> gr.Error:
        if isinstance(e, gr.Error):
            return e
        if isinstance(e, WhyrecError):
            return gr.Error(str(e), print_exception=False)
        log.exception("UI handler %s failed", fn.__name__)
        first = (str(e).splitlines() or [""])[0][:200]
        return gr.Error(f"Something went wrong ({type(e).__name__}: {first}) — the server log has the details", print_exception=False)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise translate(e) from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise translate(e) from None

    return plain


# --- text for the page ---------------------------------------------------------


def profile_markdown(profile: dict | None) -> str:
    if not profile:
        return "*Pick a user to see their interests.*"
    summary = profile.get("summary", {})
    lines = [
        f"**All history** ({profile.get('interactions', 0)} interactions) — {summary.get('long_term', '')}",
        f"**Recently** — {summary.get('short_term', '')}",
    ]
    if profile.get("interactions"):
        drift = f"**Drift** {profile.get('drift', 0):.2f} (0 = same as ever, 1 = all new)"
        if profile.get("rising"):
            drift += f" · rising: {', '.join(profile['rising'])}"
        if profile.get("fading"):
            drift += f" · fading: {', '.join(profile['fading'])}"
        lines.append(drift)
    return "\n\n".join(lines)


def card_markdown(rec: dict) -> str:
    year = f" ({rec['year']})" if rec.get("year") else ""
    categories = " · ".join(rec.get("categories") or []) or "no category"
    score = rec.get("scores", {}).get("final")
    head = f"#### {rec['rank']}. {html.escape(rec['title'])}{year}"
    meta = f"<span class='card-meta'>{html.escape(categories)} · score {score:.2f}</span>" if score is not None else ""
    because = rec.get("because") or []
    if because:
        meta += f"<br><span class='card-meta'>like '{html.escape(because[0]['title'])}'</span>"
    return f"{head}\n{meta}"


def explanation_markdown(explanation: dict) -> str:
    """The explanation text, then the evidence it restates, as a list."""
    lines = [f"**Why?** {explanation.get('text', '')}", ""]
    rank = f" (#{explanation['rank']})" if explanation.get("rank") else ""
    lines.append(f"- **Status:** {explanation.get('status', '?').replace('_', ' ')}{rank}")
    past = explanation.get("similar_past_items") or []
    if past:
        shown = []
        for p in past[:3]:
            rated = f", rated {p['rating']:g}" if p.get("rating") is not None else ""
            shown.append(f"'{p['title']}' ({p['similarity']:.2f}{rated})")
        lines.append(f"- **From your history:** {'; '.join(shown)}")
    interest = explanation.get("interest")
    if interest:
        lines.append(
            f"- **Interest served:** {interest['term']} · {interest['label']} "
            f"({interest['weight']:.0%} of profile, similarity {interest['similarity']:.2f})"
        )
    matched = explanation.get("matched_categories") or {}
    if matched:
        lines.append("- **Matching categories:** " + ", ".join(f"{c} {s:.0%}" for c, s in matched.items()))
    scores = explanation.get("scores") or {}
    if scores:
        lines.append("- **Scores:** " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))
    return "\n".join(lines)


def _year_filter(value: float | None, bound: int) -> int | None:
    """A year slider at the catalog's edge means 'no limit' (so items without a year still show)."""
    return None if value is None or int(value) == bound else int(value)


# --- the app ----------------------------------------------------------------------


def build_app(recommender: Recommender, chat_agent_factory: AgentFactory | None = None, *, title: str = "whyrec") -> gr.Blocks:
    """The Blocks app over one shared ``Recommender``; ``chat_agent_factory()`` builds the chat agent on first use."""
    api = RecommenderAPI(recommender)
    agent = SharedAgent(chat_agent_factory)
    categories = api.categories()
    year_lo, year_hi = api.year_range()
    colors = category_colors(categories)

    def recommend_for(user, k, diversity, cats, y0, y1, exclude_seen, request, like) -> list[dict]:
        return api.recommend(
            user,
            request=request or "",
            k=int(k),
            categories=cats or None,
            year_min=_year_filter(y0, year_lo),
            year_max=_year_filter(y1, year_hi),
            diversity=float(diversity),
            exclude_seen=bool(exclude_seen),
            like_item_id=(like or {}).get("item_id"),
        )

    def profile_outputs(user: str):
        profile = api.profile(user)
        return profile_markdown(profile), distribution_frame(profile), evolution_frame(profile)

    def like_banner(like: dict | None):
        if not like:
            return gr.update(value="", visible=False), gr.update(visible=False)
        return gr.update(value=f"Showing items like **{html.escape(like['title'])}**", visible=True), gr.update(visible=True)

    with gr.Blocks(title=title, analytics_enabled=False, fill_width=True) as demo:
        user = gr.State("")
        conversation = gr.State("")
        recs = gr.State([])
        explanations = gr.State({})
        like = gr.State(None)
        chat_tools = gr.State([])  # the tools the agent called in the last turn

        gr.Markdown(f"## {title} — recommendations that explain themselves")
        with gr.Row(equal_height=False):
            user_box = gr.Dropdown(
                label="User",
                info="Pick a user, or type an id and press Enter",
                choices=[],
                value=None,
                allow_custom_value=True,
                filterable=True,
                scale=1,
                elem_id="user-picker",
            )
            with gr.Accordion("New user? Rate a few items to start", open=False, elem_id="new-user"):
                with gr.Row():
                    new_user = gr.Textbox(label="New user id", placeholder="e.g. alice", scale=1)
                    search_text = gr.Textbox(label="Search the catalog", placeholder="a title or a topic, e.g. space adventure", scale=2)
                    search_button = gr.Button("Search", scale=0)
                found = gr.CheckboxGroup(label="Pick the items to rate", choices=[])
                with gr.Row():
                    rating = gr.Slider(1, 5, value=5, step=1, label="Rating for the picked items")
                    rate_button = gr.Button("Add ratings and use this user", variant="primary")

        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=400,
                    placeholder="Pick a user, then ask for something — e.g. *a feel-good comedy from the 90s* or *why this one?*",
                    elem_id="chat",
                )
                with gr.Row():
                    chat_input = gr.Textbox(show_label=False, placeholder="Ask for recommendations, or why…", scale=5, elem_id="chat-input")
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80)
            with gr.Column(scale=4):
                gr.Markdown("### Profile")
                summary = gr.Markdown(profile_markdown(None), elem_id="profile-summary")
                distribution_plot = gr.BarPlot(
                    value=distribution_frame({}),
                    x="term",
                    y="share",
                    color="category",
                    color_map=colors,
                    title="Interest distribution: all history vs recent",
                    y_title="share",
                    x_title="",
                    y_axis_format=".0%",
                    tooltip="all",
                    height=230,
                    show_label=False,
                    elem_id="distribution-plot",
                )
                evolution_plot = gr.LinePlot(
                    value=evolution_frame({}),
                    x="slice",
                    y="share",
                    color="category",
                    color_map=colors,
                    title="Interest evolution (history slices, oldest → newest)",
                    x_title="history slice",
                    y_title="share",
                    y_axis_format=".0%",
                    tooltip=["period", "category", "share"],
                    height=230,
                    show_label=False,
                    elem_id="evolution-plot",
                )

        gr.Markdown("### Recommendations")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                request = gr.Textbox(label="In the mood for…", placeholder="optional, e.g. heist thriller")
                k = gr.Slider(1, MAX_ITEMS, value=6, step=1, label="Number of items")
                diversity = gr.Slider(0, 1, value=float(recommender.settings.diversity), step=0.05, label="Diversity", info="0 = most relevant, 1 = most varied")
                category_box = gr.Dropdown(categories, value=[], multiselect=True, label="Categories", elem_id="category-filter")
                year_min = gr.Slider(year_lo, year_hi, value=year_lo, step=1, label="From year")
                year_max = gr.Slider(year_lo, year_hi, value=year_hi, step=1, label="To year")
                exclude_seen = gr.Checkbox(value=True, label="Exclude what I've seen")
                refresh = gr.Button("Recommend", variant="primary", elem_id="recommend-button")
            with gr.Column(scale=4):
                with gr.Row():
                    like_text = gr.Markdown(visible=False)
                    clear_like = gr.Button("Back to my recommendations", visible=False, size="sm", scale=0)
                status = gr.Markdown("", elem_id="rec-status")

                @gr.render(inputs=[recs, explanations], triggers=[recs.change, explanations.change, demo.load])
                def render_cards(recs_value: list[dict], open_explanations: dict):
                    if not recs_value:
                        gr.Markdown("*No recommendations yet — pick a user (or loosen the filters).*")
                        return
                    for start in range(0, len(recs_value), CARDS_PER_ROW):
                        with gr.Row(equal_height=False):
                            for rec in recs_value[start : start + CARDS_PER_ROW]:
                                render_card(rec, open_explanations.get(rec["item_id"]))
                            for _ in range(CARDS_PER_ROW - len(recs_value[start : start + CARDS_PER_ROW])):
                                gr.Column(min_width=220)  # keep card widths equal in the last row

        controls = [k, diversity, category_box, year_min, year_max, exclude_seen, request]
        profile_views = [summary, distribution_plot, evolution_plot]

        def render_card(rec: dict, explanation: dict | None) -> None:
            item_id = rec["item_id"]
            with gr.Column(min_width=220, elem_classes=["rec-card"]):
                gr.Markdown(card_markdown(rec), elem_classes=["card-head"])
                with gr.Row():
                    why = gr.Button("Hide why" if explanation else "Why?", size="sm", variant="secondary", elem_classes=["why-button"])
                    more = gr.Button("More like this", size="sm", elem_classes=["more-button"])
                with gr.Row():
                    feedback_buttons = [(gr.Button(label, size="sm", elem_classes=[f"fb-{kind}"]), kind) for label, kind, _ in FEEDBACK_BUTTONS]
                if explanation:
                    gr.Markdown(explanation_markdown(explanation), elem_classes=["why-box"])

            why.click(ui_errors(functools.partial(toggle_why, item_id)), [user, explanations, *controls], [explanations], **PRIVATE)
            more.click(ui_errors(functools.partial(more_like, item_id)), [user, *controls], [recs, explanations, like, like_text, clear_like, status], **PRIVATE)
            for button, kind in feedback_buttons:
                button.click(
                    ui_errors(functools.partial(give_feedback, item_id, kind)),
                    [user, like, *controls],
                    [recs, explanations, status, *profile_views],
                    **PRIVATE,
                )

        # --- handlers (plain functions of their inputs: no shared mutable state) ---

        def need_user(value: str) -> str:
            if not value:
                raise InputError("no user selected — pick a user at the top, or create a new one")
            return value

        def status_line(user_value: str, items: list[dict]) -> str:
            return f"{len(items)} items for user **{html.escape(user_value)}**" if items else "No items match — loosen the filters."

        @ui_errors
        def select_user(value, *control_values):
            value = str(value or "").strip()
            if not value:
                return "", "", [], [], {}, None, *like_banner(None), "", *profile_outputs_empty()
            items = recommend_for(value, *control_values, None)
            return value, uuid.uuid4().hex[:12], [], items, {}, None, *like_banner(None), status_line(value, items), *profile_outputs(value)

        def profile_outputs_empty():
            return profile_markdown(None), distribution_frame({}), evolution_frame({})

        @ui_errors
        def refresh_cards(user_value, like_value, *control_values):
            if not user_value:
                return gr.skip(), gr.skip(), gr.skip()
            items = recommend_for(user_value, *control_values, like_value)
            return items, {}, status_line(user_value, items)

        def toggle_why(item_id, user_value, open_explanations, k_value, diversity_value, cats, y0, y1, exclude, request_value):
            user_value = need_user(user_value)
            shown = dict(open_explanations or {})
            if item_id in shown:
                shown.pop(item_id)
            else:
                shown[item_id] = api.explain(
                    user_value,
                    item_id,
                    request=request_value or "",
                    k=int(k_value),
                    categories=cats or None,
                    year_min=_year_filter(y0, year_lo),
                    year_max=_year_filter(y1, year_hi),
                    diversity=float(diversity_value),
                    exclude_seen=bool(exclude),
                )
            return shown

        def more_like(item_id, user_value, *control_values):
            user_value = need_user(user_value)
            liked = {"item_id": item_id, "title": recommender.item(item_id).title}
            items = recommend_for(user_value, *control_values, liked)
            return items, {}, liked, *like_banner(liked), status_line(user_value, items)

        def give_feedback(item_id, kind, user_value, like_value, *control_values):
            user_value = need_user(user_value)
            result = api.feedback(user_value, item_id, kind)
            gr.Info(f"Recorded: {kind.replace('_', ' ')} — '{result['recorded']['title']}'")
            items = recommend_for(user_value, *control_values, like_value)
            profile = result["profile"]
            return items, {}, status_line(user_value, items), profile_markdown(profile), distribution_frame(profile), evolution_frame(profile)

        @ui_errors
        def clear_more_like(user_value, *control_values):
            items = recommend_for(need_user(user_value), *control_values, None) if user_value else []
            return items, {}, None, *like_banner(None)

        @ui_errors
        def load_users(current):
            return gr.update(choices=api.users(), value=current or None)

        @ui_errors
        def search_catalog(text):
            hits = api.search(text, k=12)
            return gr.update(choices=[(f"{h['title']} ({h['year']})" if h.get("year") else h["title"], h["item_id"]) for h in hits], value=[])

        @ui_errors
        def add_ratings(new_id, picked, stars):
            new_id = str(new_id or "").strip()
            n = api.rate(new_id, {item_id: float(stars) for item_id in picked or []})
            gr.Info(f"Added {n} rating{'s' if n != 1 else ''} for user {new_id}")
            return gr.update(choices=api.users(), value=new_id), gr.update(value=[])

        @ui_errors
        def chat(message, history, user_value, conversation_id):
            message = (message or "").strip()
            if not message:
                return
            user_value = need_user(user_value)
            conversation_id = conversation_id or uuid.uuid4().hex[:12]
            history = list(history or []) + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
            yield "", history, conversation_id, []
            stream = agent.stream(user_value, conversation_id, message)
            for chunk in stream:
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + str(chunk)}
                yield "", history, conversation_id, []
            reply = getattr(stream, "reply", None)
            yield gr.skip(), gr.skip(), gr.skip(), list(getattr(reply, "tools_called", None) or [])

        @ui_errors
        def after_chat(user_value, tools_called, like_value, *control_values):
            """The agent may have recorded feedback: refresh the profile, and the cards when it did."""
            if not user_value:
                return (gr.skip(),) * 6
            profile = profile_outputs(user_value)
            if "record_feedback" not in (tools_called or []):
                return gr.skip(), gr.skip(), gr.skip(), *profile
            items = recommend_for(user_value, *control_values, like_value)
            return items, {}, status_line(user_value, items), *profile

        # --- wiring -------------------------------------------------------------------
        user_outputs = [user, conversation, chatbot, recs, explanations, like, like_text, clear_like, status, *profile_views]
        demo.load(load_users, [user], [user_box], **PRIVATE)
        user_box.change(select_user, [user_box, *controls], user_outputs, **PRIVATE)
        for trigger in (refresh.click, request.submit, category_box.change, exclude_seen.change, k.release, diversity.release, year_min.release, year_max.release):
            trigger(refresh_cards, [user, like, *controls], [recs, explanations, status], **PRIVATE)
        clear_like.click(clear_more_like, [user, *controls], [recs, explanations, like, like_text, clear_like], **PRIVATE)
        search_button.click(search_catalog, [search_text], [found], **PRIVATE)
        search_text.submit(search_catalog, [search_text], [found], **PRIVATE)
        rate_button.click(add_ratings, [new_user, found, rating], [user_box, found], **PRIVATE)
        for trigger in (chat_input.submit, send.click):
            trigger(chat, [chat_input, chatbot, user, conversation], [chat_input, chatbot, conversation, chat_tools], **CHAT).then(
                after_chat, [user, chat_tools, like, *controls], [recs, explanations, status, *profile_views], **PRIVATE
            )

        for name, fn in api.endpoints().items():
            gr.api(fn, api_name=name, concurrency_id="ranking")

    return demo


def parse_auth(auth: str | tuple[str, str] | list[tuple[str, str]] | None):
    """``"user:pass"`` (the CLI's ``--auth``) or a (user, pass) pair or a list of pairs, for ``launch(auth=...)``."""
    if auth is None or isinstance(auth, (tuple, list)):
        return auth
    name, sep, password = str(auth).partition(":")
    if not sep or not name or not password:
        raise InputError(f"--auth {auth!r} — write it as user:password")
    return (name, password)


def launch_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth: str | tuple[str, str] | None = None,
    mcp: bool = False,
    open_browser: bool = False,
    block: bool = True,
    chat_agent_factory: AgentFactory | None = None,
    fallback_chat: bool = False,
    train_if_needed: bool = False,
    openai: bool = False,
    api_keys: list[str] | tuple[str, ...] | None = None,
):
    """Open the store in ``settings`` and serve the app; blocks until stopped unless ``block=False``.

    Returns ``(demo, local_url)``. ``mcp=True`` also serves the endpoints as MCP tools at
    ``<url>/gradio_api/mcp/``. The chat uses ``agent.chat.ChatAgent`` (the local model starts on the
    first message) unless ``chat_agent_factory`` is given; ``fallback_chat=True`` answers from
    templates only, never starting a model. ``train_if_needed=True`` trains the reranker in a
    background thread when none is saved yet (the recommender picks it up once saved; until then
    rankings leave it out, and serving is slower while it trains). Raises ``InputError`` for an empty store, bad ``auth`` or a missing ``mcp`` package.

    ``openai=True`` also serves ``/v1/chat/completions`` and ``/v1/models`` on the same port, over the
    same chat agent as the app (:mod:`ui.openai_endpoint`). ``api_keys`` (``KEY`` or ``KEY:USER``, added
    to ``settings.api_keys``) are required as bearer keys by those routes, the API endpoints and MCP;
    without any key, serving beyond 127.0.0.1 raises ``InputError`` (:mod:`ui.api_keys`).
    """
    from whyrec.agent.chat_model import profile_summarizer
    from whyrec.store.catalog import Store
    from whyrec.tools.recommender import Recommender
    from whyrec.ui.api_keys import ApiKeys, require_keys_off_localhost

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    credentials = parse_auth(auth)
    keys = ApiKeys.parse([*settings.api_keys, *(api_keys or [])])
    require_keys_off_localhost(host, keys, share)
    if api_keys:  # the API endpoints read the keys from the recommender's settings
        settings = settings.model_copy(update={"api_keys": [*settings.api_keys, *api_keys]})
    if mcp:
        try:
            import mcp as _mcp  # noqa: F401
        except ImportError:
            raise SetupError("--mcp needs the mcp package — pip install mcp==1.30.0 (gradio's [mcp] extra)") from None
    store = Store.open(settings)
    if store.db.stats().items == 0:
        raise InputError(f"{settings.data_dir}: the catalog is empty — run `whyrec ingest` first")
    recommender = Recommender(store, summarizer=profile_summarizer(settings))
    if train_if_needed:
        train_reranker_in_background(store)
    factory = chat_agent_factory or default_agent_factory(recommender, settings, fallback_only=fallback_chat)
    if openai:  # the app and /v1 share one agent (one local model, one chat memory)
        make_agent, lock = functools.cache(factory), threading.Lock()

        def one_agent():
            with lock:
                return make_agent()

        factory = one_agent

    demo = build_app(recommender, factory)
    local_url = serve(demo, host=host, port=port, share=share, auth=credentials, mcp=mcp, open_browser=open_browser, block=False)
    if openai:
        from whyrec.ui.openai_endpoint import OpenAIEndpoint

        OpenAIEndpoint(SharedAgent(factory), keys).mount(demo.server_app)
        log.warning("OpenAI-compatible endpoint at %sv1 (model 'whyrec')", local_url)
    if block:
        demo.block_thread()
    return demo, local_url


def train_reranker_in_background(store) -> threading.Thread | None:
    """Start training the reranker in a daemon thread unless a trained one is saved; None when none was needed."""
    from whyrec.tools.reranker import is_trained

    if is_trained(store.settings.trained_reranker_path):
        return None

    def train() -> None:
        from whyrec.tools.reranker_training import train_reranker

        try:
            log.warning("no trained reranker yet: training one in the background (rankings use it once saved)")
            report = train_reranker(store, progress=False)
            log.warning("reranker trained in %.0f s and saved to %s", report.total_seconds, store.settings.trained_reranker_path)
        except Exception:
            log.exception("background reranker training failed; rankings go on without a reranker")

    thread = threading.Thread(target=train, name="whyrec-train-reranker", daemon=True)
    thread.start()
    return thread


def serve(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    auth=None,
    mcp: bool = False,
    open_browser: bool = False,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Queue (sized for a small CPU machine) and launch a built app with the page style; returns the local URL."""
    demo.queue(default_concurrency_limit=CONCURRENCY)
    _, local_url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=parse_auth(auth),
        mcp_server=mcp,
        inbrowser=open_browser,
        prevent_thread_lock=not block,
        css=CSS,
        theme=gr.themes.Soft(),
        footer_links=["api"],
        quiet=quiet,
    )
    return local_url
