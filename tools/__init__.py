"""What whyrec can do, as plain Python, in one room per job.

- ``recommend/``: serving — profiles, retrieval, scoring, reranking, diversity, evidence, ``Recommender``;
- ``understanding/``: reading a person's request (years, categories, titles);
- ``evaluation/``: splits, metrics, baselines, the quality report and simulated conversations;
- ``training/``: fine-tuning the cross-encoder.

At this level only the LangChain adapter (``langchain_tools``) and the answers it wraps
(``tool_answers``, ``tool_text``) live, so another agent framework can reuse everything below.
"""
