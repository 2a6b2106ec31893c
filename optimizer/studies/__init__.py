"""Studies built from many verified solves: Pareto fronts (transport vs land take) and scenario sweeps."""
