"""A tiny connector distribution that proves the entry-point door."""
