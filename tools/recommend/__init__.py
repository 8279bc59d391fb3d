"""Serving: a person's history and request in, a ranked and explained list out.

Profile, retrieve, score, rerank, diversify and gather evidence; ``Recommender`` ties them together.
"""
