"""Usage and cost of every model call."""
