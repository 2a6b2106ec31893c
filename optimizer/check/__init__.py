"""Checks: the independent verifier (every result, before anything is written) and the infeasibility diagnosis."""
