"""Kind-agnostic and pure: names, conditions, the attempt machine, Jobs, scheduling."""
