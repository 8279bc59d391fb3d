"""Understanding requests: a person's words read into constraints (years, categories, titles, exclusions)."""
