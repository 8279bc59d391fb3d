"""whyrec: a conversational recommender that explains why it recommends each item.

The stable surface is what this module exports; everything else is internal and may move.

    from whyrec import Recommender, Settings, Store

    rec = Recommender.from_settings(Settings())
    rec.recommend("42", request="a funny 90s movie", k=5)

The source folders live at the repository's top level (``store/``, ``tools/``, ``agent/``, ``ui/``)
and install as ``whyrec.store``, ``whyrec.tools``, ``whyrec.agent`` and ``whyrec.ui``. The
LangChain and chat parts are imported on first use, so a core install (no ``[agent]`` extra) can
still ``from whyrec import Recommender``.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from whyrec.store.catalog import Store
from whyrec.store.settings import Settings
from whyrec.tools.recommend.options import RecommendOptions
from whyrec.tools.recommend.recommender import Recommender

if TYPE_CHECKING:
    from whyrec.agent.chat import ChatAgent
    from whyrec.tools.langchain_tools import WhyrecContext, WhyrecToolkit, get_tools

try:
    __version__ = version("whyrec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

# name -> module that defines it; these need the [agent] extra (LangChain), so they load lazily
_LAZY = {
    "WhyrecToolkit": "whyrec.tools.langchain_tools",
    "WhyrecContext": "whyrec.tools.langchain_tools",
    "get_tools": "whyrec.tools.langchain_tools",
    "ChatAgent": "whyrec.agent.chat",
}

__all__ = ["ChatAgent", "RecommendOptions", "Recommender", "Settings", "Store", "WhyrecContext", "WhyrecToolkit", "__version__", "get_tools"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'whyrec' has no attribute {name!r}")
    try:
        module = import_module(_LAZY[name])
    except ImportError as err:
        raise ImportError(f"whyrec.{name} needs the agent extra: pip install 'whyrec[agent]' ({err})") from err
    return getattr(module, name)
