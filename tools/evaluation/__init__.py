"""Evaluation: held-out splits, ranking metrics, classical baselines and the quality report.

``conversation/`` replays simulated people against the recommender; nothing here serves a request.
"""
