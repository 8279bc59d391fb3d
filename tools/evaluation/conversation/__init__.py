"""Simulated conversations: a template user, the turn-level metrics, and the benchmark that runs them."""
