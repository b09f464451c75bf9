"""The web dashboard (`infscale serve`): sweeps, progress, decisions, 3-D feasible spaces and
budget sliders, read-only over the database (see `infscale.dashboard.app`)."""
