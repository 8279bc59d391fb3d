"""Which queue each kind of page event runs in, and how many run at once: one place for the page, its panels and the server.

Ranking and the language model are CPU-bound, so the server's default is one worker per core of the reference machine;
the chat has a group of its own because its turns mostly wait for the model (``ui.chat.SharedAgent`` keeps their order).
"""

CONCURRENCY = 2  # one worker per core on the reference machine: ranking and the LLM are CPU-bound
# Gradio's limit is per event listener; one shared concurrency_id makes it a limit for all ranking work
# (cards, Why?, feedback, the API endpoints) together. The chat has its own group: its turns mostly wait
# for the model, and SharedAgent keeps their order and says who waits.
PRIVATE = {"api_visibility": "private", "concurrency_id": "ranking"}
CHAT = {"api_visibility": "private", "concurrency_id": "chat", "concurrency_limit": 8}
INSTANT = {"api_visibility": "private", "queue": False}  # small UI-only steps that must show at once
